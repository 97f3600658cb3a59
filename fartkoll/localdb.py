"""The embedded TimescaleDB: a Debian root with PostgreSQL 17 + TimescaleDB, run with chroot.

Debian 12 has no TimescaleDB package and Debian 13's needs a newer glibc, so ``db up`` builds a
minimal Debian 13 root with debootstrap (once; it is cached outside the checkout) and starts the
server from it on loopback. Everything here needs root on a Debian-like system; elsewhere the
error says to set DATABASE_URL or use docker-compose.yml.

Connections need a password (scram-sha-256) over TCP, or come through the Unix socket in the
root's ``/tmp`` from its owner (root or the root's postgres user, by peer authentication). The
password is made at the first ``db up`` and kept beside the root in a file only its owner can
read (``password_file``); a cluster made before that (``trust``) is converted by ``db up``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from core.errors import Unavailable

from .settings import LocalDbSettings

PG_BIN = "/usr/lib/postgresql/17/bin"
DATA = "/data/pg"
LOG = "/data/pg.log"
PACKAGES = "postgresql-17,postgresql-17-timescaledb"
SOCKET_DIR = "/tmp"  # noqa: S108 - /tmp inside the chroot (-k), owned by the server
# Who may connect how: the owner through the socket (peer, mapped to the postgres role), anyone
# else over loopback with the password. Written by ``db up``; no ``trust`` line.
HBA = """\
# Written by `fartkoll db up`; rewritten when it differs.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  peer map=owner
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
"""
IDENT = """\
# Written by `fartkoll db up`: the OS users that own the cluster may act as its postgres role.
# MAP    SYSTEM-USER  PG-USER
owner    root         postgres
owner    postgres     postgres
"""


class LocalDbError(Unavailable):
    """The local database cannot be provisioned or started; the message says what to do."""

    exit_code = 2  # the fix is in the configuration (DATABASE_URL, `fartkoll db up`), as for settings


@dataclass(frozen=True)
class Status:
    root_ready: bool
    initialised: bool
    running: bool
    port: int
    password_file: Path | None = None

    def describe(self) -> str:
        if not self.root_ready:
            return "local TimescaleDB: not installed (run `fartkoll db up`)"
        if not self.running:
            return f"local TimescaleDB: installed, stopped (port {self.port}; run `fartkoll db up`)"
        if self.password_file is None:
            return (f"local TimescaleDB: running on 127.0.0.1:{self.port}, without a password "
                    "(run `fartkoll db up` as its owner to set one)")
        return f"local TimescaleDB: running on 127.0.0.1:{self.port} (password in {self.password_file})"


def status(cfg: LocalDbSettings, *, data: str = DATA) -> Status:
    root = cfg.root
    ready = (root / PG_BIN.lstrip("/") / "pg_ctl").exists() and _timescaledb_present(root)
    initialised = (root / data.lstrip("/") / "PG_VERSION").exists()
    running = ready and initialised and _pg_ctl(cfg, "status", check=False, data=data).returncode == 0
    pw = password_file(cfg, data)
    return Status(ready, initialised, running, cfg.port, pw if pw.exists() else None)


def up(cfg: LocalDbSettings, log=print, *, data: str = DATA) -> Status:
    """Install (once), initialise (once), secure (password, no trust) and start the server.

    On a running server this only converts what is not yet secured and makes sure the database
    exists; data is never touched. ``data`` is the cluster's directory inside the root (another
    than the default only for scratch clusters).
    """
    st = status(cfg, data=data)
    if st.running and os.geteuid() != 0:  # not the owner: nothing to convert, use the password
        _ensure_database(cfg, partial(_password_connect, data=data))
        return st
    log_file = LOG if data == DATA else data + ".log"
    with _owner_lock(cfg, data):  # one `db up` at a time: parallel test sessions all call it
        st = status(cfg, data=data)
        if not st.running:
            _require_root_and_debian()
            if not st.root_ready:
                _bootstrap(cfg, log)
            if not (cfg.root / data.lstrip("/") / "PG_VERSION").exists():
                _initdb(cfg, log, data=data)
        secure(cfg, running=st.running, data=data, log=log)
        if not st.running:
            log(f"starting TimescaleDB on 127.0.0.1:{cfg.port} ...")
            res = _pg_ctl(cfg, "start", "-w", "-t", "60", "-l", log_file, "-o", _server_options(cfg.port),
                          check=False, data=data)
            if res.returncode != 0:
                tail = _log_tail(cfg, log_file)
                raise LocalDbError(
                    f"PostgreSQL did not start on port {cfg.port} (pg_ctl exit {res.returncode}).\n"
                    f"{res.stderr.strip()}\nLast lines of {cfg.root}{log_file}:\n{tail}\n"
                    "If the port is taken, set FARTKOLL_LOCALDB__PORT to a free one."
                )
        if not _password_works(cfg, data):
            _set_role_password(cfg, data)
        _ensure_database(cfg)
    return status(cfg, data=data)


@contextmanager
def _owner_lock(cfg: LocalDbSettings, data: str = DATA) -> Iterator[None]:
    """An exclusive lock (a file beside the root) held while ``up`` provisions or converts."""
    import fcntl

    cfg.root.parent.mkdir(parents=True, exist_ok=True)
    with open(password_file(cfg, data).with_suffix(".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _password_works(cfg: LocalDbSettings, data: str = DATA) -> bool:
    import psycopg

    try:
        _password_connect(cfg, data=data).close()
    except psycopg.OperationalError:
        return False
    return True


def password_file(cfg: LocalDbSettings, data: str = DATA) -> Path:
    """Where the password of the cluster in ``data`` is kept: beside the root, mode 0600."""
    name = cfg.root.name if data == DATA else f"{cfg.root.name}-{Path(data).name}"
    return cfg.root.parent / f"{name}.password"


def read_password(cfg: LocalDbSettings, data: str = DATA) -> str | None:
    """The local cluster's password, or None before ``db up`` made one."""
    path = password_file(cfg, data)
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except PermissionError:
        raise LocalDbError(
            f"the local database's password file {path} is readable only by its owner: run as the "
            "user who ran `fartkoll db up`, or set DATABASE_URL to a database you may use"
        ) from None


