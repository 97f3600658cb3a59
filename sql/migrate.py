"""Apply numbered migrations (``sql/migrations/NNNN_name.sql``), each in one transaction with its record."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import psycopg

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

_TRACKING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """All shipped migrations in version order; refuses gaps and malformed names."""
    found = []
    for f in resources.files("sql").joinpath("migrations").iterdir():
        if not f.name.endswith(".sql"):
            continue
        m = _NAME.match(f.name)
        if not m:
            raise RuntimeError(f"migration file {f.name!r} must be named NNNN_lowercase_name.sql")
        found.append(Migration(int(m.group(1)), f.name, f.read_text()))
    found.sort(key=lambda m: m.version)
    for i, m in enumerate(found, start=1):
        if m.version != i:
            raise RuntimeError(f"migration {m.name} breaks the numbering: expected {i:04d}_*.sql")
    return found


def applied(conn: psycopg.Connection) -> set[int]:
    conn.execute(_TRACKING)
    return {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations in order; returns the names applied (empty when up to date).

    Serialised by an advisory lock, so two processes migrating at once do not collide.
    """
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(7243001)")
        done = applied(conn)
    for m in migrations():
        if m.version in done:
            continue
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(7243001)")
            if conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (m.version,)).fetchone():
                continue
            conn.execute(m.sql)
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (m.version, m.name))
        applied_now.append(m.name)
    return applied_now
