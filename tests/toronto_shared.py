"""The whole real Toronto file imported once per test run into a database that the tests read.

The first process to need it imports the file (timed) into a fresh migrated database while
holding an advisory lock, records the import's summary on the database (COMMENT ON DATABASE)
and makes every later transaction on it read-only; the other processes wait for that lock and
read the same database and summary. The root conftest loads this module as a plugin and drops
the database when the whole run ends.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from dbcopy import create_database, drop_database, url_of
from psycopg import sql
from seeded_demo import run_id

from collector.importers.places import Area
from collector.importers.toronto import import_toronto
from collector.plausible import TimeRule

AREA = Area("Toronto", "Toronto Police Service")


def toronto_file() -> Path | None:
    """The shared real file (../shared/data/toronto/ relative to the repository), if present."""
    for parent in Path(__file__).resolve().parents:
        f = parent / "shared" / "data" / "toronto" / "wys_mobile_speed_summary.csv"
        if f.exists():
            return f
    return None


@dataclass(frozen=True)
class TorontoImport:
    """What the one import of the real file stored, and where."""
    url: str
    path: str
    read: int
    stored: int
    duplicates: int
    vehicles_stored: int
    rejected: int
    skipped: int
    seconds: float


def toronto_db_name(config: pytest.Config) -> str:
    return f"fk_toronto_{run_id(config)}"


def drop_toronto_db(server_url: str, config: pytest.Config) -> None:
    drop_database(server_url, toronto_db_name(config))


@pytest.fixture(scope="session")
def toronto_import(server_url: str, template_db: str, pytestconfig: pytest.Config) -> TorontoImport:
    path = toronto_file()
    if path is None:
        pytest.skip("the shared Toronto file is not here")
    name = toronto_db_name(pytestconfig)
    url = url_of(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
        try:
            row = admin.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                                (name,)).fetchone()
            if row is None or row[0] is None:  # absent, or an import that did not finish
                create_database(server_url, name, template_db)
                with psycopg.connect(url) as conn:
                    t0 = time.monotonic()
                    s = import_toronto(conn, str(path), area=AREA, rule=TimeRule(), received=datetime.now(UTC),
                                       after_batch=lambda s: conn.commit())
                    conn.commit()
                    seconds = time.monotonic() - t0
                summary = {"read": s.read, "stored": s.stored, "duplicates": s.duplicates,
                           "vehicles_stored": s.vehicles_stored, "rejected": len(s.rejected),
                           "skipped": len(s.skipped), "seconds": seconds}
                ident = sql.Identifier(name)
                admin.execute(sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(ident))
                admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident, sql.Literal(json.dumps(summary))))
            else:
                summary = json.loads(row[0])
        finally:
            admin.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
    return TorontoImport(url=url, path=str(path), **summary)
