"""Speed histogram of one site over a period, in 1 or 5 km/h bins, with the limit and threshold.

Bins carry true edges (a rounding sign's stored 50 is [49.5, 50.5)); 5 km/h bins group the stored
1 km/h bins by their stored speed (0-4, 5-9, ...), as Toronto's and Telraam's 5 km/h bins do.
One histogram per direction × display mode × legal limit: never pooled.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import psycopg
from pydantic import BaseModel

from planner.daytotals import NO_LIMIT, aggregate, vehicle_parts
from planner.load import LoadError
from planner.names import DIRECTIONS, DISPLAYS, DirectionName, DisplayName
from planner.series import PUBLIC_MIN_VEHICLES, posted_limits, site_ref, site_window
from planner.settings import PlannerSettings
from planner.sitestats import PeriodView, SiteRef
from planner.stats import ROUNDING_OFFSET_KMH


class SpeedBins(BaseModel):
    """Vehicles per bin [lower_kmh[i], lower_kmh[i] + width_kmh)."""

    direction: DirectionName
    display: DisplayName
    limit_kmh: float | None
    """The legal limit in force, km/h exactly as posted (30 mph = 48.28032)."""
    threshold_kmh: float | None
    n: int | None
    lower_kmh: list[float]
    counts: list[int]
    small: bool = False
    withheld: bool = False


class SiteHistogram(BaseModel):
    site: SiteRef
    period: PeriodView
    width_kmh: int
    public: bool
    groups: list[SpeedBins]
    notes: list[str]


def rebin(counts: np.ndarray, lo: int, width: int) -> tuple[np.ndarray, int]:
    """1 km/h counts from stored speed ``lo`` regrouped into ``width`` km/h bins starting at a
    multiple of ``width``; returns (counts, first bin's stored lower edge)."""
    first = (lo // width) * width
    padded = np.concatenate([np.zeros(lo - first, dtype=counts.dtype), counts])
    pad_end = (-len(padded)) % width
    padded = np.concatenate([padded, np.zeros(pad_end, dtype=counts.dtype)])
    return padded.reshape(-1, width).sum(axis=1), first


def site_histogram(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, *, public: bool,
                   width_kmh: int = 1, date_from: date | None = None, date_to: date | None = None,
                   over_kmh: float = 6.0) -> SiteHistogram:
    """The histogram use case (``GET /api/v1/sites/{id}/histogram``)."""
    if width_kmh not in (1, 5):
        raise LoadError(f"width {width_kmh} km/h is not 1 or 5",
                        errors=[{"record": None, "field": "width", "value": str(width_kmh), "reason": "not 1 or 5"}])
    w = site_window(conn, planner, site_id, date_from=date_from, date_to=date_to)
    limits = posted_limits(conn, site_id)
    parts = vehicle_parts(conn, site_id, w.period.start, w.period.end)
    groups = aggregate(parts, [(p["direction"], p["display"], None if p["limit_from"] == NO_LIMIT
                                else limits[(p["limit_timed"], p["limit_from"])]) for p in parts])
    offset = ROUNDING_OFFSET_KMH.get(w.rounding, 0.0)
    out = []
    for (d, m, lim), g in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)):
        nz = np.flatnonzero(g.hist)
        counts, lo = (g.hist[nz[0]:nz[-1] + 1], g.lo + int(nz[0])) if len(nz) else (g.hist, g.lo)
        counts, lo = rebin(counts, lo, width_kmh)
        n = int(counts.sum())
        thr = planner.threshold_kmh(lim, w.site.police_area, over_kmh) if lim is not None else None
        hide = public and n < PUBLIC_MIN_VEHICLES
        out.append(SpeedBins(direction=DIRECTIONS[d], display=DISPLAYS[m], limit_kmh=lim, threshold_kmh=thr,
                             n=None if hide else n,
                             lower_kmh=[] if hide else [lo + i * width_kmh + offset for i in range(len(counts))],
                             counts=[] if hide else [int(c) for c in counts],
                             small=n < PUBLIC_MIN_VEHICLES, withheld=hide))
    notes = [] if out else ["no vehicles in the period"]
    return SiteHistogram(site=site_ref(w.site), period=PeriodView(from_=w.period.start, to=w.period.end),
                         width_kmh=width_kmh, public=public, groups=out, notes=notes)


__all__ = ["SiteHistogram", "SpeedBins", "rebin", "site_histogram"]
