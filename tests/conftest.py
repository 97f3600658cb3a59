"""Test databases on a real TimescaleDB: one migrated template per session, a fresh copy per test.

Uses DATABASE_URL (or FARTKOLL_DATABASE_URL) when set — it must point at a server where the
user may create databases; otherwise starts the embedded local TimescaleDB (`fartkoll db up`).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict

from fartkoll.settings import Settings
from sql.migrate import migrate

_counter = itertools.count()


def _with_db(url: str, dbname: str) -> str:
    """The same server's URL with another database name (a postgresql:// URL)."""
    p = conninfo_to_dict(url)
    auth = quote(p.get("user", "postgres"), safe="") + (":" + quote(p["password"], safe="") if p.get("password") else "")
    return f"postgresql://{auth}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{quote(dbname, safe='')}"


@pytest.fixture(scope="session")
def server_url() -> str:
    """A URL of the test server's maintenance database."""
    settings = Settings.load()
    if not settings.database_url:
        from fartkoll import localdb

        localdb.up(settings.localdb, log=lambda m: None)
    return _with_db(settings.database_dsn(), "postgres")


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    name = f"fk_tpl_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(_with_db(server_url, name)) as conn:
        migrate(conn)
    with psycopg.connect(server_url, autocommit=True) as admin:
        # TimescaleDB's scheduler connects to every database that allows it, and a template
        # must have no sessions: close it to connections, then end the scheduler's session.
        admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true").format(sql.Identifier(name)))
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    yield name
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(sql.Identifier(name)))
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def empty_db_url(server_url: str) -> Iterator[str]:
    """URL of a new, empty database (no schema)."""
    yield from _fresh(server_url, None)


@pytest.fixture
def db_url(server_url: str, template_db: str) -> Iterator[str]:
    """URL of a new database with the whole schema applied."""
    yield from _fresh(server_url, template_db)


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection]:
    """A connection to a new migrated database (not autocommit; the test owns transactions)."""
    with psycopg.connect(db_url) as conn:
        yield conn


def _fresh(server_url: str, template: str | None) -> Iterator[str]:
    name = f"fk_t_{os.getpid()}_{next(_counter)}"
    ident = sql.Identifier(name)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        if template:
            _create_from_template(admin, ident, template)
        else:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    try:
        yield _with_db(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def _create_from_template(admin: psycopg.Connection, ident: sql.Identifier, template: str) -> None:
    for attempt in range(50):
        try:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(ident, sql.Identifier(template)))
            return
        except psycopg.errors.ObjectInUse:  # a session on the template is still closing
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (template,))
            time.sleep(0.1)
    raise RuntimeError(f"template database {template} stayed busy for 5 s")
