"""Per-site spot-speed statistics for ``fartkoll stats``: one figure per source × direction ×
display mode × legal limit (never pooled), with data-quality flags.

Per-vehicle data come as the site's 1 km/h rollups summed in SQL. For signs that report whole
km/h or whole mph each bin holds one stored value, so V10…V95 and the shares are those of the
vehicles themselves (``percentile_disc``); finer speeds are interpolated within the bin, with the
true bin edges the signs' ``rounding`` gives (a rounding sign's stored 50 is [49.5, 50.5)), and
flagged. Pre-binned counts (binned_counts) give count-weighted figures over their own bins. Each
hour is measured against the limit in force at its local hour, in the unit it is posted.
Coverage comes from coverage_hourly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from planner.daytotals import (
    NO_LIMIT,
    aggregate,
    coverage_of,
    coverage_params,
    day_start,
    parts_of,
    parts_params,
    vehicle_parts,
)
from planner.load import (
    LoadError,
    Period,
    SiteInfo,
    default_period,
    load_site,
    load_sites,
    resolve_site,
)
from planner.names import DirectionName, DisplayName, direction_name, display_name
from planner.quality import Quality, describe, quality_flags
from planner.settings import PlannerSettings
from planner.stats import KMH_PER_UNIT, Histogram, SpeedSummary, summarise_histogram
from sql import QUERIES


@dataclass(frozen=True)
class LimitRef:
    """The legal limit a group is measured against: as posted, its km/h value, its period, and the
    weekdays and local hours it holds (None: a standing limit)."""

    kmh: float
    """The posted value in km/h, exactly (30 mph = 48.28032 km/h)."""
    posted_value: int
    posted_unit: str
    valid_from: datetime
    valid_to: datetime | None
    hours: str | None = None

    @property
    def posted(self) -> str:
        text = f"{self.posted_value} {'km/h' if self.posted_unit == 'kmh' else self.posted_unit}"
        return f"{text} {self.hours}" if self.hours else text


@dataclass(frozen=True)
class GroupStats:
    """Figures for one source × direction × display mode under one legal limit (or none)."""

    direction: int
    display: int | None
    """None: the binned source does not say whether the sign displayed speeds."""
    limit: LimitRef | None
    first_hour: datetime
    last_hour: datetime
    hours: int
    summary: SpeedSummary
    coverage_share: float
    """Hours the site's signs measured / hours of the span (all modes; NaN: no coverage data)."""
    flags: int
    hist_lower_kmh: list[float]
    """True lower edges of the bins."""
    hist_counts: list[int]
    source: str = "vehicles"
    """'vehicles': per-vehicle data in the 1 km/h rollups; 'binned': pre-binned counts."""
    hist_width_kmh: list[float | None] = field(default_factory=list)
    """Widths of the bins (None: the open top bin); empty: all 1 km/h."""
    sign_unit: str = "kmh"

    @property
    def limit_kmh(self) -> float | None:
        return self.limit.kmh if self.limit else None

    @property
    def limit_from(self) -> datetime | None:
        return self.limit.valid_from if self.limit else None

    @property
    def limit_to(self) -> datetime | None:
        return self.limit.valid_to if self.limit else None

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
    unit: str = "kmh"
    """signs.unit of the site's signs (the most common): percentiles are also given in it."""


def _coverage(conn: psycopg.Connection, site_id: int, start: datetime, end: datetime) -> float:
    hours, rows = conn.execute(QUERIES["planner_site_coverage"],
                               {"site_id": site_id, "start": start, "end": end}).fetchone()
    span_h = (end - start).total_seconds() / 3600
    return float(hours) / span_h if rows and span_h > 0 else math.nan


def _coverage_of(parts: list[dict], tz: str, conn: psycopg.Connection, site_id: int, start: datetime,
                 end: datetime) -> float:
    """Hours measured / hours of [start, end) from the period's coverage parts (a day part cut by
    start or end: from coverage_hourly instead)."""
    minutes = records = 0
    for c in parts:
        if c["kind"] in ("day", "run"):
            last = c["to_day"] if c["kind"] == "run" else c["local_day"] + timedelta(days=1)
            lo, hi = day_start(c["local_day"], tz), day_start(last, tz)
            if hi <= start or lo >= end:
                continue
            if lo < start or hi > end:
                return _coverage(conn, site_id, start, end)
        elif not start <= c["hour"] < end:
            continue
        minutes += int(c["minutes"])
        records += int(c["hours"])
    span_h = (end - start).total_seconds() / 3600
    return minutes / 60 / span_h if records and span_h > 0 else math.nan


