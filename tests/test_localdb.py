import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from fartkoll import localdb
from fartkoll.settings import LocalDbSettings, Settings

FARTKOLL = [sys.executable, "-m", "fartkoll.cli"]
needs_local = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL") or os.environ.get("FARTKOLL_DATABASE_URL")),
    reason="DATABASE_URL is set: the local TimescaleDB is not in use",
)


@needs_local
def test_db_up_twice_is_harmless_and_keeps_data(server_url, template_db):
    runs = [subprocess.run([*FARTKOLL, "db", "up"], capture_output=True, text=True, timeout=120) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert "running on 127.0.0.1" in r.stdout
    with psycopg.connect(server_url) as conn:  # the session's template database survived
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template_db,)).fetchone()
    st = subprocess.run([*FARTKOLL, "db", "status"], capture_output=True, text=True, timeout=60)
    assert st.returncode == 0 and "running" in st.stdout


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
    r = subprocess.run([*FARTKOLL, "db", "up"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "DATABASE_URL is set" in r.stderr


def test_unreachable_database_error_names_address_and_fix():
    env = dict(os.environ, DATABASE_URL="postgresql://u:secret@127.0.0.1:1/x")
    r = subprocess.run([*FARTKOLL, "db", "migrate"], capture_output=True, text=True, env=env, timeout=60)
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
