"""A demo database seeded once per test run and copied per test (CREATE DATABASE … TEMPLATE).

Eight weeks ending Monday 2024-11-04: the end of summer time on 27 October, the autumn school
break in week 44, the dead sign, the controls with a baseline in their display mode, the tips.
The root conftest loads this module as a plugin, so its fixtures exist once per session; do not
import the fixtures into test modules (each import would define — and seed — them again).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date

import psycopg
import pytest
from dbcopy import Copies, create_database, drop_database, seal_template, url_of
from psycopg import sql

from fartkoll.demo import build_world, seed

WEEKS, SEED, END = 8, 1, date(2024, 11, 4)
WORLD = build_world(weeks=WEEKS, end=END)


def run_id(config: pytest.Config) -> str:
    """An id shared by every process of one test run: pytest-xdist's run id for its workers
    (set in the controlling process by the root conftest), the process id without xdist."""
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        return worker["testrunuid"][:12]
    return (getattr(config.option, "testrunuid", None) or str(os.getpid()))[:12]


def demo_template_name(config: pytest.Config) -> str:
    return f"fk_demo_tpl_{run_id(config)}"


@pytest.fixture(scope="session")
def demo_template(server_url: str, template_db: str, pytestconfig: pytest.Config) -> str:
    """Name of a seeded demo database closed to connections, to copy from. Seeded once per test
    run: the first process to need it seeds it while holding an advisory lock, the others wait
    for that lock and use it. A database of that name still open to connections is a seeding
    that did not finish (its process died) and is seeded again. The root conftest drops it
    when the whole run ends."""
    name = demo_template_name(pytestconfig)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
        try:
            row = admin.execute("SELECT datallowconn FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if row is None or row[0]:
                create_database(server_url, name, template_db)
                with psycopg.connect(url_of(server_url, name)) as conn:
                    seed(conn, weeks=WEEKS, seed=SEED, end=END, log=lambda m: None)
                    conn.commit()
                seal_template(server_url, name)
        finally:
            admin.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
    return name


def drop_demo_template(server_url: str, config: pytest.Config) -> None:
    drop_database(server_url, demo_template_name(config))


def copy_of_demo(server_url: str, demo_template: str) -> Iterator[str]:
    """URL of a fresh copy of the seeded demo database, dropped afterwards."""
    name = f"fk_demo_t_{os.getpid()}_{os.urandom(3).hex()}"
    create_database(server_url, name, demo_template)
    try:
        yield url_of(server_url, name)
    finally:
        drop_database(server_url, name)


@pytest.fixture(scope="session")
def demo_ro_url(server_url: str, demo_template: str) -> Iterator[str]:
    """URL of one copy of the seeded demo database per process, shared by the tests that only
    read it. Every transaction on it is read-only (default_transaction_read_only), so a test or
    a code path that writes fails loudly instead of changing what the next test reads."""
    name = f"fk_demo_ro_{os.getpid()}"
    create_database(server_url, name, demo_template)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(sql.Identifier(name)))
    try:
        yield url_of(server_url, name)
    finally:
        drop_database(server_url, name)


@pytest.fixture(scope="session")
def demo_copies(server_url: str, demo_template: str) -> Iterator[Copies]:
    """Fresh copies of the seeded demo database, each made one test ahead and dropped behind."""
    copies = Copies(server_url, demo_template, f"fk_demo_t_{os.getpid()}_c")
    yield copies
    copies.close()


@pytest.fixture
def seeded_url(server_url: str, demo_copies: Copies) -> Iterator[str]:
    """URL of a fresh copy of the seeded demo database (the test may change it)."""
    name = demo_copies.take()
    try:
        yield url_of(server_url, name)
    finally:
        demo_copies.drop(name)