def _limit(r: dict) -> LimitRef | None:
    if r["valid_from"] is None:
        return None
    from_unit = KMH_PER_UNIT[r["posted_unit"]]
    return LimitRef(kmh=r["posted_value"] * from_unit, posted_value=int(r["posted_value"]),
                    posted_unit=r["posted_unit"], valid_from=r["valid_from"], valid_to=r["valid_to"],
                    hours=_hours_text(r["days"], r["hour_from"], r["hour_to"]))


def _hours_text(days: list[int] | None, lo: int | None, hi: int | None) -> str | None:
    if not days:
        return None
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    runs: list[list[int]] = []
    for d in sorted(days):
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    text = ",".join(names[r[0] - 1] if len(r) == 1 else f"{names[r[0] - 1]}-{names[r[-1] - 1]}" for r in runs)
    return f"{text} {lo:02d}-{hi:02d}"


def _binned_histogram(rows: list[dict]) -> Histogram | None:
    """One group's bins as a contiguous histogram (empty bins fill gaps); None if bins overlap."""
    lo = np.array([r["speed_lo"] for r in rows], dtype=np.float64)
    hi = np.array([np.inf if r["speed_hi"] is None else r["speed_hi"] for r in rows], dtype=np.float64)
    c = np.array([r["count"] for r in rows], dtype=np.float64)
    order = np.lexsort((hi, lo))
    lo, hi, c = lo[order], hi[order], c[order]
    los, his, cs = [], [], []
    for a, b, k in zip(lo, hi, c, strict=True):
        if los and a == los[-1] and b == his[-1]:
            cs[-1] += k
            continue
        if los and a < his[-1]:
            return None
        if los and a > his[-1]:
            los.append(his[-1]), his.append(a), cs.append(0.0)
        los.append(a), his.append(b), cs.append(k)
    if any(not np.isfinite(x) for x in his[:-1]):
        return None
    return Histogram.binned(cs, los, his, integer=False)


def histogram_rows(conn: psycopg.Connection, site_id: int, period: Period, *, use_days: bool = True) -> list[dict]:
    """The site's summed 1 km/h histograms per direction × display × legal limit regime over the
    period, with Σv, Σv², hours with data, first and last hour and the regime's limit as posted
    (``valid_from`` None: no limit recorded): the running totals of planner.daytotals (two rows a
    series) plus the hourly rollups they do not hold (``use_days`` False: the hourly rollups
    alone; the same result)."""
    parts = vehicle_parts(conn, site_id, period.start, period.end, use_days=use_days, running=True)
    with conn.cursor(row_factory=dict_row) as cur:
        limits = cur.execute(QUERIES["figures_site_limits"], {"site_id": site_id}).fetchall()
    return _histogram_rows(site_id, parts, limits)


def _histogram_rows(site_id: int, parts: list[dict], limit_rows: list[dict]) -> list[dict]:
    """:func:`histogram_rows` from the period's parts and the site's figures_site_limits rows."""
    groups = aggregate(parts, [(p["direction"], p["display"], p["limit_timed"], p["limit_from"]) for p in parts])
    limits = {(r["timed"], r["valid_from"]): r for r in limit_rows}
    none = dict.fromkeys(("valid_from", "valid_to", "limit_kmh", "posted_value", "posted_unit", "days",
                          "hour_from", "hour_to"))
    rows = []
    for (direction, display, timed, limit_from), g in groups.items():
        lim = none if limit_from == NO_LIMIT else limits.get((timed, limit_from))
        if lim is None:
            raise RuntimeError(f"site {site_id}: daily sums name a limit from {limit_from} that speed_limits lacks")
        nz = np.flatnonzero(g.hist)
        lo, hist = (g.lo + int(nz[0]), g.hist[nz[0]:nz[-1] + 1]) if len(nz) else (g.lo, g.hist)
        rows.append({"direction": direction, "display": display, **{k: lim[k] for k in none},
                     "n": g.n, "sum_kmh": g.sum_kmh, "sumsq_kmh": g.sumsq_kmh, "hours": g.hours,
                     "first_hour": g.first_hour, "last_hour": g.last_hour, "hist": hist.tolist(), "hist_lo": lo})
    rows.sort(key=lambda r: (r["valid_from"] is not None, r["valid_from"] or NO_LIMIT, r["days"] is not None,
                             r["direction"], r["display"]))
    return rows


