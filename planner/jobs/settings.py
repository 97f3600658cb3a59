"""Settings of the scheduled jobs: one cron expression per job, retention age, silent threshold.

The app composes this section as ``Settings.jobs``; in the environment its keys read
``FARTKOLL_JOBS__<KEY>``, e.g. ``FARTKOLL_JOBS__RETENTION_DAYS=400``. A cron expression has the
five crontab fields ``minute hour day month weekday`` (``0 6 * * mon``: Mondays 06:00) in
``time_zone``; an empty string switches the job off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from planner.settings import known_time_zone

MIN_RETENTION_DAYS = 7
"""Raw readings younger than this are never dropped: follow-up and repairs need them."""

JOB_NAMES = ("report", "plan", "retention", "silent", "consistency", "cells", "followups")


def cron_problem(expression: str, time_zone: str = "UTC") -> str | None:
    """Why a crontab expression is invalid, or None when APScheduler accepts it."""
    from apscheduler.triggers.cron import CronTrigger

    if len(expression.split()) != 5:
        return f"has {len(expression.split())} fields, needs 5 (minute hour day month weekday)"
    try:
        CronTrigger.from_crontab(expression, timezone=time_zone)
    except ValueError as e:
        return str(e)
    return None


class JobsSettings(BaseModel):
    """When each job runs and what it is allowed to do."""

    time_zone: str = "Europe/Stockholm"
    """Zone the cron expressions are read in."""

    report_cron: str = "0 6 * * mon"
    """Situation picture of the week that just ended, before the Monday meeting."""
    plan_cron: str = "30 6 * * mon"
    """Plan proposal for the coming weeks."""
    retention_cron: str = "15 3 * * *"
    silent_cron: str = "*/30 * * * *"
    consistency_cron: str = "45 2 * * *"
    cells_cron: str = "*/10 * * * *"
    """Running totals for the ranking (cell_weeks), brought up to the start of the current hour."""
    followups_cron: str = "5-59/10 * * * *"
    """Follow-ups of logged controls kept for the pages (computed again when what one rests on changed)."""

    retention_days: int = Field(400, ge=MIN_RETENTION_DAYS)
    """Raw readings older than this many days are dropped (whole chunks); rollups stay."""
    silent_hours: float = Field(6.0, gt=0, le=24 * 30)
    """A deployed sign without readings or heartbeat for longer than this is silent."""
    consistency_hours: int = Field(48, ge=1, le=24 * 62)
    """The consistency check compares the rollups of the last this many whole hours."""
    consistency_repair: bool = False
    """Let the scheduled check recompute mismatching windows from readings."""

    report_dir: Path = Path("reports")
    """Where the scheduled situation picture is written (``lagesbild-2024-W44.sv.html`` …)."""
    report_languages: tuple[Literal["sv", "en"], ...] = ("sv",)
    report_pdf: bool = True
    plan_weeks: int = Field(4, ge=1, le=12)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return known_time_zone(v)

    @field_validator("report_cron", "plan_cron", "retention_cron", "silent_cron", "consistency_cron",
                     "cells_cron", "followups_cron")
    @classmethod
    def _valid_cron(cls, v: str) -> str:
        v = " ".join(v.split())
        if v:
            problem = cron_problem(v)
            if problem:
                raise ValueError(f"is not a crontab expression: {problem} (e.g. '0 6 * * mon'; '' switches the job off)")
        return v

    def cron(self, job: str) -> str:
        """The cron expression of a job by name ('' when switched off)."""
        if job not in JOB_NAMES:
            raise KeyError(f"no job named {job!r}; jobs are {', '.join(JOB_NAMES)}")
        return getattr(self, f"{job}_cron")
