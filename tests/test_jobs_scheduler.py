"""The scheduler builds cron jobs from the settings, says when they fire, and runs a job."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from planner.jobs.scheduler import ScheduleError, build_scheduler, next_runs, triggers
from planner.jobs.settings import JOB_NAMES, JobsSettings

STHLM = ZoneInfo("Europe/Stockholm")


def test_next_run_times_follow_the_cron_strings_in_local_time_across_dst():
    s = JobsSettings()
    crons = {name: s.cron(name) for name in JOB_NAMES}
    # Saturday 26 October 2024, 12:10 UTC; summer time ends on Sunday the 27th at 03:00 local
    after = datetime(2024, 10, 26, 12, 10, tzinfo=timezone.utc)
    runs = next_runs(crons, s.time_zone, after)
    assert set(runs) == set(JOB_NAMES)
    local = {k: v.astimezone(STHLM).replace(tzinfo=None) for k, v in runs.items()}
    assert local == {
        "report": datetime(2024, 10, 28, 6, 0),      # Monday 06:00
        "plan": datetime(2024, 10, 28, 6, 30),
        "retention": datetime(2024, 10, 27, 3, 15),   # daily 03:15, the first one in winter time
        "silent": datetime(2024, 10, 26, 14, 30),     # every half hour: 12:10 UTC is 14:10 local
        "consistency": datetime(2024, 10, 27, 2, 45),
        "cells": datetime(2024, 10, 26, 14, 20),      # every ten minutes
        "followups": datetime(2024, 10, 26, 14, 15),  # every ten minutes, five past
    }
    assert runs["report"] == datetime(2024, 10, 28, 5, 0, tzinfo=timezone.utc)  # CET = UTC+1
    assert runs["silent"] == datetime(2024, 10, 26, 12, 30, tzinfo=timezone.utc)
    # strictly after: a moment on the dot gives the next one
    assert next_runs({"silent": "*/30 * * * *"}, "UTC", datetime(2024, 1, 1, 10, 30, tzinfo=timezone.utc)) == {
        "silent": datetime(2024, 1, 1, 11, 0, tzinfo=timezone.utc)}


def test_a_job_with_an_empty_cron_is_switched_off():
    assert set(triggers({"report": "", "silent": "0 * * * *"}, "UTC")) == {"silent"}
    assert JobsSettings(plan_cron="  ").cron("plan") == ""
    assert JobsSettings(report_cron="0  6 * *  MON").cron("report") == "0 6 * * MON"


@pytest.mark.parametrize("expression", ["61 * * * *", "0 6 * *", "0 6 * * funday", "every monday"])
def test_invalid_cron_names_the_job_and_the_expression(expression):
    with pytest.raises(ScheduleError) as e:
        triggers({"report": "0 6 * * mon", "retention": expression}, "Europe/Stockholm")
    msg = str(e.value)
    assert "'retention'" in msg and repr(expression) in msg and "FARTKOLL_JOBS__RETENTION_CRON" in msg
    with pytest.raises(ValidationError) as v:
        JobsSettings(retention_cron=expression)
    assert "retention_cron" in str(v.value) and expression in str(v.value)


def test_scheduler_has_one_job_per_cron_and_runs_a_job():
    ran = threading.Event()
    calls: list[str] = []

    def silent() -> str:
        calls.append("silent")
        ran.set()
        return "ok"

    crons = {"silent": "*/30 * * * *", "report": "0 6 * * mon", "plan": ""}
    with pytest.raises(ScheduleError, match="no runner for job"):
        build_scheduler(crons, "Europe/Stockholm", {"silent": silent})
    sched = build_scheduler(crons, "Europe/Stockholm", {"silent": silent, "report": lambda: "r", "plan": lambda: "p"})
    assert sorted(j.id for j in sched.get_jobs()) == ["report", "silent"]
    job = sched.get_job("silent")
    assert str(job.trigger.timezone) == "Europe/Stockholm" and job.max_instances == 1 and job.coalesce

    thread = threading.Thread(target=sched.start, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if sched.running:
                break
            threading.Event().wait(0.05)
        sched.modify_job("silent", next_run_time=datetime.now(timezone.utc))
        assert ran.wait(10), "the scheduler did not run the job"
    finally:
        sched.shutdown(wait=True)
        thread.join(5)
    assert calls == ["silent"] and not thread.is_alive()
