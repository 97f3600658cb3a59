"""The jobs' timetable: APScheduler 3.x cron triggers from the crontab strings in the settings.

``triggers`` checks every expression (an error names the job and the expression),
``next_runs`` says when each job fires next after a given moment (no clock read), and
``build_scheduler`` puts the jobs on a BlockingScheduler that ``fartkoll planner run`` starts (or on
a BackgroundScheduler, which ``fartkoll demo`` runs beside its server).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from core.errors import InvalidInput

log = logging.getLogger(__name__)
_EPSILON = timedelta(microseconds=1)


class ScheduleError(InvalidInput):
    """A job's cron expression is unusable; the message names the job, the expression and the fix."""


def triggers(crons: Mapping[str, str], time_zone: str) -> dict[str, CronTrigger]:
    """A cron trigger per job; jobs with an empty expression are switched off and left out."""
    out: dict[str, CronTrigger] = {}
    for name, expression in crons.items():
        expression = " ".join(expression.split())
        if not expression:
            continue
        fields = expression.split()
        problem = f"it has {len(fields)} fields, not 5" if len(fields) != 5 else None
        if problem is None:
            try:
                out[name] = CronTrigger.from_crontab(expression, timezone=time_zone)
            except ValueError as e:  # APScheduler's own message for a bad field
                problem = str(e)
        if problem is not None:
            raise ScheduleError(
                f"job {name!r}: cron expression {expression!r} is invalid ({problem}); write five fields "
                f"'minute hour day month weekday' such as '0 6 * * mon', or '' to switch the job off "
                f"(setting jobs.{name}_cron, FARTKOLL_JOBS__{name.upper()}_CRON)"
            ) from None
    return out


def next_runs(crons: Mapping[str, str], time_zone: str, after: datetime) -> dict[str, datetime]:
    """When each switched-on job fires next, strictly after the aware datetime ``after``."""
    if after.tzinfo is None:
        raise ValueError(f"`after` must be timezone-aware, got {after!r}")
    out = {}
    for name, trig in triggers(crons, time_zone).items():
        # APScheduler fires at or after the start; one microsecond on makes it "strictly after"
        nxt = trig.get_next_fire_time(None, after + _EPSILON)
        if nxt is not None:
            out[name] = nxt
    return out


def build_scheduler(
    crons: Mapping[str, str],
    time_zone: str,
    runners: Mapping[str, Callable[[], object]],
    *,
    misfire_grace_s: int = 15 * 60,
    background: bool = False,
) -> BaseScheduler:
    """A BlockingScheduler (``background``: a BackgroundScheduler, whose ``start`` returns and runs
    the jobs in its own threads) with one job per switched-on cron expression (not started).

    A job that is still running when it is due again is skipped (one instance at a time); runs
    missed while the process was down are made up once if at most ``misfire_grace_s`` late.
    """
    trigs = triggers(crons, time_zone)
    unknown = sorted(set(trigs) - set(runners))
    if unknown:
        raise ScheduleError(f"no runner for job(s) {', '.join(unknown)}; known jobs: {', '.join(sorted(runners))}")
    sched = (BackgroundScheduler if background else BlockingScheduler)(timezone=time_zone)
    for name, trig in trigs.items():
        sched.add_job(_logged(name, runners[name]), trig, id=name, name=name, max_instances=1,
                      coalesce=True, misfire_grace_time=misfire_grace_s)
    return sched


def _logged(name: str, runner: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        result = runner()
        log.info("job %s: %s", name, result)
    run.__name__ = f"job_{name}"
    return run
