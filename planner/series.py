"""Hourly and daily series of one site: n, mean, V85, shares over limit and threshold, coverage.

Each point is one step (a UTC hour, or a local day of the site) of one direction × display mode
under one legal limit (modes and limits are never pooled). A step without data is a gap: its
figures are ``None``, never 0; a step whose signs measured but saw no vehicle has ``n`` 0.
Anonymous readers get public aggregates: a point under ``PUBLIC_MIN_VEHICLES`` vehicles is
withheld (figures ``None``, ``withheld`` true); readers with a role see it, flagged ``small``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from planner.daytotals import NO_LIMIT, Sums, coverage_of, coverage_params, group_parts, parts_of, parts_params
from planner.exceedance import BinnedTails
from planner.load import LoadError, Period, SiteInfo, load_site
from planner.names import DIRECTIONS, DISPLAYS, DirectionName, DisplayName, direction_code, display_name
from planner.percentiles import histogram_percentile
from planner.settings import PlannerSettings
from planner.sitestats import PeriodView, SiteRef, local_period
from planner.stats import KMH_PER_UNIT, ROUNDING_OFFSET_KMH
from sql import QUERIES

PUBLIC_MIN_VEHICLES = 30
"""Anonymous readers never see a cell with fewer vehicles than this."""
HOUR = timedelta(hours=1)
Step = Literal["hour", "day"]


@dataclass(frozen=True)
class Window:
    """A site, the period asked for and how its signs quantise speeds."""

    site: SiteInfo
    period: Period
    rounding: str


@dataclass(frozen=True)
class HourRow:
    hour: datetime
    direction: int
    display: int
    n: int
    sum_kmh: float
    sumsq_kmh: float
    hist: list[int]
    hist_lo: int
    limit_kmh: int | None


def _code(name: str | None, codes: dict[int, str], field: str) -> int | None:
    if name is None:
        return None
    if field == "direction":
        return direction_code(name)
    by_name = {v: k for k, v in codes.items()}
    if name not in by_name:
        raise LoadError(f"{field} {name!r} is not one of {sorted(by_name)}",
                        errors=[{"record": None, "field": field, "value": name,
                                 "reason": f"not one of {sorted(by_name)}"}])
    return by_name[name]


def site_window(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, *,
                date_from: date | None = None, date_to: date | None = None) -> Window:
    """The site and its period from local days (``date_to`` inclusive). A missing end is the end of
    the site's own latest data hour; a missing start is ``planner.period_weeks`` weeks before the end."""
    if date_from and date_to and date_to < date_from:
        raise LoadError(f"to {date_to} is before from {date_from}: give the last day on or after the first",
                        errors=[{"record": None, "field": "to", "value": date_to.isoformat(),
                                 "reason": f"before from {date_from.isoformat()}"}])
    with conn.pipeline():  # the three look-ups in one round trip
        latest_cur, rounding_cur = conn.cursor(), conn.cursor()
        latest_cur.execute(QUERIES["figures_site_latest_hour"], {"site_id": site_id})
        rounding_cur.execute(QUERIES["figures_site_rounding"], {"site_id": site_id})
        site = load_site(conn, site_id)
        latest = latest_cur.fetchone()[0]
        row = rounding_cur.fetchone()
    end = (latest + HOUR) if latest else datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    weeks = timedelta(weeks=planner.period_weeks)
    if date_from and not date_to:
        start = local_period(date_from, None, site.time_zone, Period(end - weeks, end)).start
        end = start + weeks
    default = Period(end - weeks, end)
    period = local_period(date_from, date_to, site.time_zone, default)
    return Window(site, period, row[0] if row else "truncate")


def load_hours(conn: psycopg.Connection, window: Window, *, direction: int | None = None,
               display: int | None = None) -> list[HourRow]:
    """The site's hourly rollups in the window, oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUERIES["figures_hours"], {
            "site_id": window.site.id, "start": window.period.start, "end": window.period.end,
            "direction": direction, "display": display}).fetchall()
    return [HourRow(**r) for r in rows]


def load_coverage(conn: psycopg.Connection, window: Window) -> dict[datetime, int]:
    """Minutes the site's signs measured in each hour of the window (hours absent: no record)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUERIES["figures_coverage_hours"], {
            "site_id": window.site.id, "start": window.period.start, "end": window.period.end}).fetchall()
    return {r["hour"]: int(r["minutes"]) for r in rows}


