"""What a site's public page adds to the figures use cases: weekly V85 and compliance with the
limit changes in the span, and the follow-up of past controls only once they are old enough.

Weeks are local Monday-to-Monday weeks of the site; each point is one direction × display mode
under one legal limit (never pooled), summed from the hourly rollups by the same vectorised
functions as :func:`planner.series.site_series`. Anonymous readers get no point under 30 vehicles.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from psycopg.rows import dict_row

from planner.controls import list_controls
from planner.daytotals import Sums
from planner.followup import followup_control
from planner.followupview import FollowupView, followup_view
from planner.load import Period, latest_data_hour, load_sites
from planner.names import DIRECTIONS, DirectionName, DisplayName, display_name
from planner.series import PUBLIC_MIN_VEHICLES, HourRow, Window, _num, cell_figures, load_hours, site_window
from planner.settings import PlannerSettings
from sql import QUERIES

TREND_WEEKS = 26
"""Weeks the trends reach back from the end of the page's period."""


@dataclass(frozen=True)
class WeekPoint:
    week: date
    """Local Monday the week starts."""
    limit_kmh: int | None
    n: int | None
    """None: fewer than 30 vehicles (withheld from anonymous readers)."""
    v85_kmh: float | None
    within_limit_share: float | None
    """Compliance: share of vehicles at or under the limit, 0..1."""
    small: bool


@dataclass(frozen=True)
class WeekLine:
    direction: DirectionName
    display: DisplayName
    points: tuple[WeekPoint, ...]


@dataclass(frozen=True)
class LimitChange:
    at: date
    """Local day the new limit took effect."""
    before_kmh: int
    after_kmh: int


@dataclass(frozen=True)
class WeeklyTrend:
    weeks: tuple[date, ...]
    period: Period
    lines: tuple[WeekLine, ...]
    limit_changes: tuple[LimitChange, ...]


def _sums(rows: list[HourRow]) -> Sums:
    """One week's hourly rollups summed (what ``cell_figures`` reads)."""
    acc = Sums()
    for r in rows:
        acc.n += r.n
        acc.sum_kmh += r.sum_kmh
        acc.sumsq_kmh += r.sumsq_kmh
        acc.hours += 1
        acc.add_counts(r.hist_lo, np.asarray(r.hist))
    return acc


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def weekly_trend(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, *, public: bool,
                 end: datetime | None = None, weeks: int = TREND_WEEKS, over_kmh: float = 6.0) -> WeeklyTrend:
    """V85 and compliance per local week for at most ``weeks`` weeks up to ``end`` (default: the
    end of the site's data), from the first week with data, with the legal-limit changes inside."""
    w = site_window(conn, planner, site_id)
    tz = ZoneInfo(w.site.time_zone)
    stop = end or w.period.end
    last_day = (stop - timedelta(microseconds=1)).astimezone(tz).date()
    first_monday = _monday(last_day) - timedelta(weeks=weeks - 1)
    start = datetime.combine(first_monday, time(0), tz).astimezone(timezone.utc)
    span = Window(w.site, Period(start, stop), w.rounding)
    cells: dict[tuple[int, int], dict[tuple[date, int | None], list[HourRow]]] = defaultdict(lambda: defaultdict(list))
    for r in load_hours(conn, span):
        cells[(r.direction, r.display)][(_monday(r.hour.astimezone(tz).date()), r.limit_kmh)].append(r)
    order = [(line, cell) for line in sorted(cells) for cell in sorted(cells[line], key=lambda c: (c[0], c[1] or 0))]
    first_data = min((cell[0] for _, cell in order), default=_monday(last_day))
    mondays = tuple(first_data + timedelta(weeks=k) for k in range((_monday(last_day) - first_data).days // 7 + 1))

    def threshold(lim: int | None) -> float:
        return math.nan if lim is None else planner.threshold_kmh(lim, w.site.police_area, over_kmh)

    figs = cell_figures([_sums(cells[line][cell]) for line, cell in order],
                        [math.nan if c[1] is None else float(c[1]) for _, c in order],
                        [threshold(c[1]) for _, c in order], w.rounding)
    by_line: dict[tuple[int, int], list[WeekPoint]] = defaultdict(list)
    for i, (line, (monday, lim)) in enumerate(order):
        n = int(round(figs.n[i]))
        if public and n < PUBLIC_MIN_VEHICLES:
            by_line[line].append(WeekPoint(monday, lim, None, None, None, True))
            continue
        over = _num(figs.over_limit[i], 4)
        by_line[line].append(WeekPoint(monday, lim, n, _num(figs.v85[i]), None if over is None else round(1 - over, 4),
                                       n < PUBLIC_MIN_VEHICLES))
    lines = tuple(WeekLine(DIRECTIONS[d], display_name(m), tuple(by_line[(d, m)])) for d, m in sorted(by_line))
    with conn.cursor(row_factory=dict_row) as cur:
        spans = cur.execute(QUERIES["figures_limit_changes"], {"site_id": site_id}).fetchall()
    changes = tuple(LimitChange(b["valid_from"].astimezone(tz).date(), a["limit_kmh"], b["limit_kmh"])
                    for a, b in zip(spans, spans[1:], strict=False)
                    if start <= b["valid_from"] < stop and a["limit_kmh"] != b["limit_kmh"])
    return WeeklyTrend(mondays, span.period, lines, changes)


def past_followups(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, *, now: datetime,
                   delay: timedelta, limit: int = 5) -> list[FollowupView]:
    """The follow-up of the site's controls that ended at least ``delay`` before ``now``, newest
    first (at most ``limit``): a control still inside the delay is not evaluated, not listed and
    not counted, so no current control place or time can be read from the page."""
    shown = [c for c in list_controls(conn, site_id) if c.end_time <= now - delay][:limit]
    if not shown:
        return []
    sites = load_sites(conn)
    latest = latest_data_hour(conn)
    return [followup_view(followup_control(conn, c, planner, sites, latest)) for c in shown]


__all__ = ["TREND_WEEKS", "LimitChange", "WeekLine", "WeekPoint", "WeeklyTrend", "past_followups", "weekly_trend"]
