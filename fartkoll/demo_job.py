"""The main job: local database up, schema migrated, demo data seeded when empty, API served."""

from __future__ import annotations

import time

from sql.migrate import migrate

from . import localdb
from .db import connect
from .serve import serve
from .settings import Settings


def prepare(settings: Settings, *, weeks: int, seed: int) -> None:
    if not settings.database_url:
        print(localdb.up(settings.localdb, log=print).describe(), flush=True)
    with connect(settings) as conn:
        applied = migrate(conn)
        if applied:
            print("schema: applied " + ", ".join(applied), flush=True)
        from .demo import is_empty, seed as seed_demo

        if is_empty(conn):
            t0 = time.monotonic()
            summary = seed_demo(conn, weeks=weeks, seed=seed, log=lambda m: print(m, flush=True))
            conn.commit()
            print(f"demo data: {summary} in {time.monotonic() - t0:.1f} s", flush=True)
        else:
            print("demo data: already present (database not empty)", flush=True)


def seed_only(settings: Settings, *, weeks: int, seed: int) -> int:
    with connect(settings) as conn:
        migrate(conn)
        from .demo import seed as seed_demo

        t0 = time.monotonic()
        summary = seed_demo(conn, weeks=weeks, seed=seed, log=lambda m: print(m, flush=True))
        conn.commit()
    print(f"demo data: {summary} in {time.monotonic() - t0:.1f} s")
    return 0


def run_demo(settings: Settings, *, weeks: int, seed: int, host: str | None, port: int | None) -> int:
    prepare(settings, weeks=weeks, seed=seed)
    return serve(settings, host=host, port=port)
