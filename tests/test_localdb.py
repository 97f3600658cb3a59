import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from servers import free_port
from test_settings import needs_setpriv, without_file_rights

from fartkoll import localdb
from fartkoll.db import psql_command
from fartkoll.settings import LocalDbSettings, Settings

FARTKOLL = [sys.executable, "-m", "fartkoll.cli"]
needs_local = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL") or os.environ.get("FARTKOLL_DATABASE_URL")),
    reason="DATABASE_URL is set: the local TimescaleDB is not in use",
)


@needs_local
def test_db_up_twice_is_harmless_and_keeps_data(server_url, template_db):
    runs = [subprocess.run(check=False, args=[*FARTKOLL, "db", "up"], capture_output=True, text=True, timeout=120) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert "running on 127.0.0.1" in r.stdout
    with psycopg.connect(server_url) as conn:  # the session's template database survived
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template_db,)).fetchone()
    st = subprocess.run(check=False, args=[*FARTKOLL, "db", "status"], capture_output=True, text=True, timeout=60)
    assert st.returncode == 0 and "running" in st.stdout
    cfg = Settings.load().localdb  # and it asks for the password from its file
    _assert_password_only(cfg.port, localdb.password_file(cfg))
    assert localdb.read_password(cfg) not in runs[0].stdout + runs[0].stderr + st.stdout


def test_status_of_a_missing_root_says_not_installed(tmp_path):
    st = localdb.status(LocalDbSettings(root=tmp_path / "nothing", port=5999))
    assert (st.root_ready, st.running) == (False, False)
    assert "not installed" in st.describe()