def sum_hist(rows: list[HourRow]) -> tuple[np.ndarray, int]:
    """Summed 1 km/h histogram of ``rows``: counts and the first bin's stored speed."""
    lo = min(r.hist_lo for r in rows)
    hi = max(r.hist_lo + len(r.hist) for r in rows)
    out = np.zeros(hi - lo, dtype=np.int64)
    for r in rows:
        out[r.hist_lo - lo:r.hist_lo - lo + len(r.hist)] += r.hist
    return out, lo


def v85_of(counts: np.ndarray, lo: int, rounding: str) -> float:
    """Count-weighted V85 (km/h) of 1 km/h counts from stored speed ``lo``, with true bin edges."""
    lower = lo + np.arange(len(counts), dtype=np.float64) + ROUNDING_OFFSET_KMH.get(rounding, 0.0)
    return float(histogram_percentile(counts.astype(np.float64), lower, np.ones_like(lower), 0.85))


def _num(x: float | None, digits: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


class SeriesPoint(BaseModel):
    """One step of one direction × display mode under one legal limit."""

    start: datetime
    """First instant of the step (ISO 8601 with the site's offset)."""
    hours: int
    """Hours the step spans."""
    limit_kmh: float | None
    """The legal limit in force, km/h exactly as posted (30 mph = 48.28032)."""
    threshold_kmh: float | None
    n: int | None
    """Vehicles; None: no data (a gap), 0: the signs measured and saw none."""
    mean_kmh: float | None
    v85_kmh: float | None
    over_limit_share: float | None
    """Share of vehicles with v > limit, 0..1."""
    over_threshold_share: float | None
    """Share of vehicles with v >= threshold, 0..1."""
    coverage_share: float | None
    """Minutes measured / minutes of the step (fullest sign each hour); None: no coverage record."""
    small: bool = False
    """Fewer than 30 vehicles: figures are uncertain."""
    withheld: bool = False
    """Fewer than 30 vehicles, so not shown to anonymous readers."""


class SeriesLine(BaseModel):
    direction: DirectionName
    display: DisplayName
    points: list[SeriesPoint]


class SiteSeries(BaseModel):
    """``GET /api/v1/sites/{id}/series`` and ``fartkoll export SITE --format json``."""

    site: SiteRef
    period: PeriodView
    step: Step
    public: bool
    """True: public aggregates only (points under 30 vehicles withheld)."""
    lines: list[SeriesLine]
    notes: list[str]


def site_ref(site: SiteInfo) -> SiteRef:
    return SiteRef(id=site.id, name=site.name, time_zone=site.time_zone, police_area=site.police_area)


def _steps(period: Period, step: Step, tz: ZoneInfo) -> list[tuple[datetime, int]]:
    """(start, hours) of every step in the period; days are local days, cut to the period."""
    if step == "hour":
        return [(period.start + i * HOUR, 1) for i in range(period.hours)]
    out = []
    t = period.start
    while t < period.end:
        local = t.astimezone(tz)
        nxt = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tz).astimezone(timezone.utc)
        nxt = min(nxt, period.end)
        out.append((t, int((nxt - t) / HOUR)))
        t = nxt
    return out


@dataclass(frozen=True)
class CellFigures:
    """Figures of many cells at once (arrays over cells)."""

    n: np.ndarray
    mean: np.ndarray
    v85: np.ndarray
    over_limit: np.ndarray
    over_threshold: np.ndarray


