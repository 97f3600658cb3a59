"""`fartkoll demo` runs the scheduled jobs beside its server: every job of `planner run` is on the
background scheduler, and a due job runs in its thread against the demo's database."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import psycopg

from fartkoll.demo_job import start_jobs
from fartkoll.settings import Settings
from planner.jobs.settings import JOB_NAMES


def test_the_demo_runs_every_scheduled_job_in_the_background(seeded_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    settings = Settings.load()
    with psycopg.connect(seeded_url) as conn:
        controls = conn.execute("SELECT count(*) FROM controls").fetchone()[0]
        assert controls > 0 and conn.execute("SELECT count(*) FROM followup_results").fetchone()[0] == 0
    sched = start_jobs(settings)
    try:
        assert sched.running and {j.id for j in sched.get_jobs()} == set(JOB_NAMES)
        sched.get_job("followups").modify(next_run_time=datetime.now(timezone.utc))  # due now
        deadline, kept = time.monotonic() + 60, 0
        while time.monotonic() < deadline and kept < controls:
            time.sleep(0.2)
            with psycopg.connect(seeded_url) as conn:
                kept = conn.execute("SELECT count(*) FROM followup_results").fetchone()[0]
        assert kept == controls
        assert sched.get_job("followups").next_run_time > datetime.now(timezone.utc)  # back on its cron
    finally:
        sched.shutdown(wait=True)
    assert not sched.running