def test_without_root_up_says_what_to_do_instead(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(localdb.LocalDbError) as e:
        localdb.up(LocalDbSettings(root=tmp_path / "r", port=5999))
    assert "DATABASE_URL" in str(e.value) and "root" in str(e.value)


def test_db_up_refuses_to_manage_a_server_when_database_url_is_set():
    env = dict(os.environ, DATABASE_URL="postgresql://u@127.0.0.1:1/x")
    r = subprocess.run(check=False, args=[*FARTKOLL, "db", "up"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "DATABASE_URL is set" in r.stderr


def test_unreachable_database_error_names_address_and_fix():
    env = dict(os.environ, DATABASE_URL="postgresql://u:secret@127.0.0.1:1/x")
    r = subprocess.run(check=False, args=[*FARTKOLL, "db", "migrate"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2
    assert "127.0.0.1:1" in r.stderr and "secret" not in r.stderr and "DATABASE_URL" in r.stderr


@pytest.mark.parametrize(
    "name,text,expect",
    [
        ("debian.sources", "Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://mirror.test/debian-security\n", "http://mirror.test/debian"),
        ("debian.sources", "Types: deb\nURIs: http://sec.test/debian-security\n\nTypes: deb\nURIs: http://m2.test/debian\n", "http://m2.test/debian"),
    ],
)
def test_mirror_is_read_from_deb822_sources(tmp_path, name, text, expect):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / name).write_text(text)
    assert localdb.apt_mirror(tmp_path) == expect


def test_mirror_is_read_from_one_line_sources_and_missing_is_explained(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    with pytest.raises(localdb.LocalDbError, match="DATABASE_URL"):
        localdb.apt_mirror(tmp_path)
    (tmp_path / "sources.list").write_text("# c\ndeb [arch=amd64] http://one.test/debian bookworm main\n")
    assert localdb.apt_mirror(tmp_path) == "http://one.test/debian"


needs_root_cluster = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL") or os.environ.get("FARTKOLL_DATABASE_URL")) or os.geteuid() != 0,
    reason="a scratch cluster needs the local TimescaleDB root and root",
)
REPO = Path(__file__).resolve().parent.parent


def _tcp(port: int, password: str | None = None) -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                           password=password or "", connect_timeout=5, autocommit=True)


def _assert_password_only(port: int, pw_file: Path) -> None:
    """Over TCP only with the password in ``pw_file`` (mode 0600, outside the checkout)."""
    st = pw_file.stat()
    assert (st.st_mode & 0o777, st.st_uid) == (0o600, os.geteuid())
    assert REPO not in pw_file.resolve().parents
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        _tcp(port).close()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _tcp(port, "not-the-password").close()
    with _tcp(port, pw_file.read_text().strip()) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "postgres"
        assert conn.execute("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid "
                            "WHERE rolname = 'postgres'").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust'").fetchone()[0] == 0


@pytest.fixture
def trust_cluster():
    """A started cluster as `db up` made them before passwords: trust for every local user."""
    cluster = localdb.scratch_cluster(Settings.load().localdb, f"trust-{os.getpid()}", free_port(), secured=False)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@needs_root_cluster
def test_up_converts_a_running_trust_cluster_keeping_its_data(trust_cluster):
    cfg, data = trust_cluster.cfg, trust_cluster.data
    with _tcp(cfg.port) as conn:  # trusted today: anyone on the machine is a superuser
        conn.execute("CREATE DATABASE kept")
    with psycopg.connect(host="127.0.0.1", port=cfg.port, user="postgres", dbname="kept", autocommit=True) as conn:
        conn.execute("CREATE TABLE t AS SELECT 42 AS v")
    messages: list[str] = []
    assert localdb.secure(cfg, running=True, data=data, log=messages.append) is True
    pw_file = localdb.password_file(cfg, data)
    _assert_password_only(cfg.port, pw_file)
    assert any(str(pw_file) in m for m in messages)
    assert not any(pw_file.read_text().strip() in m for m in messages)  # the password is never shown
    with psycopg.connect(trust_cluster.url("kept")) as conn:  # nothing lost
        assert conn.execute("SELECT v FROM t").fetchone()[0] == 42
    # the owner (root) still comes in through the socket without a password; nobody else does
    sock = str(cfg.root / "tmp")
    with psycopg.connect(host=sock, port=cfg.port, user="postgres", dbname="postgres") as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1
    r = subprocess.run(check=False, args=["psql", f"host={sock} port={cfg.port} user=postgres dbname=postgres", "-w", "-c", "select 1"],
                       capture_output=True, text=True, user=65534, group=65534, cwd="/", timeout=30)
    assert r.returncode != 0 and "Peer authentication failed" in r.stderr
    # converting again changes nothing and keeps the password
    before = pw_file.read_text()
    assert localdb.secure(cfg, running=True, data=data, log=messages.append) is False
    assert pw_file.read_text() == before
    trust_cluster.stop("fast")
    trust_cluster.start()  # a restart sets the same password again
    _assert_password_only(cfg.port, pw_file)


@needs_root_cluster
def test_db_up_converts_running_and_stopped_trust_clusters_even_when_called_in_parallel(trust_cluster):
    from concurrent.futures import ThreadPoolExecutor

    cfg, data = trust_cluster.cfg, trust_cluster.data
    pw_file = localdb.password_file(cfg, data)
    with ThreadPoolExecutor(4) as pool:  # test sessions starting together all call `db up`
        states = list(pool.map(lambda _: localdb.up(cfg, lambda m: None, data=data), range(4)))
    assert all(s.running and s.password_file == pw_file for s in states)
    _assert_password_only(cfg.port, pw_file)
    with psycopg.connect(trust_cluster.url(cfg.database)) as conn:  # and made the database
        assert conn.execute("SELECT current_database()").fetchone()[0] == cfg.database
    # a stopped trust cluster is secured before it starts, so it never listens with trust
    trust_cluster.stop("fast")
    (cfg.root / data.lstrip("/") / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
    pw_file.unlink()
    assert localdb.status(cfg, data=data).running is False
    assert localdb.up(cfg, lambda m: None, data=data).running
    _assert_password_only(cfg.port, pw_file)


@needs_root_cluster
def test_a_new_cluster_is_secured_before_it_first_starts():
    cluster = localdb.scratch_cluster(Settings.load().localdb, f"new-{os.getpid()}", free_port())
    try:
        pw_file = localdb.password_file(cluster.cfg, cluster.data)
        assert pw_file.exists()
        cluster.start()
        _assert_password_only(cluster.cfg.port, pw_file)
        with psycopg.connect(cluster.url()) as conn:
            assert conn.execute("SELECT 1").fetchone()[0] == 1
    finally:
        cluster.destroy()
    assert not pw_file.exists()


def test_local_dsn_carries_the_file_password_and_messages_redact_it(tmp_path, monkeypatch):
    root = tmp_path / "root"
    (tmp_path / "root.password").write_text("s3cr/t+pw\n")
    monkeypatch.setenv("FARTKOLL_LOCALDB__ROOT", str(root))
    monkeypatch.setenv("FARTKOLL_LOCALDB__PORT", "5999")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("FARTKOLL_DATABASE_URL", raising=False)
    assert Settings.load().database_dsn() == "postgresql://postgres:s3cr%2Ft%2Bpw@127.0.0.1:5999/fartkoll"
    (tmp_path / "root.password").unlink()  # before the first `db up`: no password yet
    assert Settings.load().database_dsn() == "postgresql://postgres@127.0.0.1:5999/fartkoll"


@needs_local
def test_wrong_password_error_names_the_file_and_hides_the_password(tmp_path):
    cfg = Settings.load().localdb
    root = tmp_path / "root"
    (tmp_path / "root.password").write_text("Wr0ng-Pw-4711\n")
    env = dict(os.environ, FARTKOLL_LOCALDB__ROOT=str(root), FARTKOLL_LOCALDB__PORT=str(cfg.port))
    r = subprocess.run(check=False, args=[*FARTKOLL, "db", "migrate"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "password authentication failed" in r.stderr
    assert str(tmp_path / "root.password") in r.stderr and "Wr0ng-Pw-4711" not in r.stderr
    assert "Traceback" not in r.stderr


@needs_setpriv
def test_password_file_of_another_user_is_explained(tmp_path):
    pw = tmp_path / "root.password"
    pw.write_text("only-mine\n")
    pw.chmod(0o600)
    os.chown(pw, 65534, 65534)  # the owner is someone else: we may not read it
    env = dict(os.environ, FARTKOLL_LOCALDB__ROOT=str(tmp_path / "root"), FARTKOLL_LOCALDB__PORT="5999")
    r = subprocess.run(check=False, args=without_file_rights([*FARTKOLL, "db", "migrate"]), capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 2 and "readable only by its owner" in r.stderr and str(pw) in r.stderr
    assert "Traceback" not in r.stderr


@needs_local
def test_db_shell_runs_sql_with_the_configured_credentials(server_url, db_url):
    r = subprocess.run(check=False, args=[*FARTKOLL, "db", "shell", "-c", "SELECT 40 + 2 AS answer"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "42" in r.stdout, r.stderr
    env = dict(os.environ, DATABASE_URL=db_url)
    r = subprocess.run(check=False, args=[*FARTKOLL, "db", "shell", "-c", "SELECT count(*) AS migrations FROM schema_migrations"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0 and "migrations" in r.stdout, r.stderr
    r = subprocess.run(check=False, args=[*FARTKOLL, "db", "shell", "-c", "SELECT no_such_column"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0 and "no_such_column" in r.stderr


def test_db_shell_keeps_the_password_off_the_command_line(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://op:pa%24%24word@db.example:5432/fk")
    argv, env = psql_command(Settings.load(), "SELECT 1")
    assert env["PGPASSWORD"] == "pa$$word"
    assert not any("pa$$word" in a or "pa%24%24word" in a for a in argv)
    assert "host=db.example" in argv[1] and "dbname=fk" in argv[1] and "user=op" in argv[1]
    assert argv[-2:] == ["-c", "SELECT 1"]


def test_compose_has_no_default_database_password():
    """Every use of the password stops compose with a message when it is unset (``:?``)."""
    text = (REPO / "docker-compose.yml").read_text()
    uses = re.findall(r"\$\{POSTGRES_PASSWORD([^}]*)\}", text)
    assert len(uses) == 3  # the database, the API and the scheduler
    assert all(u.startswith(":?") and "POSTGRES_PASSWORD" in u for u in uses)
    assert not re.search(r"\$\{[^}]*PASSWORD[^}]*:-", text)  # no fallback word anywhere
    assert not re.search(r"postgresql://[^@\s]*:[^@\s]*@", text)  # no password inside a URL