def cell_figures(cells: list[Sums], limits: list[float], thresholds: list[float],
                 rounding: str) -> CellFigures:
    """n, mean, V85 and the shares over limit (v > L) and threshold (v >= T) of each cell's summed
    1 km/h rollups, in one pass of the planner's vectorised percentile and exceedance functions
    (the ones :func:`planner.stats.summarise_histogram` uses). A NaN level gives a NaN share."""
    if not cells:
        e = np.zeros(0)
        return CellFigures(e, e, e, e, e)
    lo = min(c.lo for c in cells if len(c.hist))
    hi = max(c.lo + len(c.hist) for c in cells if len(c.hist))
    m = np.zeros((len(cells), hi - lo))
    sums = np.zeros(len(cells))
    for i, c in enumerate(cells):
        m[i, c.lo - lo:c.lo - lo + len(c.hist)] = c.hist
        sums[i] = c.sum_kmh
    return matrix_figures(m, lo, sums, limits, thresholds, rounding)


def matrix_figures(m: np.ndarray, lo: int, sums: np.ndarray, limits: list[float], thresholds: list[float],
                   rounding: str) -> CellFigures:
    """:func:`cell_figures` of cells given as one matrix: row i the 1 km/h counts of cell i from
    stored speed ``lo``, ``sums`` their Σv."""
    if not len(m):
        e = np.zeros(0)
        return CellFigures(e, e, e, e, e)
    n = m.sum(axis=1)
    stored = lo + np.arange(m.shape[1], dtype=np.float64)
    width = np.ones_like(stored)
    v85 = histogram_percentile(m, stored + ROUNDING_OFFSET_KMH.get(rounding, 0.0), width, 0.85)
    tails = BinnedTails(m, stored, width, rounding != "exact")
    lim = np.asarray(limits, dtype=np.float64)
    thr = np.asarray(thresholds, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        over_l = np.where(np.isfinite(lim), tails.over(np.nan_to_num(lim)) / n, np.nan)
        over_t = np.where(np.isfinite(thr), tails.over(np.nan_to_num(thr), inclusive=True) / n, np.nan)
        mean = sums / n
    return CellFigures(n, mean, v85, over_l, over_t)


def _rounded(f: CellFigures, digits: int = 3) -> CellFigures:
    """The figures rounded as the series shows them (NaN stays NaN)."""
    return CellFigures(f.n, np.round(f.mean, digits), np.round(f.v85, digits), np.round(f.over_limit, digits),
                       np.round(f.over_threshold, digits))


def posted_limits(conn: psycopg.Connection, site_id: int) -> dict[tuple[bool, datetime], float]:
    """{(timed, valid_from): the limit in km/h exactly as posted (30 mph = 48.28032)} of a site."""
    with conn.cursor(row_factory=dict_row) as cur:
        return _posted(cur.execute(QUERIES["figures_site_limits"], {"site_id": site_id}).fetchall())


def _posted(rows: list[dict]) -> dict[tuple[bool, datetime], float]:
    """:func:`posted_limits` of the site's figures_site_limits rows."""
    return {(r["timed"], r["valid_from"]): r["posted_value"] * KMH_PER_UNIT[r["posted_unit"]] for r in rows}


def _fin(x: float) -> float | None:
    """A figure already rounded (CellFigures.rounded), None when not finite."""
    return float(x) if math.isfinite(x) else None


def _finite(a: np.ndarray) -> list[float | None]:
    """Already rounded figures as Python floats, None where not finite."""
    return [v if ok else None for v, ok in zip(a.tolist(), np.isfinite(a).tolist(), strict=True)]


def _points(local: list[datetime], hours: list[int], cov: list[float | None], counted: list[bool],
            cells: dict[tuple[int, float | None], int], figs: dict, limit_text: dict,
            public: bool) -> list[dict]:
    """The points of one line as plain dicts in :class:`SeriesPoint`'s field order, JSON-ready
    (Python ints, floats, None, datetimes): one per step and limit in force there (a step
    without cells: one gap point). ``local``, ``hours``, ``cov`` and ``counted`` (the signs measured: a step without
    vehicles has n 0, not a gap) are per step; ``cells`` the rows of ``figs`` (the cells' figures
    as plain lists) by (step, limit)."""
    limits_at: dict[int, list[float | None]] = defaultdict(list)
    for (j, lim) in cells:
        limits_at[j].append(lim)
    n, mean, v85, over_l, over_t = figs["n"], figs["mean"], figs["v85"], figs["over_limit"], figs["over_threshold"]
    points = []
    for i in range(len(local)):
        lims = limits_at.get(i, [None])
        if len(lims) > 1:
            lims = sorted(lims, key=lambda x: (x is None, x or 0))
        for lim in lims:
            limit_kmh, threshold_kmh = limit_text[lim]
            k = cells.get((i, lim))
            if k is None:
                count = 0 if counted[i] else None
                point = {"start": local[i], "hours": hours[i], "limit_kmh": limit_kmh, "threshold_kmh": threshold_kmh,
                         "n": count, "mean_kmh": None, "v85_kmh": None, "over_limit_share": None,
                         "over_threshold_share": None, "coverage_share": cov[i], "small": count is not None,
                         "withheld": False}
            elif public and n[k] < PUBLIC_MIN_VEHICLES:
                point = {"start": local[i], "hours": hours[i], "limit_kmh": limit_kmh, "threshold_kmh": threshold_kmh,
                         "n": None, "mean_kmh": None, "v85_kmh": None, "over_limit_share": None,
                         "over_threshold_share": None, "coverage_share": cov[i], "small": True, "withheld": True}
            else:
                point = {"start": local[i], "hours": hours[i], "limit_kmh": limit_kmh, "threshold_kmh": threshold_kmh,
                         "n": n[k], "mean_kmh": mean[k], "v85_kmh": v85[k], "over_limit_share": over_l[k],
                         "over_threshold_share": over_t[k], "coverage_share": cov[i],
                         "small": n[k] < PUBLIC_MIN_VEHICLES, "withheld": False}
            points.append(point)
    return points


def site_series(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, *, public: bool,
                date_from: date | None = None, date_to: date | None = None, step: Step = "hour",
                direction: str | None = None, display: str | None = None, over_kmh: float = 6.0,
                use_days: bool = True) -> SiteSeries:
    """The series use case: one line per direction × display mode present (or asked for), one
    point per step and legal limit in force (exactly as posted), gaps as ``None``. Daily steps
    read the daily sums of planner.daytotals (``use_days`` False: the hourly rollups alone)."""
    return SiteSeries.model_validate(series_data(
        conn, planner, site_id, public=public, date_from=date_from, date_to=date_to, step=step,
        direction=direction, display=display, over_kmh=over_kmh, use_days=use_days))


def site_series_json(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, *, public: bool,
                     **kw) -> bytes:
    """:func:`site_series` as JSON: the bytes of ``site_series(...).model_dump_json(by_alias=True)``,
    encoded straight from the plain data (a year of daily points is ~1,500 of them: building and
    validating a model for each costs more than computing them)."""
    return _JSON.encode(series_data(conn, planner, site_id, public=public, **kw))


_JSON = msgspec.json.Encoder()


def series_data(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, *, public: bool,
                date_from: date | None = None, date_to: date | None = None, step: Step = "hour",
                direction: str | None = None, display: str | None = None, over_kmh: float = 6.0,
                use_days: bool = True) -> dict:
    """:func:`site_series` as plain data in :class:`SiteSeries`'s shape and field order (keys by
    alias: the period's ``from``)."""
    if step not in ("hour", "day"):
        raise LoadError(f"step {step!r} is not one of ['day', 'hour']",
                        errors=[{"record": None, "field": "step", "value": step, "reason": "not hour or day"}])
    d_code = _code(direction, DIRECTIONS, "direction")
    m_code = _code(display, DISPLAYS, "display")
    w = site_window(conn, planner, site_id, date_from=date_from, date_to=date_to)
    tz = ZoneInfo(w.site.time_zone)
    days = use_days and step == "day"
    pp = parts_params(site_id, w.period.start, w.period.end, direction=d_code, display=m_code, use_days=days)
    cp = coverage_params(site_id, w.period.start, w.period.end, use_days=days)
    with conn.pipeline():  # the three reads in one round trip
        parts_cur, limits_cur, cover_cur = (conn.cursor(row_factory=dict_row) for _ in range(3))
        parts_cur.execute(QUERIES["figures_site_parts"], pp, binary=True)
        limits_cur.execute(QUERIES["figures_site_limits"], {"site_id": site_id})
        cover_cur.execute(QUERIES["figures_site_coverage_parts"], cp)
        part_rows, limit_rows, cover_rows = parts_cur.fetchall(), limits_cur.fetchall(), cover_cur.fetchall()
    parts = parts_of(conn, part_rows, pp)
    limits = _posted(limit_rows)
    steps = _steps(w.period, step, tz)
    starts = [start for start, _ in steps]
    step_of_day: dict[date, int] = {}
    for i, start in enumerate(starts):
        step_of_day.setdefault(start.astimezone(tz).date(), i)

    def step_index(part: dict) -> int:
        if part["kind"] == "day":
            return step_of_day[part["local_day"]]
        return bisect_right(starts, part["hour"]) - 1

    coverage: dict[int, tuple[int, int]] = {}
    for c in coverage_of(conn, cover_rows, cp):
        j = step_index(c)
        m, k = coverage.get(j, (0, 0))
        coverage[j] = (m + int(c["minutes"]), k + int(c["hours"]))
    keys = [(p["direction"], p["display"], step_index(p),
             None if p["limit_from"] == NO_LIMIT else limits[(p["limit_timed"], p["limit_from"])]) for p in parts]
    no_limit = any(k[3] is None for k in keys)
    grouped = group_parts(parts, keys)
    by_line: dict[tuple[int, int], dict[tuple[int, float | None], int]] = defaultdict(dict)
    for row, (d, m, j, lim) in enumerate(grouped.keys):
        by_line[(d, m)][(j, lim)] = row
    lines_wanted = set(by_line)
    if d_code is not None and m_code is not None:
        lines_wanted.add((d_code, m_code))

    def threshold(lim: float | None) -> float | None:
        return planner.threshold_kmh(lim, w.site.police_area, over_kmh) if lim is not None else None

    cell_limits = sorted({k[3] for k in grouped.keys}, key=lambda x: (x is None, x or 0))
    level = {lim: (math.nan if lim is None else float(lim), math.nan if lim is None else threshold(lim))
             for lim in cell_limits}
    figs = _rounded(matrix_figures(grouped.hist, grouped.lo, grouped.sum_kmh,
                                   [level[k[3]][0] for k in grouped.keys], [level[k[3]][1] for k in grouped.keys],
                                   w.rounding))
    local = [start.astimezone(tz) for start, _ in steps]
    hours = [h for _, h in steps]
    cov, counted = [], []
    for i, h in enumerate(hours):
        minutes, records = coverage.get(i, (0, 0))
        cov.append(_num(minutes / (60 * h)) if records else None)
        counted.append(bool(records and minutes > 0))
    plain = {"n": np.rint(figs.n).astype(np.int64).tolist(), "mean": _finite(figs.mean), "v85": _finite(figs.v85),
             "over_limit": _finite(figs.over_limit), "over_threshold": _finite(figs.over_threshold)}
    limit_text = {lim: (_num(lim, 6), _num(threshold(lim), 6)) for lim in [*cell_limits, None]}
    lines = [{"direction": DIRECTIONS[key[0]], "display": display_name(key[1]),
              "points": _points(local, hours, cov, counted, by_line.get(key, {}), plain, limit_text, public)}
             for key in sorted(lines_wanted)]
    notes = []
    if not parts:
        notes.append("no vehicles in the period")
    if no_limit:
        notes.append("no legal limit recorded for some hours: record one with `fartkoll limit set`;"
                     " shares over the limit are missing there")
    site = w.site
    return {"site": {"id": site.id, "name": site.name, "time_zone": site.time_zone, "police_area": site.police_area},
            "period": {"from": w.period.start, "to": w.period.end}, "step": step, "public": public,
            "lines": lines, "notes": notes}


__all__ = ["PUBLIC_MIN_VEHICLES", "CellFigures", "HourRow", "cell_figures", "SeriesLine", "SeriesPoint", "SiteSeries", "Window", "load_coverage",
           "load_hours", "series_data", "site_ref", "site_series", "site_series_json", "site_window", "sum_hist",
           "v85_of"]
