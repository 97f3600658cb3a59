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
from pydantic import BaseModel

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
    """The profile use case (``GET /api/v1/sites/{id}/profile``): the cells' rollups summed and
    their V85 computed with numpy, all cells at once."""
    w = site_window(conn, planner, site_id, date_from=date_from, date_to=date_to)
    p = {"site_id": site_id, "tz": w.site.time_zone, "start": w.period.start, "end": w.period.end}
    observed = [0] * 168
    for how, hours in conn.execute(QUERIES["pages_profile_observed"], p).fetchall():
        observed[how] = int(hours)
    rows = conn.execute(QUERIES["pages_profile_hours"], p, binary=True).fetchall()
    cells: dict[tuple[int, int], dict[int, tuple[int, float]]] = defaultdict(dict)
    for (d, m, how), n, v in zip(*_cells(rows, w.rounding), strict=True):
        cells[(d, m)][how] = (n, v)
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


def _cells(rows: list[tuple], rounding: str) -> tuple[list[tuple[int, int, int]], list[int], list[float]]:
    """(direction, display, hour of week), vehicles and V85 of every cell of ``rows`` (direction,
    display, how, n, hist_lo, hist): the histograms summed per cell by one ``bincount`` and every
    V85 from one call (as :func:`planner.series.v85_of` gives each)."""
    if not rows:
        return [], [], []
    d, m, how, n, los = (np.fromiter((r[i] for r in rows), np.int64, len(rows)) for i in range(5))
    hists = [np.asarray(r[5], dtype=np.int64) for r in rows]
    keys, idx = np.unique((d * 2 + m) * 168 + how, return_inverse=True)
    lens = np.fromiter((len(h) for h in hists), np.int64, len(rows))
    lo = int(los.min())
    width = int((los + lens).max()) - lo
    flat = np.concatenate(hists)
    offset = np.arange(len(flat)) - np.repeat(np.cumsum(lens) - lens, lens)
    pos = np.repeat(idx * width + los - lo, lens) + offset
    counts = np.bincount(pos, weights=flat, minlength=len(keys) * width).reshape(len(keys), width)
    lower = lo + np.arange(width, dtype=np.float64) + ROUNDING_OFFSET_KMH.get(rounding, 0.0)
    v85 = histogram_percentile(counts, lower, np.ones_like(lower), 0.85)
    vehicles = np.bincount(idx, weights=n, minlength=len(keys))
    names = [(int(k // 336), int(k // 168 % 2), int(k % 168)) for k in keys]
    return names, [int(round(x)) for x in vehicles], [float(x) for x in v85]


__all__ = ["SiteProfile", "site_profile"]
