"""Per-site spot-speed statistics for ``fartkoll stats``: one figure per direction × display mode ×
legal-limit period (never pooled), with data-quality flags.

Histograms are the site's 1 km/h rollups summed in SQL; their true bin edges follow the signs'
``rounding`` (a rounding sign's stored 50 is [49.5, 50.5)). Coverage comes from coverage_hourly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import psycopg

from planner.load import LimitSpan, Period, SiteInfo, load_spans
from planner.quality import Quality, describe, quality_flags
from planner.settings import PlannerSettings
from planner.stats import Histogram, SpeedSummary, summarise_histogram
from sql import QUERIES


@dataclass(frozen=True)
class GroupStats:
    """Figures for one direction × display mode under one legal limit."""

    direction: int
    display: int
    limit_kmh: int
    limit_from: datetime
    limit_to: datetime | None
    first_hour: datetime
    last_hour: datetime
    hours: int
    summary: SpeedSummary
    coverage_share: float
    """Hours the site's signs measured / hours of the span (all modes; NaN: no coverage data)."""
    flags: int
    hist_lower_kmh: list[float]
    """True lower edges of the 1 km/h bins."""
    hist_counts: list[int]

    @property
    def warnings(self) -> list[str]:
        return describe(self.flags)


@dataclass(frozen=True)
class SiteStats:
    site: SiteInfo
    period: Period
    rounding: str
    groups: tuple[GroupStats, ...]
    notes: tuple[str, ...] = field(default=())


def _coverage(conn: psycopg.Connection, site_id: int, start: datetime, end: datetime) -> float:
    hours, rows = conn.execute(QUERIES["planner_site_coverage"],
                               {"site_id": site_id, "start": start, "end": end}).fetchone()
    span_h = (end - start).total_seconds() / 3600
    return float(hours) / span_h if rows and span_h > 0 else math.nan


def site_stats(conn: psycopg.Connection, site: SiteInfo, period: Period, planner: PlannerSettings, *,
               over_kmh: float = 6.0) -> SiteStats:
    """Statistics of one site over the period, split by direction, display and limit period."""
    spans = [s for s in load_spans(conn, period, {site.id: site}, planner, over_kmh) if s.site_id == site.id]
    rounding = spans[0].rounding if spans else "truncate"
    rows = conn.execute(QUERIES["planner_site_histograms"],
                        {"site_id": site.id, "start": period.start, "end": period.end}).fetchall()
    changed = len({s.limit_kmh for s in spans}) > 1
    notes = []
    if not spans:
        notes.append(f"no legal limit recorded for site {site.name!r} in the period: add one to speed_limits")
    if changed:
        notes.append("the legal limit changed during the period: figures are split by limit period")
    groups = []
    coverage_cache: dict[datetime, float] = {}
    for (direction, display, valid_from, valid_to, limit, n, s1, s2, hours, first, last, hist, lo) in rows:
        span: LimitSpan | None = next((s for s in spans if s.limit_kmh == limit and s.end > valid_from
                                       and (valid_to is None or s.start < valid_to)), None)
        threshold = span.threshold_kmh if span else planner.threshold_kmh(limit, site.police_area, over_kmh)
        h = Histogram.unit(hist, start=lo, rounding=rounding)
        summ = summarise_histogram(h, float(limit), threshold, sums=(s1, s2))
        lo_t = max(valid_from, period.start)
        hi_t = period.end if valid_to is None else min(valid_to, period.end)
        if lo_t not in coverage_cache:
            coverage_cache[lo_t] = _coverage(conn, site.id, lo_t, hi_t)
        cov = coverage_cache[lo_t]
        sign_limits = span.sign_limits if span else ()
        flags = int(quality_flags(
            n, coverage_share=cov if math.isfinite(cov) else None,
            sign_limit_kmh=np.array([sl for sl in sign_limits if sl != limit][:1] or [np.nan], dtype=float)[0],
            legal_limit_kmh=limit, limit_changed=changed, min_coverage=planner.min_coverage))
        groups.append(GroupStats(int(direction), int(display), int(limit), valid_from, valid_to, first, last,
                                 int(hours), summ, cov, flags, [float(x) for x in h.true_lower],
                                 [int(x) for x in hist]))
    modes = {(g.direction, g.display) for g in groups}
    if {d for d, _ in modes} and any((d, 0) in modes and (d, 1) in modes for d, _ in modes):
        notes.append("both display modes occur in the period: each is reported on its own, never pooled")
    if not rows:
        notes.append("no vehicles in the period")
    return SiteStats(site, period, rounding, tuple(groups), tuple(notes))


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 3)


def _share(s) -> dict:
    return {"k": _num(s.k), "n": _num(s.n), "share": _num(s.share), "low": _num(s.low), "high": _num(s.high)}


def stats_dict(ss: SiteStats) -> dict:
    """JSON-ready figures."""
    out = {"site": {"id": ss.site.id, "name": ss.site.name, "time_zone": ss.site.time_zone},
           "period": {"from": ss.period.start.isoformat(), "to": ss.period.end.isoformat()},
           "rounding": ss.rounding, "notes": list(ss.notes), "groups": []}
    for g in ss.groups:
        s = g.summary
        out["groups"].append({
            "direction": g.direction, "display": g.display, "limit_kmh": g.limit_kmh,
            "limit_from": g.limit_from.isoformat(), "limit_to": g.limit_to.isoformat() if g.limit_to else None,
            "first_hour": g.first_hour.isoformat(), "last_hour": g.last_hour.isoformat(), "hours": g.hours,
            "n": s.n, "mean_kmh": _num(s.mean), "sd_kmh": _num(s.sd),
            **{f"{k}_kmh": _num(v) for k, v in s.percentiles.items()},
            "pace_kmh": [_num(s.pace_start_kmh), _num(s.pace_start_kmh + 10)], "pace_share": _num(s.pace_share),
            "threshold_kmh": _num(s.threshold_kmh),
            "over_limit": _share(s.over_limit), "over_threshold": _share(s.over_threshold),
            "over_limit_plus": {str(k): _share(v) for k, v in s.over_limit_plus.items()},
            "mean_excess_kmh": _num(s.mean_excess_kmh), "v85_excess_kmh": _num(s.v85_excess_kmh),
            "coverage_share": _num(g.coverage_share), "flags": g.flags, "warnings": g.warnings,
            "histogram": {"lower_kmh": g.hist_lower_kmh, "width_kmh": 1, "counts": g.hist_counts},
        })
    return out


__all__ = ["GroupStats", "SiteStats", "Quality", "site_stats", "stats_dict"]
