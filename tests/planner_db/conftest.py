"""The planner's database tests use the session's 8-week demo database (tests/seeded_demo.py).

``pdemo_ro``: a session-wide copy that tests only read (never commit to it);
``pdemo_url``: a fresh copy per test, for tests that write (plans, controls, CLI commands).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from dbcopy import Copies, create_database, drop_database, url_of


@pytest.fixture(scope="session")
def pdemo_template(demo_template: str) -> str:
    return demo_template


@pytest.fixture(scope="session")
def pdemo_ro_url(server_url: str, pdemo_template: str) -> Iterator[str]:
    name = f"fk_pdemo_ro_{os.getpid()}"
    create_database(server_url, name, pdemo_template)
    yield url_of(server_url, name)
    drop_database(server_url, name)


@pytest.fixture
def pdemo_ro(pdemo_ro_url: str) -> Iterator[psycopg.Connection]:
    """A connection to the shared seeded copy; rolled back at the end."""
    with psycopg.connect(pdemo_ro_url) as conn:
        yield conn
        conn.rollback()


@pytest.fixture
def pdemo_url(server_url: str, pdemo_template: str, demo_copies: Copies) -> Iterator[str]:
    assert demo_copies.template == pdemo_template
    name = demo_copies.take()
    try:
        yield url_of(server_url, name)
    finally:
        demo_copies.drop(name)
