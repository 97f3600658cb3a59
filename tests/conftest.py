"""Test databases on a real TimescaleDB: one migrated template per session, a fresh copy per test
(made ahead and dropped behind in a background thread: tests/dbcopy.py Copies).

Uses DATABASE_URL (or FARTKOLL_DATABASE_URL) when set — it must point at a server where the
user may create databases; otherwise starts the embedded local TimescaleDB (`fartkoll db up`).
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from dbcopy import Copies, create_database, drop_database, seal_template, url_of

from core.errors import FartkollError
from fartkoll.settings import Settings
from sql.migrate import migrate

_counter = itertools.count()

# Each argon2id hash and check costs ~0.5 s at the production parameters, and the suite makes
# a great many (every test world's users, every login). The test run lowers the cost through the
# settings (in this process and, through the environment, in every server and CLI it starts);
# tests/test_password_cost.py checks the production defaults and that the setting takes effect.
TEST_PASSWORD_COST = {"TIME_COST": "1", "MEMORY_KIB": "64", "PARALLELISM": "1"}
for _key, _value in TEST_PASSWORD_COST.items():
    os.environ.setdefault(f"FARTKOLL_API__PASSWORDS__{_key}", _value)


def pytest_configure(config: pytest.Config) -> None:
    """Apply the settings' password cost to this process's password hashing (as the entry points
    do). In the controlling process, fix pytest-xdist's run id before its workers start, so this
    process knows the name of what the workers share (the seeded demo template)."""
    from api import passwords

    passwords.configure(**Settings.load().api.passwords.model_dump())
    if not hasattr(config, "workerinput") and hasattr(config.option, "testrunuid") and not config.option.testrunuid:
        config.option.testrunuid = uuid.uuid4().hex


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest test files first (tests/file_order.py), for the workers of `make test`."""
    from file_order import longest_files_first

    longest_files_first(items)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """When the whole run ends (in the controlling process), drop the shared demo template and
    the shared Toronto import."""
    if hasattr(session.config, "workerinput"):
        return
    from seeded_demo import drop_demo_template
    from toronto_shared import drop_toronto_db

    try:
        server = url_of(Settings.load().database_dsn(), "postgres")
        drop_demo_template(server, session.config)
        drop_toronto_db(server, session.config)
    except (psycopg.OperationalError, FartkollError):
        pass  # no server was started or it is gone: nothing left to drop

# the seeded demo database and the imported Toronto file, shared by every module of the run
pytest_plugins = ["seeded_demo", "toronto_shared"]


@pytest.fixture(scope="session")
def server_url() -> str:
    """A URL of the test server's maintenance database."""
    settings = Settings.load()
    if not settings.database_url:
        from fartkoll import localdb

        localdb.up(settings.localdb, log=lambda m: None)
    return url_of(settings.database_dsn(), "postgres")


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    """Name of a migrated database closed to connections, to copy from."""
    name = f"fk_tpl_{os.getpid()}"
    create_database(server_url, name)
    with psycopg.connect(url_of(server_url, name)) as conn:
        migrate(conn)
    seal_template(server_url, name)
    yield name
    drop_database(server_url, name)


@pytest.fixture
def empty_db_url(server_url: str) -> Iterator[str]:
    """URL of a new, empty database (no schema)."""
    yield from _fresh(server_url, None)


@pytest.fixture(scope="session")
def template_copies(server_url: str, template_db: str) -> Iterator[Copies]:
    """Fresh copies of the migrated template, each made one test ahead and dropped behind."""
    copies = Copies(server_url, template_db, f"fk_t_{os.getpid()}_c")
    yield copies
    copies.close()


@pytest.fixture
def db_url(server_url: str, template_copies: Copies) -> Iterator[str]:
    """URL of a new database with the whole schema applied."""
    name = template_copies.take()
    try:
        yield url_of(server_url, name)
    finally:
        template_copies.drop(name)


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection]:
    """A connection to a new migrated database (not autocommit; the test owns transactions)."""
    with psycopg.connect(db_url) as conn:
        yield conn


def _fresh(server_url: str, template: str | None) -> Iterator[str]:
    name = f"fk_t_{os.getpid()}_{next(_counter)}"
    create_database(server_url, name, template)
    try:
        yield url_of(server_url, name)
    finally:
        drop_database(server_url, name)
