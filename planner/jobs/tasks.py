"""Each scheduled job run once: open a connection with the ``connect`` it is handed, do the work,
commit, say what happened. The scheduler calls these with the clock's ``now``; the CLI's
``planner job …`` calls them with ``--at`` when given. ``TASKS`` maps job names to them.

The jobs know nothing of the CLI: they are handed the settings they read (any object with the
fields of :class:`JobSettings`, such as ``fartkoll.settings.Settings``) and a ``connect`` callable
that opens a connection to the configured database, as ``collector.runner`` is handed its sinks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import psycopg

from planner.settings import PlannerSettings

from .consistency import ConsistencyReport, check_rollups, last_hours, repair_rollups
from .retention import RetentionResult, drop_old_readings
from .settings import JobsSettings
from .silent import SilentSign, alert_silent_signs

if TYPE_CHECKING:
    from planner.cellcache import RefreshResult
    from planner.followup_store import KeepResult
    from planner.planning import PlanOutcome
    from planner.report.model import SituationPicture


class JobSettings(Protocol):
    """What the jobs read from the settings."""

    planner: PlannerSettings
    jobs: JobsSettings
    threshold_over_kmh: float
    default_time_zone: str


Connect = Callable[[], psycopg.Connection]
"""Opens a new connection to the configured database (not autocommit)."""


def run_retention(settings: JobSettings, connect: Connect, now: datetime, *, days: int | None = None,
                  dry_run: bool = False) -> RetentionResult:
    with connect() as conn:
        result = drop_old_readings(conn, now=now, days=settings.jobs.retention_days if days is None else days,
                                   dry_run=dry_run)
        conn.commit()
    return result


def run_consistency(settings: JobSettings, connect: Connect, now: datetime, *, start: datetime | None = None,
                    end: datetime | None = None, repair: bool | None = None) -> ConsistencyReport:
    if start is None or end is None:
        start, end = last_hours(now, settings.jobs.consistency_hours)
    fix = settings.jobs.consistency_repair if repair is None else repair
    with connect() as conn:
        report = repair_rollups(conn, start, end) if fix else check_rollups(conn, start, end)
        conn.commit()
    return report


@dataclass(frozen=True)
class SilentResult:
    at: datetime
    hours: float
    signs: tuple[SilentSign, ...]

    def __str__(self) -> str:
        if not self.signs:
            return f"silent signs at {self.at:%Y-%m-%d %H:%M %Z}: none (threshold {self.hours:g} h)"
        return "\n".join([f"silent signs at {self.at:%Y-%m-%d %H:%M %Z} (threshold {self.hours:g} h): "
                          f"{len(self.signs)}, {sum(s.new for s in self.signs)} new"] + [f"  {s}" for s in self.signs])


def run_silent(settings: JobSettings, connect: Connect, now: datetime, *, hours: float | None = None) -> SilentResult:
    h = settings.jobs.silent_hours if hours is None else hours
    with connect() as conn:
        signs = alert_silent_signs(conn, now=now, hours=h)
        conn.commit()
    return SilentResult(now, h, tuple(signs))


def hour_start(now: datetime) -> datetime:
    """The start of the UTC hour containing the aware datetime ``now`` (rollups are UTC hours)."""
    if now.tzinfo is None:
        raise ValueError(f"`now` must be timezone-aware, got {now!r}")
    return now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def run_cells(settings: JobSettings, connect: Connect, now: datetime, *, site_ids: Iterable[int] | None = None) -> "RefreshResult":
    """Bring the ranking's running totals (cell_weeks) of all (or the given) sites up to the start
    of the hour of ``now``; the refresh commits after each batch of sites."""
    from planner.cellcache import refresh

    with connect() as conn:
        result = refresh(conn, settings.planner, over_kmh=settings.threshold_over_kmh, until=hour_start(now),
                         site_ids=site_ids)
        conn.commit()
    return result


def run_followups(settings: JobSettings, connect: Connect, now: datetime) -> "KeepResult":
    """Keep the follow-up of every logged control under the fingerprint of what it rests on
    (planner.followup_store), so a page finds it instead of reading the window's rollups;
    ``now`` is not used: a follow-up rests on the data, not the clock."""
    from planner.followup_store import keep_followups

    with connect() as conn:
        result = keep_followups(conn, settings.planner)
        conn.commit()
    return result


@dataclass(frozen=True)
class ReportResult:
    week: str
    files: tuple[Path, ...]

    def __str__(self) -> str:
        return f"situation picture {self.week}: " + ", ".join(str(f) for f in self.files)


def report_path(directory: Path, week: str, lang: str, suffix: str) -> Path:
    """``lagesbild-2024-W44.sv.html`` and the like in ``directory``."""
    return directory / f"lagesbild-{week}.{lang}.{suffix}"


def build_report(settings: JobSettings, connect: Connect, now: datetime, week: str | None) -> "SituationPicture":
    """The situation picture of ``week`` (default: the last complete week); read only."""
    from planner.report.situation import situation_picture

    with connect() as conn:
        pic = situation_picture(conn, settings.planner, now=now, time_zone=settings.default_time_zone, week=week,
                                over_kmh=settings.threshold_over_kmh, silent_hours=settings.jobs.silent_hours)
        conn.rollback()
    return pic


def build_report_html(settings: JobSettings, connect: Connect, now: datetime, week: str | None,
                      lang: str) -> tuple[str, str]:
    """(week label, HTML) of the situation picture of ``week`` (default: the last complete week)."""
    from planner.report.situation import situation_html

    pic = build_report(settings, connect, now, week)
    return pic.week.label, situation_html(pic, lang, settings.threshold_over_kmh)


def write_report(html: str, out: Path) -> Path:
    """Write HTML, or a PDF when ``out`` ends in .pdf."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".pdf":
        from planner.report.pdf import html_to_pdf

        return html_to_pdf(html, out)
    out.write_text(html, encoding="utf-8")
    return out