def _read_period(conn: psycopg.Connection, site_id: int, period: Period, use_days: bool
                 ) -> tuple[dict, list[dict], list[dict], list[dict]]:
    """The signs' row, histogram rows, coverage parts and binned rows of the site over the period:
    the five queries sent together in one pipeline (one round trip to the server, not five)."""
    p = {"site_id": site_id, "start": period.start, "end": period.end}
    pp = parts_params(site_id, period.start, period.end, use_days=use_days, running=True)
    cp = coverage_params(site_id, period.start, period.end, use_days=use_days, running=True)
    with conn.pipeline():
        signs_cur, parts_cur, limits_cur, cover_cur, binned_cur = (conn.cursor(row_factory=dict_row)
                                                                   for _ in range(5))
        signs_cur.execute(QUERIES["figures_site_signs"], p)
        parts_cur.execute(QUERIES["figures_site_parts"], pp, binary=True)
        limits_cur.execute(QUERIES["figures_site_limits"], {"site_id": site_id})
        cover_cur.execute(QUERIES["figures_site_coverage_parts"], cp)
        binned_cur.execute(QUERIES["planner_site_binned"], p)
        signs, part_rows, limit_rows = signs_cur.fetchone(), parts_cur.fetchall(), limits_cur.fetchall()
        cover_rows, binned_rows = cover_cur.fetchall(), binned_cur.fetchall()
    # stale running totals (rows from before migration 0017) are read again, after the pipeline
    rows = _histogram_rows(site_id, parts_of(conn, part_rows, pp), limit_rows)
    return signs, rows, coverage_of(conn, cover_rows, cp), binned_rows


@dataclass(frozen=True)
class SiteRows:
    """What site_stats reads of one site over a period, when it was read already (planner.recentstats
    reads it for several sites with one query each): the figures_site_signs row, the vehicle parts
    (daytotals.parts_of), the figures_site_limits rows, the coverage parts (daytotals.coverage_of)
    and the planner_site_binned rows."""

    signs: dict
    parts: list[dict]
    limits: list[dict]
    coverage: list[dict]
    binned: list[dict]