def _new_password(path: Path) -> str:
    """Make a random password and store it in ``path``, created with mode 0600 (never wider)."""
    password = secrets.token_urlsafe(24)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (password + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return password


def secure(cfg: LocalDbSettings, *, running: bool, data: str = DATA, log=print) -> bool:
    """Make sure the cluster in ``data`` has a password file and an access file without ``trust``.

    A running server gets its role password before the new access rules and is then reloaded, so
    at no moment does it ask for a password it does not have. Returns whether anything changed.
    """
    path = password_file(cfg, data)
    changed = False
    if read_password(cfg, data) is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _new_password(path)
        log(f"made a password for the local database in {path} (readable only by its owner)")
        changed = True
    else:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(0o600)
            log(f"{path} was readable by others (mode {mode:o}); now 0600")
    uid, gid = _postgres_ids(cfg.root)
    conf = cfg.root / data.lstrip("/")
    stale = [n for n, text in (("pg_hba.conf", HBA), ("pg_ident.conf", IDENT))
             if not (conf / n).exists() or (conf / n).read_text(errors="replace") != text]
    if not stale:
        return changed
    if running:
        _set_role_password(cfg, data)
    for name, text in (("pg_hba.conf", HBA), ("pg_ident.conf", IDENT)):
        tmp = conf / f"{name}.fartkoll-new"
        tmp.write_text(text)
        os.chown(tmp, uid, gid)
        tmp.chmod(0o600)
        os.replace(tmp, conf / name)
    log(f"local database: password (scram-sha-256) over TCP, Unix socket for its owner ({', '.join(stale)} rewritten)")
    if running:
        _pg_ctl(cfg, "reload", data=data)
        _wait_until_closed(cfg)
    return True


def _wait_until_closed(cfg: LocalDbSettings, seconds: float = 10) -> None:
    """Wait until the reloaded server refuses a wrong password, which trust accepts (the reload is
    asynchronous: the postmaster reads the new access file when it gets to the signal)."""
    import psycopg

    wrong = "wrong-" + secrets.token_hex(8)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            psycopg.connect(host="127.0.0.1", port=cfg.port, user="postgres", dbname="postgres",
                            password=wrong, connect_timeout=5).close()
        except psycopg.OperationalError:
            return
        time.sleep(0.1)
    raise LocalDbError(f"the server on port {cfg.port} still lets connections in without a password "
                       f"after reloading {cfg.root}{DATA}/pg_hba.conf; see its log")


def _admin_connect(cfg: LocalDbSettings, database: str = "postgres"):
    """A connection as the postgres role through the root's Unix socket (peer: we own it)."""
    import psycopg

    return psycopg.connect(host=str(cfg.root / SOCKET_DIR.lstrip("/")), port=cfg.port, user="postgres",
                           dbname=database, autocommit=True, connect_timeout=5)


def _set_role_password(cfg: LocalDbSettings, data: str = DATA) -> None:
    """Give the postgres role the file's password. Only its SCRAM verifier, made here by libpq,
    goes to the server, so the password itself never reaches a server log."""
    from psycopg import sql

    password = read_password(cfg, data)
    if password is None:
        raise LocalDbError(f"no password in {password_file(cfg, data)}; run `fartkoll db up`")
    with _wait_for(cfg, data) as conn:
        verifier = conn.pgconn.encrypt_password(password.encode(), b"postgres", b"scram-sha-256")
        conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(verifier.decode())))


