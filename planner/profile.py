"""Hour × weekday profile of one site: vehicles per observed hour and V85 in each local hour of
the week, for one direction × display mode.

Normalised by observed hours: a cell's volume is its vehicles divided by the hours of that
hour-of-week in the period in which the site's signs measured (coverage records; an hour with
vehicles but no coverage record counts as observed). Cells never observed are ``None``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from zoneinfo import ZoneInfo

import psycopg
from pydantic import BaseModel

from planner.names import DIRECTIONS, DISPLAYS, DirectionName, DisplayName
from planner.series import (
    HOUR,
    PUBLIC_MIN_VEHICLES,
    HourRow,
    _num,
    load_coverage,
    load_hours,
    site_ref,
    site_window,
    sum_hist,
    v85_of,
)
from planner.settings import PlannerSettings
from planner.sitestats import PeriodView, SiteRef

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ProfileCell(BaseModel):
    weekday: str
    hour: int
    """Local hour of day, 0..23."""
    observed_hours: int
    vehicles_per_hour: float | None
    v85_kmh: float | None
    small: bool = False
    withheld: bool = False


class ProfileLine(BaseModel):
    direction: DirectionName
    display: DisplayName
    cells: list[ProfileCell]
    """168 cells, Monday 00 first."""


class SiteProfile(BaseModel):
    site: SiteRef
    period: PeriodView
    public: bool
    lines: list[ProfileLine]


def site_profile(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, *, public: bool,
                 date_from: date | None = None, date_to: date | None = None) -> SiteProfile:
    """The profile use case (``GET /api/v1/sites/{id}/profile``)."""
    w = site_window(conn, planner, site_id, date_from=date_from, date_to=date_to)
    tz = ZoneInfo(w.site.time_zone)

    def how(t) -> int:
        local = t.astimezone(tz)
        return local.weekday() * 24 + local.hour

    coverage = load_coverage(conn, w)
    rows = load_hours(conn, w)
    data_hours = {r.hour for r in rows}
    observed = [0] * 168
    t = w.period.start
    while t < w.period.end:
        if coverage.get(t, 0) > 0 or t in data_hours:
            observed[how(t)] += 1
        t += HOUR
    cells: dict[tuple[int, int], dict[int, list[HourRow]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        cells[(r.direction, r.display)][how(r.hour)].append(r)
    lines = []
    for (d, m), by_how in sorted(cells.items()):
        out = []
        for h in range(168):
            rs = by_how.get(h, [])
            obs = observed[h]
            n = sum(r.n for r in rs)
            v85 = None
            if rs:
                counts, lo = sum_hist(rs)
                v85 = v85_of(counts, lo, w.rounding)
            hide = public and 0 < n < PUBLIC_MIN_VEHICLES
            out.append(ProfileCell(weekday=WEEKDAYS[h // 24], hour=h % 24, observed_hours=obs,
                                   vehicles_per_hour=None if hide or obs == 0 else _num(n / obs),
                                   v85_kmh=None if hide else _num(v85), small=0 < n < PUBLIC_MIN_VEHICLES,
                                   withheld=hide))
        lines.append(ProfileLine(direction=DIRECTIONS[d], display=DISPLAYS[m], cells=out))
    return SiteProfile(site=site_ref(w.site), period=PeriodView(from_=w.period.start, to=w.period.end),
                       public=public, lines=lines)


__all__ = ["SiteProfile", "site_profile"]
