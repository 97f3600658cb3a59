"""What a site's public page adds to the figures use cases: weekly V85 and compliance with the
limit changes in the span, and the follow-up of past controls only once they are old enough.

Weeks are local Monday-to-Monday weeks of the site; each point is one direction × display mode
under one legal limit (km/h exactly as posted, never pooled; over it: v > limit), summed from
the daily sums and the hourly rollups they do not hold by the same vectorised functions as
:func:`planner.series.site_series`. Anonymous readers get no point under 30 vehicles.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from planner.controls import list_controls
from planner.daytotals import NO_LIMIT, aggregate, vehicle_parts
from planner.followup import followups_of
from planner.followupview import FollowupView, followup_view
from planner.load import Period, latest_data_hour, load_sites
from planner.names import DIRECTIONS, DirectionName, DisplayName, display_name
from planner.series import PUBLIC_MIN_VEHICLES, _num, cell_figures, posted_limits, site_window
from planner.settings import PlannerSettings
from sql import QUERIES

TREND_WEEKS = 26
"""Weeks the trends reach back from the end of the page's period."""


@dataclass(frozen=True)
class WeekPoint:
    week: date
    """Local Monday the week starts."""
    limit_kmh: float | None
    """The legal limit in km/h exactly as posted (30 mph = 48.28032)."""
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
    span = Period(start, stop)
    exact = posted_limits(conn, site_id)
    parts = vehicle_parts(conn, site_id, span.start, span.end)
    keys = [(p["direction"], p["display"], _monday(p["local_day"]),
             None if p["limit_from"] == NO_LIMIT else exact[(p["limit_timed"], p["limit_from"])]) for p in parts]
    sums = aggregate(parts, keys)
    order = sorted(sums, key=lambda k: (k[0], k[1], k[2], k[3] or 0))
    first_data = min((k[2] for k in order), default=_monday(last_day))
    mondays = tuple(first_data + timedelta(weeks=k) for k in range((_monday(last_day) - first_data).days // 7 + 1))

    def threshold(lim: float | None) -> float:
        return math.nan if lim is None else planner.threshold_kmh(lim, w.site.police_area, over_kmh)

    figs = cell_figures([sums[k] for k in order], [math.nan if k[3] is None else k[3] for k in order],
                        [threshold(k[3]) for k in order], w.rounding)
    by_line: dict[tuple[int, int], list[WeekPoint]] = defaultdict(list)
    for i, (d, m, monday, lim) in enumerate(order):
        line = (d, m)
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
    return WeeklyTrend(mondays, span, lines, changes)


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
    return [followup_view(f) for f in followups_of(conn, shown, planner, sites, latest).values()]


__all__ = ["TREND_WEEKS", "LimitChange", "WeekLine", "WeekPoint", "WeeklyTrend", "past_followups", "weekly_trend"]
