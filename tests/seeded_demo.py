"""A demo database seeded once per test session and copied per module (CREATE DATABASE … TEMPLATE).

Four weeks ending Monday 2024-11-04 (the end of summer time on 27 October, the autumn school
break in week 44, the dead sign, the controls, the tips). Import the fixtures into a test module:
``from seeded_demo import demo_template, seeded_url  # noqa: F401``.
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

from fartkoll.demo import build_world, seed

WEEKS, SEED, END = 4, 3, date(2024, 11, 4)
WORLD = build_world(weeks=WEEKS, end=END)


def url_of(server_url: str, dbname: str) -> str:
    """The same server's postgresql:// URL with another database (the settings accept only URLs)."""
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
def demo_template(server_url: str, template_db: str) -> Iterator[str]:
    """Name of a seeded demo database closed to connections, to copy from."""
    name = f"fk_demo_tpl_{os.getpid()}"
    _copy(server_url, template_db, name)
    with psycopg.connect(url_of(server_url, name)) as conn:
        seed(conn, weeks=WEEKS, seed=SEED, end=END, log=lambda m: None)
        conn.commit()
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
    yield name
    _drop(server_url, name)


@pytest.fixture
def seeded_url(server_url: str, demo_template: str) -> Iterator[str]:
    """URL of a fresh copy of the seeded demo database (the test may change it)."""
    name = f"fk_demo_t_{os.getpid()}_{os.urandom(3).hex()}"
    _copy(server_url, demo_template, name)
    yield url_of(server_url, name)
    _drop(server_url, name)
