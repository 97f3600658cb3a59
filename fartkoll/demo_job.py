"""The main job: local database up, schema migrated, demo data seeded when empty, the ranking's
running totals refreshed and the controls' follow-ups kept, the scheduled jobs of ``fartkoll
planner run`` started in the background (so the running totals and follow-ups keep up with the
simulated signs' uploads), API served."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sql.migrate import migrate

from . import localdb
from .db import connect
from .serve import serve
from .settings import Settings

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler


def prepare(settings: Settings, *, weeks: int, seed: int) -> None:
    if not settings.database_url:
        print(localdb.up(settings.localdb, log=print).describe(), flush=True)
    with connect(settings) as conn:
        applied = migrate(conn)
        if applied:
            print("schema: applied " + ", ".join(applied), flush=True)
        from .demo import is_empty
        from .demo import seed as seed_demo

        if is_empty(conn):
            t0 = time.monotonic()
            summary = seed_demo(conn, weeks=weeks, seed=seed, log=lambda m: print(m, flush=True))
            conn.commit()
            print(f"demo data: {summary} in {time.monotonic() - t0:.1f} s", flush=True)
        else:
            print("demo data: already present (database not empty)", flush=True)
    _refresh_cells(settings)


def seed_only(settings: Settings, *, weeks: int, seed: int) -> int:
    with connect(settings) as conn:
        migrate(conn)
        from .demo import seed as seed_demo

        t0 = time.monotonic()
        summary = seed_demo(conn, weeks=weeks, seed=seed, log=lambda m: print(m, flush=True))
        conn.commit()
    print(f"demo data: {summary} in {time.monotonic() - t0:.1f} s")
    _refresh_cells(settings)
    return 0


def _refresh_cells(settings: Settings) -> None:
    """Bring the ranking's running totals up to the start of the current hour and keep the
    controls' follow-ups, as the cells and followups jobs do."""
    from planner.jobs.tasks import run_cells, run_followups

    now = datetime.now(timezone.utc)
    print(run_cells(settings, lambda: connect(settings), now), flush=True)
    print(run_followups(settings, lambda: connect(settings), now), flush=True)


def start_jobs(settings: Settings) -> BaseScheduler:
    """The scheduled jobs of ``fartkoll planner run`` (cron times in the settings), started in
    this process's background."""
    from planner.jobs import tasks
    from planner.jobs.scheduler import build_scheduler
    from planner.jobs.settings import JOB_NAMES

    jobs = settings.jobs
    sched = build_scheduler({name: jobs.cron(name) for name in JOB_NAMES}, jobs.time_zone,
                            tasks.runners(settings, lambda: connect(settings), lambda: datetime.now(timezone.utc)),
                            background=True)
    sched.start()
    return sched


def run_demo(settings: Settings, *, weeks: int, seed: int, host: str | None, port: int | None) -> int:
    prepare(settings, weeks=weeks, seed=seed)
    from .demo_live import LivingDemo, local_url

    sched = start_jobs(settings)
    print("scheduled jobs running: " + ", ".join(j.id for j in sched.get_jobs()), flush=True)
    try:
        with LivingDemo(lambda: connect(settings), local_url(settings, host, port),
                        out=lambda m: print(m, flush=True)):
            return serve(settings, host=host, port=port)
    finally:
        sched.shutdown(wait=False)
