"""Opening connections to the configured database, with errors that say what to do."""

from __future__ import annotations

import re

import psycopg

from core.errors import Unavailable

from .settings import Settings


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached; the message names the address and the fix."""

    exit_code = 2  # the fix is in the configuration (DATABASE_URL, `fartkoll db up`), as for settings


def redact(dsn: str) -> str:
    """The address without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", dsn)


def connect(settings: Settings, *, autocommit: bool = False) -> psycopg.Connection:
    dsn = settings.database_dsn()
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as e:
        hint = (
            "set DATABASE_URL correctly"
            if settings.database_url
            else "run `fartkoll db up` to start the local TimescaleDB, or set DATABASE_URL"
        )
        raise DatabaseUnavailable(f"cannot reach the database at {redact(dsn)}: {str(e).strip()}. Fix: {hint}.") from None
