"""An 8-week demo database seeded once per session for the planner's database tests.

``pdemo_ro``: a session-wide copy that tests only read (never commit to it);
``pdemo_url``: a fresh copy per test, for tests that write (plans, controls, CLI commands).
Eight weeks ending Monday 2024-11-04 give every demo control a baseline in its display mode.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from fartkoll.demo import seed

WEEKS, SEED, END = 8, 1, date(2024, 11, 4)


def url_of(server_url: str, dbname: str) -> str:
    """The same server's postgresql:// URL with another database (what DATABASE_URL accepts)."""
    p = conninfo_to_dict(server_url)
    auth = quote(p.get("user", "postgres"), safe="") + (":" + quote(p["password"], safe="") if p.get("password") else "")
    return f"postgresql://{auth}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{quote(dbname, safe='')}"


def _drop(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _copy(server_url: str, template: str, name: str) -> None:
    _drop(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (template,))
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))


@pytest.fixture(scope="session")
def pdemo_template(server_url: str, template_db: str) -> Iterator[str]:
    name = f"fk_pdemo_tpl_{os.getpid()}"
    _copy(server_url, template_db, name)
    with psycopg.connect(url_of(server_url, name)) as conn:
        seed(conn, weeks=WEEKS, seed=SEED, end=END, log=lambda m: None)
        conn.commit()
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
    yield name
    _drop(server_url, name)


@pytest.fixture(scope="session")
def pdemo_ro_url(server_url: str, pdemo_template: str) -> Iterator[str]:
    name = f"fk_pdemo_ro_{os.getpid()}"
    _copy(server_url, pdemo_template, name)
    yield url_of(server_url, name)
    _drop(server_url, name)


@pytest.fixture
def pdemo_ro(pdemo_ro_url: str) -> Iterator[psycopg.Connection]:
    """A connection to the shared seeded copy; rolled back at the end."""
    with psycopg.connect(pdemo_ro_url) as conn:
        yield conn
        conn.rollback()


@pytest.fixture
def pdemo_url(server_url: str, pdemo_template: str) -> Iterator[str]:
    name = f"fk_pdemo_t_{os.getpid()}_{os.urandom(3).hex()}"
    _copy(server_url, pdemo_template, name)
    yield url_of(server_url, name)
    _drop(server_url, name)