def down(cfg: LocalDbSettings) -> Status:
    st = status(cfg)
    if st.running:
        _pg_ctl(cfg, "stop", "-m", "fast", "-w")
    return status(cfg)


def _require_root_and_debian() -> None:
    if os.geteuid() != 0:
        raise LocalDbError(
            "the local TimescaleDB needs root (it uses debootstrap and chroot). Run as root, or "
            "point Fartkoll at a TimescaleDB you run: DATABASE_URL=postgresql://user@host/db, "
            "or start one with `docker compose up -d db`."
        )
    if not Path("/etc/debian_version").exists():
        raise LocalDbError(
            "the local TimescaleDB is built with debootstrap and needs a Debian-like system. "
            "Set DATABASE_URL to a TimescaleDB you run, or use `docker compose up -d db`."
        )


def _debootstrap() -> str:
    exe = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if exe is None:
        raise LocalDbError(
            "debootstrap is not installed: run `apt-get install -y debootstrap` (as root), "
            "or set DATABASE_URL to a TimescaleDB you run."
        )
    return exe


def apt_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt already uses (deb822 or one-line format)."""
    candidates = sorted((sources_dir / "sources.list.d").glob("*.sources")) + [
        sources_dir / "sources.list",
        *sorted((sources_dir / "sources.list.d").glob("*.list")),
    ]
    for f in candidates:
        if not f.exists():
            continue
        text = f.read_text(errors="replace")
        for m in re.finditer(r"^URIs:\s*(\S+)", text, re.MULTILINE):
            if "security" not in m.group(1):
                return m.group(1)
        for m in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.MULTILINE):
            if "security" not in m.group(1):
                return m.group(1)
    raise LocalDbError(
        "found no Debian mirror in /etc/apt; set DATABASE_URL to a TimescaleDB you run instead"
    )


def _bootstrap(cfg: LocalDbSettings, log) -> None:
    exe = _debootstrap()
    root = cfg.root
    tmp = root.with_name(root.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    mirror = apt_mirror()
    log(f"building a Debian {cfg.suite} root with PostgreSQL 17 + TimescaleDB in {root} (once, ~1 min) ...")
    res = subprocess.run(
        [exe, "--variant=minbase", f"--include={PACKAGES}", cfg.suite, str(tmp), mirror],
        check=False,
        capture_output=True,
        text=True,
    )
    if res.returncode != 0 or not _timescaledb_present(tmp):
        raise LocalDbError(
            f"debootstrap failed (exit {res.returncode}):\n{res.stdout[-2000:]}{res.stderr[-2000:]}\n"
            "Check the network to the Debian mirror, or set DATABASE_URL to a TimescaleDB you run."
        )
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)


def _timescaledb_present(root: Path) -> bool:
    return any((root / "usr/lib/postgresql/17/lib").glob("timescaledb*.so"))


def _postgres_ids(root: Path) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        parts = line.split(":")
        if parts[0] == "postgres":
            return int(parts[2]), int(parts[3])
    raise LocalDbError(f"no postgres user in {root}/etc/passwd; remove {root} and run `fartkoll db up` again")


def _as_postgres(cfg: LocalDbSettings, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    uid, gid = _postgres_ids(cfg.root)
    cmd = [_chroot(), f"--userspec={uid}:{gid}", str(cfg.root), *argv]
    res = subprocess.run(cmd, check=False, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    if check and res.returncode != 0:
        raise LocalDbError(f"{' '.join(argv[:2])} failed (exit {res.returncode}): {res.stderr.strip()}")
    return res


def _chroot() -> str:
    exe = shutil.which("chroot") or "/usr/sbin/chroot"
    if not Path(exe).exists():
        raise LocalDbError("chroot (coreutils) is missing; set DATABASE_URL to a TimescaleDB you run")
    return exe


def _server_options(port: int) -> str:
    return (f"-p {port} -k /tmp -c listen_addresses=127.0.0.1 "
            "-c shared_preload_libraries=timescaledb -c dynamic_shared_memory_type=mmap "
            "-c timescaledb.telemetry_level=off -c max_connections=200")


def _pg_ctl(cfg: LocalDbSettings, *args: str, check: bool = True, data: str = DATA) -> subprocess.CompletedProcess[str]:
    return _as_postgres(cfg, f"{PG_BIN}/pg_ctl", "-D", data, *args, check=check)


def _initdb(cfg: LocalDbSettings, log, data: str = DATA) -> None:
    log("initialising the database cluster ...")
    uid, gid = _postgres_ids(cfg.root)
    parent = cfg.root / "data"
    parent.mkdir(exist_ok=True)
    os.chown(parent, uid, gid)
    _as_postgres(
        cfg, f"{PG_BIN}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"
    )


@dataclass(frozen=True)
class ScratchCluster:
    """A throw-away cluster in the local root with its own data directory and port, for tests
    that stop a server under load. Made by ``scratch_cluster``; ``destroy()`` removes it."""

    cfg: LocalDbSettings
    data: str  # path inside the root

    def url(self, database: str = "postgres") -> str:
        """Its address with its password (a secret: redact before showing)."""
        from urllib.parse import quote

        password = read_password(self.cfg, self.data)
        auth = "postgres" + (f":{quote(password, safe='')}" if password else "")
        return f"postgresql://{auth}@127.0.0.1:{self.cfg.port}/{database}"

    def start(self) -> None:
        res = _pg_ctl(self.cfg, "start", "-w", "-t", "60", "-l", self.data + ".log",
                      "-o", _server_options(self.cfg.port), check=False, data=self.data)
        if res.returncode != 0:
            raise LocalDbError(f"scratch cluster {self.data} did not start on port {self.cfg.port}: "
                               f"{res.stderr.strip()}; see {self.cfg.root}{self.data}.log")
        if read_password(self.cfg, self.data) is not None:
            _set_role_password(self.cfg, self.data)

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server; ``immediate`` is a crash (no checkpoint, sessions cut)."""
        _pg_ctl(self.cfg, "stop", "-m", mode, "-w", data=self.data)

    def destroy(self) -> None:
        _pg_ctl(self.cfg, "stop", "-m", "immediate", "-w", check=False, data=self.data)
        for p in (self.data, self.data + ".log"):
            path = self.cfg.root / p.lstrip("/")
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        password_file(self.cfg, self.data).unlink(missing_ok=True)
        password_file(self.cfg, self.data).with_suffix(".lock").unlink(missing_ok=True)