def run_report(settings: JobSettings, connect: Connect, now: datetime, *, week: str | None = None) -> ReportResult:
    """The scheduled situation picture: each configured language as HTML (and PDF) in report_dir."""
    from planner.report.situation import situation_html

    jobs = settings.jobs
    files: list[Path] = []
    pic = build_report(settings, connect, now, week)  # gathered once, rendered per language
    label = pic.week.label
    for lang in jobs.report_languages:
        html = situation_html(pic, lang, settings.threshold_over_kmh)
        files.append(write_report(html, report_path(jobs.report_dir, label, lang, "html")))
        if jobs.report_pdf:
            files.append(write_report(html, report_path(jobs.report_dir, label, lang, "pdf")))
    return ReportResult(label, tuple(files))


@dataclass(frozen=True)
class PlanResult:
    """The plan job's outcome: what it stored and the plan itself (``outcome.view()`` is its JSON)."""

    outcome: "PlanOutcome"
    weeks: int

    @property
    def plan_id(self) -> int:
        return self.outcome.plan_id

    @property
    def seed(self) -> int:
        return self.outcome.seed

    @property
    def first_day(self) -> date:
        return min(s.day for s in self.outcome.slots)

    @property
    def unmet(self) -> tuple[str, ...]:
        return tuple(self.outcome.plan.unmet)

    @property
    def controls(self) -> int:
        return len(self.outcome.plan.controls)

    def __str__(self) -> str:
        return (f"plan {self.plan_id} proposed: {self.controls} controls over {self.weeks} week(s) from "
                f"{self.first_day} (seed {self.seed}); {len(self.unmet)} rule(s) unmet"
                + "".join(f"\n  {u}" for u in self.unmet))


def run_plan(settings: JobSettings, connect: Connect, now: datetime, *, seed: int | None = None) -> PlanResult:
    """Draw and store a plan for the weeks from next Monday (the settings' patrol slots): the same
    use case as ``fartkoll planner plan`` (planner.planning.propose_plan)."""
    from planner.planning import propose_plan

    weeks = settings.jobs.plan_weeks
    with connect() as conn:
        out = propose_plan(conn, settings.planner, now=now, tz=settings.default_time_zone, actor="system",
                           weeks=weeks, seed=seed, over_kmh=settings.threshold_over_kmh)
        conn.commit()
    return PlanResult(out, weeks)


TASKS: dict[str, Callable[[JobSettings, Connect, datetime], object]] = {
    "report": run_report,
    "plan": run_plan,
    "retention": run_retention,
    "silent": run_silent,
    "consistency": run_consistency,
    "cells": run_cells,
    "followups": run_followups,
}


def runners(settings: JobSettings, connect: Connect, clock: Callable[[], datetime]) -> dict[str, Callable[[], object]]:
    """Zero-argument callables for the scheduler: each reads ``clock()`` when it fires."""
    return {name: (lambda task=task: task(settings, connect, clock())) for name, task in TASKS.items()}
