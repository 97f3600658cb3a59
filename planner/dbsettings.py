"""Server settings for one query: set inside a savepoint, put back afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from sql import QUERIES


@contextmanager
def query_settings(conn: psycopg.Connection, **values: str) -> Iterator[None]:
    """Run the block with these settings (e.g. ``jit="off"``) in a savepoint of the caller's
    transaction (a transaction if autocommit), then restore them; nothing is committed."""
    names = list(values)
    with conn.transaction():
        old = [r[0] for r in conn.execute(QUERIES["settings_get"], {"names": names})]
        conn.execute(QUERIES["settings_set"], {"names": names, "values": list(values.values())})
        yield
        conn.execute(QUERIES["settings_set"], {"names": names, "values": old})