def scratch_cluster(cfg: LocalDbSettings, name: str, port: int, *, secured: bool = True) -> ScratchCluster:
    """Initialise (not start) a new cluster ``/data/<name>`` in the installed local root.

    ``secured``: with a password and no ``trust``, as ``db up`` leaves a cluster; False gives a
    cluster as ``db up`` made them before (trust), to test the conversion on."""
    _require_root_and_debian()
    if not status(cfg).root_ready:
        raise LocalDbError(f"no local TimescaleDB in {cfg.root}; run `fartkoll db up` first")
    if not re.fullmatch(r"[\w.-]+", name) or name == "pg":
        raise LocalDbError(f"scratch cluster name {name!r} must be a plain file name other than 'pg'")
    cluster = ScratchCluster(LocalDbSettings(root=cfg.root, port=port), f"/data/{name}")
    cluster.destroy()  # a leftover of a killed run
    _initdb(cluster.cfg, lambda m: None, data=cluster.data)
    if secured:
        secure(cluster.cfg, running=False, data=cluster.data, log=lambda m: None)
    return cluster


def _log_tail(cfg: LocalDbSettings, log_file: str = LOG, lines: int = 15) -> str:
    p = cfg.root / log_file.lstrip("/")
    return "\n".join(p.read_text(errors="replace").splitlines()[-lines:]) if p.exists() else "(no log)"


def _ensure_database(cfg: LocalDbSettings, connect=None) -> None:
    from psycopg import sql

    with _wait_for(cfg, connect=connect) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (cfg.database,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg.database)))


def _password_connect(cfg: LocalDbSettings, database: str = "postgres", *, data: str = DATA):
    """A connection as the postgres role over loopback with the password from its file."""
    import psycopg

    return psycopg.connect(host="127.0.0.1", port=cfg.port, user="postgres", dbname=database,
                           password=read_password(cfg, data) or "", autocommit=True, connect_timeout=5)


def _wait_for(cfg: LocalDbSettings, data: str = DATA, seconds: float = 30, connect=None):
    """An admin connection (``_admin_connect``), waiting up to ``seconds`` for the server."""
    import psycopg

    deadline = time.monotonic() + seconds
    while True:
        try:
            return (connect or _admin_connect)(cfg)
        except psycopg.OperationalError as e:
            if time.monotonic() > deadline:
                raise LocalDbError(
                    f"the local server does not answer on {cfg.root}{SOCKET_DIR} port {cfg.port} "
                    f"({str(e).strip()}); see {cfg.root}{LOG if data == DATA else data + '.log'}"
                ) from None
            time.sleep(0.5)
