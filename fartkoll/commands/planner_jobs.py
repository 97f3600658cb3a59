"""`fartkoll planner run | report | job …`: the scheduler, the situation picture, and each job once.

``fartkoll/commands/planner.py`` owns the ``planner`` parser and calls ``add_commands`` with its
subparsers; each command here sets its own handler.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from core.errors import InvalidInput

from ..settings import Settings

JOBS_HELP = {
    "report": "write the situation picture of the last complete week (languages and PDF as in the settings)",
    "plan": "draw and store a plan proposal for the coming weeks (the settings' patrol slots)",
    "retention": "drop raw readings older than jobs.retention_days (whole chunks; rollups stay)",
    "silent": "alert deployed signs without passes or heartbeat for over jobs.silent_hours",
    "consistency": "compare the recent hourly rollups with the readings (and optionally repair them)",
    "cells": "bring the ranking's running totals (cell_weeks) up to the start of the current hour",
    "followups": "keep each logged control's follow-up for the pages (again where its data, limits or settings changed)",
}


def add_commands(ps: argparse._SubParsersAction) -> None:
    """Add ``run``, ``report`` and ``job`` to the ``planner`` subparsers."""
    r = ps.add_parser("run", help="run the scheduled jobs (cron times in the settings) until stopped")
    r.add_argument("--list", action="store_true", help="print each job's cron expression and next run, then exit")
    r.set_defaults(handler=run_scheduler)

    rep = ps.add_parser("report", help="situation picture (lägesbild) of a week for the joint meeting, HTML or PDF")
    rep.add_argument("--week", help="ISO week, e.g. 2024-W44 or 44 (default: the last complete week)")
    rep.add_argument("--lang", choices=("sv", "en"), default="sv", help="language (default sv)")
    rep.add_argument("--out", type=Path, help="output file; .pdf gives a PDF (needs chromium); default: HTML on stdout")
    rep.add_argument("--at", help="the moment the picture is made as of (ISO date-time; default: now)")
    rep.add_argument("--json", action="store_true", help="print the picture's figures as JSON instead of HTML")
    rep.set_defaults(handler=report)

    j = ps.add_parser("job", help="run one scheduled job once, now")
    js = j.add_subparsers(dest="job", required=True, metavar="JOB")
    for name, text in JOBS_HELP.items():
        q = js.add_parser(name, help=text)
        q.add_argument("--at", help="run as of this moment (ISO date-time, local zone if none; default: now)")
        if name == "retention":
            q.add_argument("--days", type=int, help="age in days (default: jobs.retention_days)")
            q.add_argument("--dry-run", action="store_true", help="list what would be dropped, drop nothing")
        elif name == "consistency":
            q.add_argument("--hours", type=int, help="check the last N whole hours (default: jobs.consistency_hours)")
            q.add_argument("--from", dest="start", help="window start (ISO date-time) instead of --hours")
            q.add_argument("--to", dest="end", help="window end (ISO date-time, exclusive)")
            q.add_argument("--repair", action="store_true", help="recompute the window's rollups from readings")
        elif name == "silent":
            q.add_argument("--hours", type=float, help="silence threshold in hours (default: jobs.silent_hours)")
        elif name == "report":
            q.add_argument("--week", help="ISO week, e.g. 2024-W44 (default: the last complete week)")
        elif name == "plan":
            q.add_argument("--seed", type=int, help="random seed (default: an unpredictable one, stored with the plan)")
            q.add_argument("--json", action="store_true", help="print the stored plan as JSON (as the API gives it)")
        elif name == "cells":
            q.add_argument("--sites", help="only these site ids, comma-separated, e.g. 1,2 (default: every site)")
    j.set_defaults(handler=run_job)


class _BadArgument(InvalidInput):
    """A command-line value is not understood."""


def _moment(value: str | None, tz: str, what: str = "--at") -> datetime:
    if not value:
        return datetime.now(timezone.utc)
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise _BadArgument(f"{what} {value!r} is not an ISO date-time like 2024-10-21T16:00") from None
    return t if t.tzinfo else t.replace(tzinfo=ZoneInfo(tz))


def _site_ids(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        ids = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise _BadArgument(f"--sites {value!r} is not a comma-separated list of site ids like 1,2") from None
    if not ids:
        raise _BadArgument(f"--sites {value!r} names no site; give ids like 1,2 or leave --sites out")
    return ids


def _connect(settings: Settings):
    """The ``connect`` callable the jobs are handed."""
    from ..db import connect

    return lambda: connect(settings)


def run_job(args: argparse.Namespace, settings: Settings) -> int:
    from planner.jobs import tasks

    tz = settings.default_time_zone
    connect = _connect(settings)
    now = _moment(args.at, tz)
    if args.job == "retention":
        result = tasks.run_retention(settings, connect, now, days=args.days, dry_run=args.dry_run)
    elif args.job == "consistency":
        start = _moment(args.start, tz, "--from") if args.start else None
        end = _moment(args.end, tz, "--to") if args.end else None
        if (start is None) != (end is None):
            raise _BadArgument("give both --from and --to, or neither")
        if args.hours and start is None:
            from planner.jobs.consistency import last_hours

            start, end = last_hours(now, args.hours)
        result = tasks.run_consistency(settings, connect, now, start=start, end=end, repair=args.repair or None)
    elif args.job == "silent":
        result = tasks.run_silent(settings, connect, now, hours=args.hours)
    elif args.job == "report":
        result = tasks.run_report(settings, connect, now, week=args.week)
    elif args.job == "cells":
        result = tasks.run_cells(settings, connect, now, site_ids=_site_ids(args.sites))
    elif args.job == "followups":
        result = tasks.run_followups(settings, connect, now)
    else:
        result = tasks.run_plan(settings, connect, now, seed=args.seed)
        if args.json:
            print(result.outcome.view().model_dump_json(indent=2))
            return 0
    print(result)
    return 1 if args.job == "consistency" and not result.ok and not result.repaired else 0


def report(args: argparse.Namespace, settings: Settings) -> int:
    from planner.jobs import tasks

    now = _moment(args.at, settings.default_time_zone)
    if args.out is not None:  # a wrong extension is refused before anything is gathered
        from planner.report.situation import output_format

        output_format(args.out)
    if args.json:
        from planner.report.situation import SITUATION

        pic = tasks.build_report(settings, _connect(settings), now, args.week)
        print(SITUATION.dump_json(pic, indent=2).decode())
        return 0
    label, html = tasks.build_report_html(settings, _connect(settings), now, args.week, args.lang)
    if args.out is None:
        sys.stdout.write(html)
        return 0
    path = tasks.write_report(html, args.out)
    print(f"situation picture {label} ({args.lang}): {path}")
    return 0


def run_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    from planner.jobs import tasks
    from planner.jobs.scheduler import build_scheduler, next_runs
    from planner.jobs.settings import JOB_NAMES

    jobs = settings.jobs
    crons = {name: jobs.cron(name) for name in JOB_NAMES}
    upcoming = next_runs(crons, jobs.time_zone, datetime.now(timezone.utc))
    sched = build_scheduler(crons, jobs.time_zone,
                            tasks.runners(settings, _connect(settings), lambda: datetime.now(timezone.utc)))
    zone = ZoneInfo(jobs.time_zone)
    for name in JOB_NAMES:
        when = upcoming.get(name)
        nxt = when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if when else "switched off"
        print(f"{name:<12} {crons[name] or '-':<16} next {nxt}")
    if args.list:
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print("scheduler running; Ctrl-C stops it", flush=True)
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0
