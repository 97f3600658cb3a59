"""Hour × weekday profile of one site: vehicles per observed hour and V85 in each local hour of
the week, for one direction × display mode.

Normalised by observed hours: a cell's volume is its vehicles divided by the hours of that
hour-of-week in the period in which the site's signs measured (coverage records; an hour with
vehicles but no coverage record counts as observed). Cells never observed are ``None``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import numpy as np
import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from planner.daytotals import Sums, aggregate
from planner.names import DIRECTIONS, DISPLAYS, DirectionName, DisplayName
from planner.percentiles import histogram_percentile
from planner.series import PUBLIC_MIN_VEHICLES, _num, site_ref, site_window
from planner.settings import PlannerSettings
from planner.sitestats import PeriodView, SiteRef
from planner.stats import ROUNDING_OFFSET_KMH
from sql import QUERIES

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
    """The profile use case (``GET /api/v1/sites/{id}/profile``): each cell's rollups summed with
    numpy (:func:`planner.daytotals.aggregate`) and every cell's V85 in one vectorised call."""
    w = site_window(conn, planner, site_id, date_from=date_from, date_to=date_to)
    p = {"site_id": site_id, "tz": w.site.time_zone, "start": w.period.start, "end": w.period.end}
    observed = [0] * 168
    for how, hours in conn.execute(QUERIES["pages_profile_observed"], p).fetchall():
        observed[how] = int(hours)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUERIES["pages_profile_hours"], p, binary=True).fetchall()
    sums = aggregate(rows, [(r["direction"], r["display"], r["how"]) for r in rows])
    keys = sorted(sums)
    v85 = _v85s([sums[k] for k in keys], w.rounding)
    cells: dict[tuple[int, int], dict[int, tuple[int, float]]] = defaultdict(dict)
    for k, v in zip(keys, v85, strict=True):
        cells[(k[0], k[1])][k[2]] = (sums[k].n, float(v))
    lines = []
    for (d, m), by_how in sorted(cells.items()):
        out = []
        for h in range(168):
            n, v = by_how.get(h, (0, None))
            obs = observed[h]
            hide = public and 0 < n < PUBLIC_MIN_VEHICLES
            out.append(ProfileCell(weekday=WEEKDAYS[h // 24], hour=h % 24, observed_hours=obs,
                                   vehicles_per_hour=None if hide or obs == 0 else _num(n / obs),
                                   v85_kmh=None if hide else _num(v), small=0 < n < PUBLIC_MIN_VEHICLES,
                                   withheld=hide))
        lines.append(ProfileLine(direction=DIRECTIONS[d], display=DISPLAYS[m], cells=out))
    return SiteProfile(site=site_ref(w.site), period=PeriodView(from_=w.period.start, to=w.period.end),
                       public=public, lines=lines)


def _v85s(cells: list[Sums], rounding: str) -> np.ndarray:
    """V85 of each cell's summed 1 km/h counts (as :func:`planner.series.v85_of`), in one call."""
    if not cells:
        return np.zeros(0)
    lo = min(c.lo for c in cells)
    hi = max(c.lo + len(c.hist) for c in cells)
    m = np.zeros((len(cells), max(hi - lo, 1)))
    for i, c in enumerate(cells):
        m[i, c.lo - lo:c.lo - lo + len(c.hist)] = c.hist
    lower = lo + np.arange(m.shape[1], dtype=np.float64) + ROUNDING_OFFSET_KMH.get(rounding, 0.0)
    return histogram_percentile(m, lower, np.ones_like(lower), 0.85)


__all__ = ["SiteProfile", "site_profile"]
