"""The cells job: the ranking's running totals refreshed once (CLI) and on its cron (scheduler)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg

from fartkoll.cli import main
from fartkoll.db import connect
from fartkoll.settings import Settings
from planner.jobs import tasks
from planner.jobs.scheduler import build_scheduler, next_runs, triggers
from planner.jobs.settings import JOB_NAMES, JobsSettings

UTC = timezone.utc
SATURDAY = datetime(2024, 11, 2, 11, 0, tzinfo=UTC)  # 12:00 in Stockholm, week 44 of the seeded demo
MONDAY = datetime(2024, 11, 4, 5, 0, tzinfo=UTC)     # 06:00 in Stockholm; the demo's passes end the day before

ROLLUP_SITES = "SELECT DISTINCT site_id FROM rollup_hourly WHERE limit_kmh IS NOT NULL AND hour < %s ORDER BY 1"


def test_cells_job_fills_the_running_totals_then_rebuilds_only_from_the_current_week(seeded_url, monkeypatch,
                                                                                     capsys):
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    assert main(["planner", "job", "cells", "--at", "2024-11-02T12:20"]) == 0  # local time: the hour from 11:00Z
    out = capsys.readouterr().out
    assert out.startswith("running totals up to 2024-11-02 11:00Z: ")
    with psycopg.connect(seeded_url) as conn:
        with_data = [r[0] for r in conn.execute(ROLLUP_SITES, (SATURDAY,))]
        n_sites = conn.execute("SELECT count(*) FROM sites").fetchone()[0]
        assert with_data and f"{n_sites} sites ({n_sites} from their first week)" in out
        state = dict(conn.execute("SELECT site_id, through_hour FROM cell_weeks_state").fetchall())
        assert {s: state.get(s) for s in with_data} == {s: SATURDAY for s in with_data}
        assert [r[0] for r in conn.execute("SELECT DISTINCT site_id FROM cell_weeks ORDER BY 1")] == with_data
        # the rows the second run has to read: each site's rollups from its week of SATURDAY up to MONDAY
        expected = conn.execute(
            "SELECT count(*) FROM rollup_hourly r JOIN sites s ON s.id = r.site_id WHERE r.limit_kmh IS NOT NULL "
            "AND r.local_week >= local_week(%s, s.time_zone) AND r.hour < %s", (SATURDAY, MONDAY)).fetchone()[0]

    settings = Settings.load()
    again = tasks.run_cells(settings, lambda: connect(settings), MONDAY.replace(minute=59))
    assert again.until == MONDAY and again.sites == n_sites and not again.skipped_busy
    assert again.rebuilt_from_start == 0
    assert 0 < again.rollup_rows == expected
    with psycopg.connect(seeded_url) as conn:
        assert {r[0] for r in conn.execute("SELECT DISTINCT through_hour FROM cell_weeks_state")} == {MONDAY}


def test_cells_job_takes_site_ids_and_refuses_a_bad_list(seeded_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    with psycopg.connect(seeded_url) as conn:
        first_two = [r[0] for r in conn.execute(ROLLUP_SITES, (MONDAY,))][:2]
    assert main(["planner", "job", "cells", "--at", "2024-11-04T06:00",
                 "--sites", ",".join(map(str, first_two))]) == 0
    assert "2 sites (2 from their first week)" in capsys.readouterr().out
    with psycopg.connect(seeded_url) as conn:
        assert conn.execute("SELECT site_id, through_hour FROM cell_weeks_state ORDER BY 1").fetchall() == [
            (s, MONDAY) for s in first_two]
    assert main(["planner", "job", "cells", "--sites", "1,two"]) == 2
    assert "--sites '1,two'" in capsys.readouterr().err


def test_scheduler_runs_the_cells_job_every_ten_minutes_up_to_the_hour(db_url):
    assert "cells" in JOB_NAMES and tasks.TASKS["cells"] is tasks.run_cells
    jobs = JobsSettings()
    assert jobs.cron("cells") == "*/10 * * * *"
    crons = {name: jobs.cron(name) for name in JOB_NAMES}
    assert next_runs(crons, jobs.time_zone, datetime(2024, 10, 26, 12, 10, tzinfo=UTC))["cells"] == datetime(
        2024, 10, 26, 12, 20, tzinfo=UTC)

    settings = Settings.load(database_url=db_url)
    clock = lambda: datetime(2024, 10, 26, 12, 10, 30, tzinfo=UTC)  # noqa: E731
    runners = tasks.runners(settings, lambda: connect(settings), clock)
    sched = build_scheduler(crons, jobs.time_zone, runners)
    job = sched.get_job("cells")
    assert job is not None and job.max_instances == 1 and job.coalesce
    assert {f.name: str(f) for f in job.trigger.fields}["minute"] == "*/10"
    # the runner the scheduler fires: up to the start of the clock's hour (an empty database: no sites)
    result = runners["cells"]()
    assert result.until == datetime(2024, 10, 26, 12, 0, tzinfo=UTC) and result.sites == 0


def test_an_empty_cells_cron_switches_the_job_off(monkeypatch, capsys):
    assert JobsSettings(cells_cron=" ").cron("cells") == ""
    crons = {name: JobsSettings(cells_cron="").cron(name) for name in JOB_NAMES}
    assert "cells" not in triggers(crons, "Europe/Stockholm")
    sched = build_scheduler(crons, "Europe/Stockholm", tasks.runners(Settings.load(), lambda: None, lambda: datetime.now(UTC)))
    assert sched.get_job("cells") is None and sched.get_job("silent") is not None

    monkeypatch.setenv("FARTKOLL_JOBS__CELLS_CRON", "")
    assert main(["planner", "run", "--list"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("cells"))
    assert line.split()[1] == "-" and "switched off" in line


def test_demo_seed_leaves_fresh_running_totals_and_kept_follow_ups(db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["demo", "seed", "--weeks", "1"]) == 0
    cells, followups = capsys.readouterr().out.splitlines()[-2:]
    assert cells.startswith("running totals up to ") and "from their first week" in cells
    assert followups.startswith("follow-ups: ") and " 0 kept and still current" in followups
    until = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with psycopg.connect(db_url) as conn:
        with_data = [r[0] for r in conn.execute(ROLLUP_SITES, (until,))]
        cached = [r[0] for r in conn.execute("SELECT DISTINCT site_id FROM cell_weeks ORDER BY 1")]
        assert with_data and cached == with_data
        through = {r[0] for r in conn.execute("SELECT through_hour FROM cell_weeks_state WHERE site_id = ANY(%s)",
                                              (with_data,))}
        assert len(through) == 1 and through <= {until, until - timedelta(hours=1)}  # the hour may turn meanwhile
        controls = conn.execute("SELECT count(*) FROM controls").fetchone()[0]
        assert f"follow-ups: {controls} controls" in followups
        assert conn.execute("SELECT count(*) FROM followup_results").fetchone()[0] == controls
