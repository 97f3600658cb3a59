"""The embedded TimescaleDB: a Debian root with PostgreSQL 17 + TimescaleDB, run with chroot.

Debian 12 has no TimescaleDB package and Debian 13's needs a newer glibc, so ``db up`` builds a
minimal Debian 13 root with debootstrap (once; it is cached outside the checkout) and starts the
server from it on loopback. Everything here needs root on a Debian-like system; elsewhere the
error says to set DATABASE_URL or use docker-compose.yml.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import Unavailable

from .settings import LocalDbSettings

PG_BIN = "/usr/lib/postgresql/17/bin"
DATA = "/data/pg"
LOG = "/data/pg.log"
PACKAGES = "postgresql-17,postgresql-17-timescaledb"


class LocalDbError(Unavailable):
    """The local database cannot be provisioned or started; the message says what to do."""

    exit_code = 2  # the fix is in the configuration (DATABASE_URL, `fartkoll db up`), as for settings


@dataclass(frozen=True)
class Status:
    root_ready: bool
    initialised: bool
    running: bool
    port: int

    def describe(self) -> str:
        if not self.root_ready:
            return "local TimescaleDB: not installed (run `fartkoll db up`)"
        if not self.running:
            return f"local TimescaleDB: installed, stopped (port {self.port}; run `fartkoll db up`)"
        return f"local TimescaleDB: running on 127.0.0.1:{self.port}"


def status(cfg: LocalDbSettings) -> Status:
    root = cfg.root
    ready = (root / PG_BIN.lstrip("/") / "pg_ctl").exists() and _timescaledb_present(root)
    initialised = (root / DATA.lstrip("/") / "PG_VERSION").exists()
    running = ready and initialised and _pg_ctl(cfg, "status", check=False).returncode == 0
    return Status(ready, initialised, running, cfg.port)


def up(cfg: LocalDbSettings, log=print) -> Status:
    """Install (once), initialise (once) and start the server; a no-op when it already runs."""
    st = status(cfg)
    if st.running:
        _ensure_database(cfg)
        return st
    _require_root_and_debian()
    if not st.root_ready:
        _bootstrap(cfg, log)
    if not (cfg.root / DATA.lstrip("/") / "PG_VERSION").exists():
        _initdb(cfg, log)
    log(f"starting TimescaleDB on 127.0.0.1:{cfg.port} ...")
    res = _pg_ctl(cfg, "start", "-w", "-t", "60", "-l", LOG, "-o", _server_options(cfg.port), check=False)
    if res.returncode != 0:
        tail = _log_tail(cfg)
        raise LocalDbError(
            f"PostgreSQL did not start on port {cfg.port} (pg_ctl exit {res.returncode}).\n"
            f"{res.stderr.strip()}\nLast lines of {cfg.root}{LOG}:\n{tail}\n"
            "If the port is taken, set FARTKOLL_LOCALDB__PORT to a free one."
        )
    _ensure_database(cfg)
    return status(cfg)


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
        for m in re.finditer(r"^URIs:\s*(\S+)", text, re.M):
            if "security" not in m.group(1):
                return m.group(1)
        for m in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.M):
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
    res = subprocess.run(cmd, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
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
        return f"postgresql://postgres@127.0.0.1:{self.cfg.port}/{database}"

    def start(self) -> None:
        res = _pg_ctl(self.cfg, "start", "-w", "-t", "60", "-l", self.data + ".log",
                      "-o", _server_options(self.cfg.port), check=False, data=self.data)
        if res.returncode != 0:
            raise LocalDbError(f"scratch cluster {self.data} did not start on port {self.cfg.port}: "
                               f"{res.stderr.strip()}; see {self.cfg.root}{self.data}.log")

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server; ``immediate`` is a crash (no checkpoint, sessions cut)."""
        _pg_ctl(self.cfg, "stop", "-m", mode, "-w", data=self.data)

    def destroy(self) -> None:
        _pg_ctl(self.cfg, "stop", "-m", "immediate", "-w", check=False, data=self.data)
        for p in (self.data, self.data + ".log"):
            path = self.cfg.root / p.lstrip("/")
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def scratch_cluster(cfg: LocalDbSettings, name: str, port: int) -> ScratchCluster:
    """Initialise (not start) a new cluster ``/data/<name>`` in the installed local root."""
    _require_root_and_debian()
    if not status(cfg).root_ready:
        raise LocalDbError(f"no local TimescaleDB in {cfg.root}; run `fartkoll db up` first")
    if not re.fullmatch(r"[\w.-]+", name) or name == "pg":
        raise LocalDbError(f"scratch cluster name {name!r} must be a plain file name other than 'pg'")
    cluster = ScratchCluster(LocalDbSettings(root=cfg.root, port=port), f"/data/{name}")
    cluster.destroy()  # a leftover of a killed run
    _initdb(cluster.cfg, lambda m: None, data=cluster.data)
    return cluster


def _log_tail(cfg: LocalDbSettings, lines: int = 15) -> str:
    p = cfg.root / LOG.lstrip("/")
    return "\n".join(p.read_text(errors="replace").splitlines()[-lines:]) if p.exists() else "(no log)"


def _ensure_database(cfg: LocalDbSettings) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(
                f"postgresql://postgres@127.0.0.1:{cfg.port}/postgres", autocommit=True, connect_timeout=5
            ) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (cfg.database,)).fetchone()
                if not exists:
                    from psycopg import sql

                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg.database)))
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise LocalDbError(
                    f"the local server does not answer on 127.0.0.1:{cfg.port}; see {cfg.root}{LOG}"
                ) from None
            time.sleep(0.5)
