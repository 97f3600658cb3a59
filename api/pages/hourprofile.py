"""The hourly profile of a site for its page: vehicles per day and mean speed per local hour of
day, per direction × display mode (never pooled), over the period of its figures. Hours with
fewer than ``min_n`` vehicles carry no figures (public pages: 30)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from planner.load import Period
from planner.names import DirectionName, DisplayName, direction_name, display_name
from sql import QUERIES


@dataclass(frozen=True)
class HourFigures:
    hour: int
    """Local hour of day, 0..23."""
    n: int
    per_day: float | None
    mean_kmh: float | None


@dataclass(frozen=True)
class HourProfile:
    direction: DirectionName
    display: DisplayName
    hours: tuple[HourFigures, ...]
    """All 24 hours; an hour without data has n 0 and no figures."""


def hour_profiles(conn: psycopg.Connection, site_id: int, tz: str, period: Period, *, min_n: int) -> list[HourProfile]:
    rows = conn.cursor(row_factory=dict_row).execute(
        QUERIES["pages_site_hour_profile"],
        {"site_id": site_id, "tz": tz, "start": period.start, "end": period.end}).fetchall()
    groups: dict[tuple[int, int], dict[int, dict]] = {}
    for r in rows:
        groups.setdefault((r["direction"], r["display"]), {})[r["hour_of_day"]] = r
    out = []
    for (direction, display), by_hour in sorted(groups.items()):
        hours = []
        for h in range(24):
            r = by_hour.get(h)
            n = int(r["n"]) if r else 0
            shown = r is not None and n >= min_n
            hours.append(HourFigures(h, n, n / r["days"] if shown else None,
                                     float(r["sum_kmh"]) / n if shown else None))
        out.append(HourProfile(direction_name(direction), display_name(display), tuple(hours)))
    return out