def site_stats(conn: psycopg.Connection, site: SiteInfo, period: Period, planner: PlannerSettings, *,
               over_kmh: float = 6.0, use_days: bool = True, given: SiteRows | None = None) -> SiteStats:
    """Statistics of one site over the period: one figure per source × direction × display ×
    legal limit (each hour measured against the limit in force at its local hour; never pooled).
    ``use_days`` False sums every hourly rollup instead of the daily sums (the same figures);
    ``given``: the site's rows, read already (the connection serves only rare fallbacks then)."""
    if given is None:
        signs, rows, cover, binned_rows = _read_period(conn, site.id, period, use_days)
    else:
        signs, rows = given.signs, _histogram_rows(site.id, given.parts, given.limits)
        cover, binned_rows = given.coverage, given.binned
    rounding, unit = signs["rounding"], signs["unit"]
    sign_limits: tuple[int, ...] = tuple(signs["configured_limits"])
    limits = {(r["valid_from"], r["days"] is not None) for r in rows + binned_rows if r["valid_from"] is not None}
    changed = len(limits) > 1
    notes = []
    if any(r["valid_from"] is None for r in rows + binned_rows):
        notes.append(f"no legal limit recorded for site {site.name!r} in (part of) the period: record it with "
                     f"`fartkoll limit set {site.id} KMH --from YYYY-MM-DD` (or --mph N); shares over the limit "
                     "are left out meanwhile")
    if changed:
        notes.append("more than one legal limit applies in the period (a change, or a timed limit): figures are "
                     "split by limit, each vehicle measured against the limit in force at its local hour")
    if signs["kinds"] > 1:
        notes.append(f"the site's signs report in different ways: figures treat all as {unit}, {rounding}")

    def threshold(limit: LimitRef | None) -> float:
        return planner.threshold_kmh(limit.kmh, site.police_area, over_kmh) if limit else math.nan

    def flags_for(n: float, cov: float, limit: LimitRef | None, summ: SpeedSummary, extra: int = 0) -> int:
        sl = [x for x in sign_limits if limit is None or x != round(limit.kmh)][:1]
        f = int(quality_flags(
            n, coverage_share=cov if math.isfinite(cov) else None,
            sign_limit_kmh=float(sl[0]) if sl else math.nan,
            legal_limit_kmh=round(limit.kmh) if limit else math.nan, limit_changed=changed,
            min_coverage=planner.min_coverage))
        if limit is None:
            f |= Quality.NO_LIMIT
        if not summ.exact_percentiles:
            f |= Quality.PERCENTILES_INTERPOLATED
        if limit is not None and not summ.exact_shares:
            f |= Quality.SHARES_INTERPOLATED
        return f | extra

    groups = []
    coverage_cache: dict[tuple[datetime, datetime], float] = {}
    for r in rows:
        limit = _limit(r)
        h = Histogram.unit(r["hist"], start=r["hist_lo"], rounding=rounding, sign_unit=unit)
        summ = summarise_histogram(h, limit.kmh if limit else 0.0, threshold(limit) if limit else None,
                                   sums=(r["sum_kmh"], r["sumsq_kmh"]))
        lo_t = max(limit.valid_from, period.start) if limit else period.start
        hi_t = period.end if limit is None or limit.valid_to is None else min(limit.valid_to, period.end)
        if (lo_t, hi_t) not in coverage_cache:
            coverage_cache[(lo_t, hi_t)] = _coverage_of(cover, site.time_zone, conn, site.id, lo_t, hi_t)
        cov = coverage_cache[(lo_t, hi_t)]
        groups.append(GroupStats(int(r["direction"]), int(r["display"]), limit, r["first_hour"], r["last_hour"],
                                 int(r["hours"]), summ, cov, flags_for(r["n"], cov, limit, summ),
                                 [float(x) for x in h.true_lower], [int(x) for x in r["hist"]],
                                 sign_unit=unit))
    keyed: dict[tuple, list[dict]] = {}
    for r in binned_rows:
        keyed.setdefault((r["direction"], r["display"], r["valid_from"], r["days"] is not None), []).append(r)
    for (direction, display, _, _), bins in keyed.items():
        limit = _limit(bins[0])
        h = _binned_histogram(bins)
        if h is None:
            notes.append(f"binned counts of direction {direction_name(direction)} overlap with different bin "
                         f"edges: {sum(b['count'] for b in bins)} vehicles left out of the figures")
            continue
        summ = summarise_histogram(h, limit.kmh if limit else 0.0, threshold(limit) if limit else None)
        extra = Quality.LIMITS_MIXED if any(b["mixed_limits"] for b in bins) else 0
        first, last = min(b["first_start"] for b in bins), max(b["last_end"] for b in bins)
        if any(b["outside"] for b in bins):
            notes.append(f"binned records reach beyond the period ({first:%Y-%m-%d} to {last:%Y-%m-%d} UTC): "
                         "their vehicles are counted whole, as the source gives no finer times")
        hours = int((last - first).total_seconds() // 3600)
        groups.append(GroupStats(int(direction), None if display is None else int(display), limit, first, last,
                                 hours, summ, math.nan, flags_for(summ.n, math.nan, limit, summ, extra),
                                 [float(x) for x in h.lower], [int(x) for x in h.counts], source="binned",
                                 hist_width_kmh=[float(w) if math.isfinite(w) else None for w in h.width],
                                 sign_unit="kmh"))
    modes = {(g.direction, g.display) for g in groups}
    if any((d, 0) in modes and (d, 1) in modes for d, _ in modes):
        notes.append("both display modes occur in the period: each is reported on its own, never pooled")
    if not groups:
        notes.append("no vehicles in the period")
    return SiteStats(site, period, rounding, tuple(groups), tuple(dict.fromkeys(notes)), unit)


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


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
    """Vehicles per bin; ``lower_kmh`` are the bins' true lower edges (after the signs' rounding),
    ``widths_kmh`` their widths when not all 1 km/h (null: the open top bin)."""

    lower_kmh: list[float]
    width_kmh: float | None = 1
    widths_kmh: list[float | None] | None = None
    counts: list[int]


class GroupFigures(BaseModel):
    """Figures of one source × direction × display mode under one legal limit (never pooled)."""

    source: Literal["vehicles", "binned"]
    """vehicles: per-vehicle data (hourly rollups); binned: pre-binned counts (Toronto, Traffic Logix)."""
    direction: DirectionName
    display: DisplayName | None
    """null: the binned source does not say whether the sign displayed speeds."""
    limit_kmh: float | None
    """The legal limit in km/h, exactly as posted (30 mph = 48.28); null: none recorded."""
    limit_posted: str | None
    """The limit as posted, e.g. "30 mph" or "30 km/h mon-fri 07-17"."""
    limit_hours: str | None
    """Weekdays and local hours of a timed limit (null: a standing limit)."""
    limit_from: datetime | None
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
    sign_unit: str
    """The unit the signs report in; ``percentiles_sign_unit`` gives V10…V95 in it."""
    percentiles_sign_unit: dict[str, float | None]
    exact_percentiles: bool
    """V10…V95 are the r-th slowest vehicles' own speeds (false: interpolated within a bin)."""
    exact_shares: bool
    """Shares over limit and threshold count vehicles exactly (false: split within a bin)."""
    pace_kmh: tuple[float | None, float | None]
    pace_share: float | None
    threshold_kmh: float | None
    """The reporting threshold: the site's police-area rule, or limit + threshold_over_kmh."""
    over_limit: ShareView | None
    over_threshold: ShareView | None
    over_limit_plus: dict[str, ShareView] | None
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


def _share(s) -> dict:
    return {"k": _num(s.k), "n": _num(s.n), "share": _num(s.share), "low": _num(s.low), "high": _num(s.high)}


def figures(ss: SiteStats) -> SiteFigures:
    """The typed, JSON-ready figures of a :class:`SiteStats`."""
    return SiteFigures.model_validate(figures_data(ss))


def figures_json(ss: SiteStats) -> bytes:
    """The bytes of ``figures(ss).model_dump_json(by_alias=True)``, encoded straight from the
    plain data (no model for each group, share and histogram)."""
    return _JSON.encode(figures_data(ss))


_JSON = msgspec.json.Encoder()


def figures_data(ss: SiteStats) -> dict:
    """:func:`figures` as plain data in :class:`SiteFigures`'s shape and field order (keys by
    alias, Python ints, floats, bools, None and datetimes only)."""
    groups = []
    for g in ss.groups:
        s = g.summary
        lim = g.limit is not None
        k = KMH_PER_UNIT.get(g.sign_unit, 1.0)
        pct = s.percentiles
        groups.append({
            "source": g.source, "direction": direction_name(g.direction),
            "display": None if g.display is None else display_name(g.display),
            "limit_kmh": _num(g.limit_kmh), "limit_posted": g.limit.posted if lim else None,
            "limit_hours": g.limit.hours if lim else None,
            "limit_from": g.limit_from, "limit_to": g.limit_to, "first_hour": g.first_hour, "last_hour": g.last_hour,
            "hours": int(g.hours), "n": int(s.n), "mean_kmh": _num(s.mean), "sd_kmh": _num(s.sd),
            **{f"{name}_kmh": _num(pct.get(name)) for name in _PERCENTILES},
            "sign_unit": g.sign_unit, "percentiles_sign_unit": {n: _num(v / k) for n, v in pct.items()},
            "exact_percentiles": bool(s.exact_percentiles), "exact_shares": bool(s.exact_shares) if lim else True,
            "pace_kmh": [_num(s.pace_start_kmh), _num(s.pace_start_kmh + 10)], "pace_share": _num(s.pace_share),
            "threshold_kmh": _num(s.threshold_kmh) if lim else None,
            "over_limit": _share(s.over_limit) if lim else None,
            "over_threshold": _share(s.over_threshold) if lim else None,
            "over_limit_plus": {str(k): _share(v) for k, v in s.over_limit_plus.items()} if lim else None,
            "mean_excess_kmh": _num(s.mean_excess_kmh) if lim else None,
            "v85_excess_kmh": _num(s.v85_excess_kmh) if lim else None,
            "coverage_share": _num(g.coverage_share), "flags": int(g.flags), "warnings": list(g.warnings),
            "histogram": {"lower_kmh": [float(x) for x in g.hist_lower_kmh],
                          "width_kmh": None if g.hist_width_kmh else 1.0,
                          "widths_kmh": [None if w is None else float(w) for w in g.hist_width_kmh] or None,
                          "counts": [int(c) for c in g.hist_counts]}})
    return {"site": {"id": ss.site.id, "name": ss.site.name, "time_zone": ss.site.time_zone,
                     "police_area": ss.site.police_area},
            "period": {"from": ss.period.start, "to": ss.period.end}, "rounding": ss.rounding,
            "notes": list(ss.notes), "groups": groups}


_PERCENTILES = ("v10", "v50", "v85", "v90", "v95")
"""GroupFigures' percentile fields, in its order."""


def local_period(date_from: date | None, date_to: date | None, tz: str, default: Period | None) -> Period:
    """A Period from local days (``date_to`` inclusive); missing ends come from ``default``."""
    zone = ZoneInfo(tz)
    start = datetime.combine(date_from, time(0), zone) if date_from else default.start
    end = datetime.combine(date_to + timedelta(days=1), time(0), zone) if date_to else default.end
    return Period(start.astimezone(timezone.utc), end.astimezone(timezone.utc))


def site_default_period(conn: psycopg.Connection, site: SiteInfo, weeks: int) -> Period:
    """The ``weeks`` weeks ending with the site's own latest data (another site's newer data does
    not move it); a site without data gets the database's default period."""
    end = conn.execute(QUERIES["planner_site_latest"], {"site_id": site.id}).fetchone()[0]
    if end is None:
        return default_period(conn, weeks)
    return Period(end - timedelta(weeks=weeks), end)


def stats_period(conn: psycopg.Connection, site: SiteInfo, weeks: int, date_from: date | None,
                 date_to: date | None) -> Period:
    """The period of a site's figures: local days ``date_from``..``date_to`` (inclusive); with one
    end only, ``weeks`` weeks from (or to) it; with none, the ``weeks`` weeks ending with the site's
    own latest data."""
    if date_from and not date_to:
        date_to = date_from + timedelta(weeks=weeks) - timedelta(days=1)
    elif date_to and not date_from:
        date_from = date_to + timedelta(days=1) - timedelta(weeks=weeks)
    if date_from and date_to:
        return local_period(date_from, date_to, site.time_zone, None)
    return site_default_period(conn, site, weeks)


def site_statistics(conn: psycopg.Connection, planner: PlannerSettings, site: str | int, *,
                    over_kmh: float = 6.0, date_from: date | None = None, date_to: date | None = None,
                    weeks: int | None = None) -> tuple[SiteStats, SiteFigures]:
    """The site-statistics use case (CLI ``stats``, API ``sites/{id}/stats``, the sites overview):
    the site by id or name, its period from local days, its figures with the thresholds of its
    police area. Returns the full statistics (for tables) and their typed JSON shape (the API
    encodes :func:`statistics_of` with :func:`figures_json`: the same bytes)."""
    ss = statistics_of(conn, planner, site, over_kmh=over_kmh, date_from=date_from, date_to=date_to, weeks=weeks)
    return ss, figures(ss)


def statistics_of(conn: psycopg.Connection, planner: PlannerSettings, site: str | int, *,
                  over_kmh: float = 6.0, date_from: date | None = None, date_to: date | None = None,
                  weeks: int | None = None) -> SiteStats:
    """The statistics of :func:`site_statistics`, without their typed JSON shape."""
    if isinstance(site, int):
        site_info = load_site(conn, site)
    else:
        site_info = resolve_site(load_sites(conn), site)
    if date_from and date_to and date_to < date_from:
        raise LoadError(f"--to {date_to} is before --from {date_from}: give the last day on or after the first",
                        errors=[{"record": None, "field": "to", "value": date_to.isoformat(),
                                 "reason": f"before from {date_from.isoformat()}"}])
    period = stats_period(conn, site_info, weeks or planner.period_weeks, date_from, date_to)
    return site_stats(conn, site_info, period, planner, over_kmh=over_kmh)


__all__ = ["GroupFigures", "GroupStats", "LimitRef", "SiteFigures", "SiteRows", "SiteStats", "Quality", "figures",
           "figures_data", "figures_json",
           "local_period", "site_default_period", "site_statistics", "site_stats", "statistics_of", "stats_period"]
