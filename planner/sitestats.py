"""Per-site spot-speed statistics for ``fartkoll stats``: one figure per direction × display mode ×
legal-limit period (never pooled), with data-quality flags.

Histograms are the site's 1 km/h rollups summed in SQL; their true bin edges follow the signs'
``rounding`` (a rounding sign's stored 50 is [49.5, 50.5)). Coverage comes from coverage_hourly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from pydantic import BaseModel, ConfigDict, Field

from planner.load import (
    LimitSpan,
    LoadError,
    Period,
    SiteInfo,
    SiteNotFound,
    default_period,
    load_sites,
    load_spans,
    resolve_site,
)
from planner.names import DirectionName, DisplayName, direction_name, display_name
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


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 3)


class PeriodView(BaseModel):
    """[from, to) as ISO 8601 with offset."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime


class SiteRef(BaseModel):
    id: int
    name: str
    time_zone: str
    police_area: str


class ShareView(BaseModel):
    """k of n vehicles, the share k/n (0..1) and its 95 % Wilson interval."""

    k: float | None
    n: float | None
    share: float | None
    low: float | None
    high: float | None


class HistogramView(BaseModel):
    """Vehicles per 1 km/h bin; ``lower_kmh`` are the bins' true lower edges (after the signs' rounding)."""

    lower_kmh: list[float]
    width_kmh: float = 1
    counts: list[int]


class GroupFigures(BaseModel):
    """Figures of one direction × display mode under one legal limit (never pooled)."""

    direction: DirectionName
    display: DisplayName
    limit_kmh: int
    limit_from: datetime
    limit_to: datetime | None
    first_hour: datetime
    last_hour: datetime
    hours: int
    n: int
    mean_kmh: float | None
    sd_kmh: float | None
    v10_kmh: float | None
    v50_kmh: float | None
    v85_kmh: float | None
    v90_kmh: float | None
    v95_kmh: float | None
    pace_kmh: tuple[float | None, float | None]
    pace_share: float | None
    threshold_kmh: float | None
    """The reporting threshold: the site's police-area rule, or limit + threshold_over_kmh."""
    over_limit: ShareView
    over_threshold: ShareView
    over_limit_plus: dict[str, ShareView]
    mean_excess_kmh: float | None
    v85_excess_kmh: float | None
    coverage_share: float | None
    flags: int
    warnings: list[str]
    histogram: HistogramView


class SiteFigures(BaseModel):
    """Spot-speed figures of one site over a period: ``fartkoll stats SITE --json`` and
    ``GET /api/v1/sites/{id}/stats`` give this same JSON."""

    site: SiteRef
    period: PeriodView
    rounding: str
    notes: list[str]
    groups: list[GroupFigures]


def _share(s) -> ShareView:
    return ShareView(k=_num(s.k), n=_num(s.n), share=_num(s.share), low=_num(s.low), high=_num(s.high))


def figures(ss: SiteStats) -> SiteFigures:
    """The typed, JSON-ready figures of a :class:`SiteStats`."""
    groups = []
    for g in ss.groups:
        s = g.summary
        groups.append(GroupFigures(
            direction=direction_name(g.direction), display=display_name(g.display), limit_kmh=g.limit_kmh,
            limit_from=g.limit_from, limit_to=g.limit_to, first_hour=g.first_hour, last_hour=g.last_hour,
            hours=g.hours, n=s.n, mean_kmh=_num(s.mean), sd_kmh=_num(s.sd),
            **{f"{k}_kmh": _num(v) for k, v in s.percentiles.items()},
            pace_kmh=(_num(s.pace_start_kmh), _num(s.pace_start_kmh + 10)), pace_share=_num(s.pace_share),
            threshold_kmh=_num(s.threshold_kmh), over_limit=_share(s.over_limit),
            over_threshold=_share(s.over_threshold),
            over_limit_plus={str(k): _share(v) for k, v in s.over_limit_plus.items()},
            mean_excess_kmh=_num(s.mean_excess_kmh), v85_excess_kmh=_num(s.v85_excess_kmh),
            coverage_share=_num(g.coverage_share), flags=g.flags, warnings=g.warnings,
            histogram=HistogramView(lower_kmh=g.hist_lower_kmh, counts=g.hist_counts)))
    return SiteFigures(
        site=SiteRef(id=ss.site.id, name=ss.site.name, time_zone=ss.site.time_zone,
                     police_area=ss.site.police_area),
        period=PeriodView(from_=ss.period.start, to=ss.period.end), rounding=ss.rounding,
        notes=list(ss.notes), groups=groups)


def local_period(date_from: date | None, date_to: date | None, tz: str, default: Period) -> Period:
    """A Period from local days (``date_to`` inclusive); missing ends come from ``default``."""
    zone = ZoneInfo(tz)
    start = datetime.combine(date_from, time(0), zone) if date_from else default.start
    end = datetime.combine(date_to + timedelta(days=1), time(0), zone) if date_to else default.end
    return Period(start.astimezone(timezone.utc), end.astimezone(timezone.utc))


def stats_period(conn: psycopg.Connection, site: SiteInfo, weeks: int, date_from: date | None,
                 date_to: date | None) -> Period:
    """The period of a site's figures: local days ``date_from``..``date_to`` (inclusive); a missing
    end is ``weeks`` weeks from the start, or the default period's (planner.load.default_period)."""
    default = default_period(conn, weeks)
    if date_from and not date_to:
        default = local_period(None, date_from + timedelta(weeks=weeks) - timedelta(days=1), site.time_zone, default)
    return local_period(date_from, date_to, site.time_zone, default)


def site_statistics(conn: psycopg.Connection, planner: PlannerSettings, site: str | int, *,
                    over_kmh: float = 6.0, date_from: date | None = None, date_to: date | None = None,
                    weeks: int | None = None) -> tuple[SiteStats, SiteFigures]:
    """The site-statistics use case (CLI ``stats``, API ``sites/{id}/stats``, the sites overview):
    the site by id or name, its period from local days, its figures with the thresholds of its
    police area. Returns the full statistics (for tables) and their typed JSON shape."""
    sites = load_sites(conn)
    if isinstance(site, int):
        if site not in sites:
            raise SiteNotFound(f"no site with id {site}")
        site_info = sites[site]
    else:
        site_info = resolve_site(sites, site)
    if date_from and date_to and date_to < date_from:
        raise LoadError(f"--to {date_to} is before --from {date_from}: give the last day on or after the first",
                        errors=[{"record": None, "field": "to", "value": date_to.isoformat(),
                                 "reason": f"before from {date_from.isoformat()}"}])
    period = stats_period(conn, site_info, weeks or planner.period_weeks, date_from, date_to)
    ss = site_stats(conn, site_info, period, planner, over_kmh=over_kmh)
    return ss, figures(ss)


__all__ = ["GroupFigures", "GroupStats", "SiteFigures", "SiteStats", "Quality", "figures", "local_period",
           "site_statistics", "site_stats", "stats_period"]
