"""Database → arrays for the planner: sites, limit spans, ranking cells, coverage, tips.

The heavy lifting happens in SQL (``planner_cells``): hourly rollups are aggregated to
site × direction × display × legal limit × local hour-of-week, and the exceedance counts are
read from each hour's tails (rollup_hourly.tail/tail2, migration 0003: vehicles at or above a
bin, and its running sum) with a few subscripts, so no histogram crosses the wire; the rows
carry their local hour-of-week, local week and legal limit. The cuts follow planner.exceedance
exactly (whole-km/h signs: "v > L" counts bins ≥ L + 1 and "v ≥ T" bins ≥ ceil T; 'exact' signs
split the bin holding the level linearly), and a test checks the SQL against the pure numpy path.

Up to each site's through_hour the sums come instead from the running totals of cell_weeks
(planner.cellweeks, planner.cellcache): a period's cells are the difference of the totals at its
two boundaries, whatever its length; only the rollups and coverage records after through_hour
are summed in SQL. Both ways give the same cells (``use_cache=False`` forces the SQL sums).

Functions take a connection and never commit. Times are aware UTC datetimes; a period is
[start, end).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg.rows import dict_row

from core.errors import InvalidInput, NotFound
from planner.binnedcells import binned_columns, merge_columns, observed_hours
from planner.cellcache import load_state, local_week_how, read_totals, repeated_hour, split_key
from planner.cellweeks import COVERAGE, HOURS, difference
from planner.dbsettings import query_settings
from planner.hourofweek import HOURS_PER_WEEK, local_cells
from planner.quality import Quality
from planner.settings import PlannerSettings
from planner.stats import KMH_PER_UNIT, bin_values
from sql import QUERIES

UTC = timezone.utc
HOUR = timedelta(hours=1)
CELLS_WORK_MEM = "256MB"
"""work_mem for planner_cells: its hash aggregate holds ~150 bytes a cell (134k cells: ~22 MB)."""


class LoadError(InvalidInput):
    """The planner cannot load what was asked; the message names the value and what to do."""


class SiteNotFound(NotFound, LoadError):
    """No site has that id or name."""


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, whole hours."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise LoadError(f"period {self.start} .. {self.end} needs time-zone-aware datetimes")
        if self.end <= self.start:
            raise LoadError(f"period end {self.end.isoformat()} is not after its start {self.start.isoformat()}")

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)

    def previous(self) -> "Period":
        """The period of equal length just before this one."""
        return Period(self.start - (self.end - self.start), self.start)

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}Z .. {self.end:%Y-%m-%d %H:%M}Z"


@dataclass(frozen=True)
class SiteInfo:
    id: int
    name: str
    street_id: int
    street: str
    municipality: str
    police_area: str
    lat: float | None
    lon: float | None
    time_zone: str
    tags: tuple[str, ...]

    @property
    def school(self) -> bool:
        return "school" in self.tags


@dataclass(frozen=True)
class LimitSpan:
    """A legal limit in force at a site over [start, end) (clipped to the period), with the
    reporting threshold and the histogram rules of the site's signs."""

    site_id: int
    start: datetime
    end: datetime
    limit_kmh: int
    threshold_kmh: float
    rounding: str
    """signs.rounding of the site's signs ('truncate', 'round', 'exact')."""
    sign_limits: tuple[int, ...] = ()
    """Limits the site's signs are configured with (empty: unknown)."""
    posted_kmh: float | None = None
    """The limit as posted, in km/h exactly (30 mph = 48.28032); None: ``limit_kmh``, a km/h limit.
    ``limit_kmh`` is its floor (speed_limits.limit_kmh), the key of the rollups and totals."""
    unit: str = "kmh"
    """signs.unit of the site's signs: which stored value each 1 km/h bin holds."""
    timed: bool = False
    """A limit of some weekdays and hours only (migration 0011), over the standing one."""

    @property
    def integer(self) -> bool:
        """Stored speeds are whole km/h (see planner.exceedance)."""
        return self.rounding != "exact"

    @property
    def exact_kmh(self) -> float:
        """The legal limit L in km/h as posted: "over the limit" is v > L."""
        return float(self.limit_kmh) if self.posted_kmh is None else self.posted_kmh

    def cuts(self) -> dict[str, float]:
        """The tail subscripts planner_cells uses (see the module docstring).

        Over the limit: tail[cut_l]. Over the threshold: tail[thr_fl + 1] plus the share thr_w of
        bin thr_fl. Excess: Σ over bins b ≥ cut_l of count · (b + half − L), where half is the
        mean stored speed above a bin's lower edge (0 for whole km/h, 0.5 for continuous), which
        is tail2[cut_l] + excess_k · tail[cut_l] with excess_k = cut_l + half − 1 − L.

        L and T are the exact posted values (30 mph: L = 48.28 km/h). For whole-unit signs each
        1 km/h bin holds one stored value: bin floor(L) holds L itself or less, so v > L is the
        bins from floor(L) + 1; bin floor(T) counts as over T when its value reaches T (a
        whole-mph sign's 34 mph = 54.72 km/h in bin 54 is over T = 54.28, a km/h sign's 54 is not).
        """
        limit, thr = self.exact_kmh, self.threshold_kmh
        thr_fl = math.floor(thr)
        if self.integer:
            return dict(cut_l=self.limit_kmh + 1, excess_k=self.limit_kmh - limit, thr_fl=thr_fl,
                        thr_w=1.0 if _bin_value(thr_fl, self.unit) >= thr - 1e-9 else 0.0)
        cut_l = self.limit_kmh
        return dict(cut_l=cut_l, excess_k=cut_l - 0.5 - limit, thr_fl=thr_fl, thr_w=thr_fl + 1.0 - thr)


def _bin_value(b: int, unit: str) -> float:
    """The stored speed the 1 km/h bin [b, b + 1) holds for a sign reporting whole ``unit`` values
    (b itself for km/h, or units finer than 1 km/h; -inf: no whole value falls in the bin)."""
    if KMH_PER_UNIT.get(unit, 0.0) < 1.0 or unit == "kmh":
        return float(b)
    v = float(bin_values([b], unit)[0])
    return -math.inf if math.isnan(v) else v


@dataclass(frozen=True)
class CellData:
    """Columns per site × direction × display × limit × hour-of-week over one period.

    Counts are vehicles; ``hours_observed`` is coverage hours where the site's signs report
    coverage, else hours with vehicles; ``coverage_share`` is the site's coverage (all modes)
    in that hour-of-week over the calendar hours of the period (NaN: no coverage data);
    ``quality`` holds LOW_COVERAGE, LIMIT_MISMATCH and LIMIT_CHANGED bits.
    """

    period: Period
    columns: dict[str, NDArray]
    spans: tuple[LimitSpan, ...] = field(default=())
    previous_spans: tuple[LimitSpan, ...] | None = None
    through: dict[int, datetime] = field(default_factory=dict)
    """Sites whose sums came from the running totals, and the hour up to which they did."""
    """Loaded ``with_previous``: the previous period's spans; columns ``prev_n`` and
    ``prev_over_threshold`` hold that period's vehicles in the same cells (see previous_cells)."""

    def __len__(self) -> int:
        return len(self.columns["n"])

    def __getitem__(self, name: str) -> NDArray:
        return self.columns[name]

    def where(self, mask: NDArray[np.bool_]) -> "CellData":
        return CellData(self.period, {k: v[mask] for k, v in self.columns.items()}, self.spans, self.previous_spans,
                        self.through)


CELL_COLUMNS = ("site_id", "direction", "display", "limit_kmh", "hour_of_week", "n", "over_limit", "over_threshold", "excess_sum_kmh", "hours_with_data", "weeks")
_INTEGER_COLUMNS = {"site_id", "direction", "display", "limit_kmh", "hour_of_week", "n", "hours_with_data", "weeks",
                    "prev_n"}
_QUERY_COLUMNS = CELL_COLUMNS + ("prev_n", "prev_over_threshold")
_LEFT_OUT = -1000
"""planner_cells' cut_add for a site without spans: its rows are skipped."""


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def latest_data_hour(conn: psycopg.Connection) -> datetime | None:
    """Start of the latest UTC hour with vehicles, or None when there are none."""
    return conn.execute(QUERIES["planner_latest_hour"]).fetchone()[0]


def default_period(conn: psycopg.Connection, weeks: int) -> Period:
    """The ``weeks`` weeks ending with the latest hour of data."""
    last = latest_data_hour(conn)
    if last is None:
        raise LoadError("no traffic data in rollup_hourly yet: load data (or `fartkoll demo seed`) first")
    end = last + HOUR
    return Period(end - timedelta(weeks=weeks), end)


def load_sites(conn: psycopg.Connection) -> dict[int, SiteInfo]:
    """Every site by id."""
    rows = conn.cursor(row_factory=dict_row).execute(QUERIES["planner_sites"], {"site_id": None}).fetchall()
    return {r["id"]: _site_info(r) for r in rows}


def load_site(conn: psycopg.Connection, site_id: int) -> SiteInfo:
    """One site by id (SiteNotFound: none)."""
    row = conn.cursor(row_factory=dict_row).execute(QUERIES["planner_sites"], {"site_id": site_id}).fetchone()
    if row is None:
        raise SiteNotFound(f"no site with id {site_id}")
    return _site_info(row)


def _site_info(row: dict) -> SiteInfo:
    return SiteInfo(**{**row, "tags": tuple(row["tags"] or ())})


def resolve_site(sites: dict[int, SiteInfo], text: str) -> SiteInfo:
    """A site by id or by name (exact, else a unique case-insensitive prefix)."""
    t = text.strip()
    if t.isdigit() and int(t) in sites:
        return sites[int(t)]
    exact = [s for s in sites.values() if s.name == t]
    if exact:
        return exact[0]
    near = [s for s in sites.values() if s.name.lower().startswith(t.lower())]
    if len(near) == 1:
        return near[0]
    if near:
        names = ", ".join(repr(s.name) for s in near[:5])
        raise LoadError(f"site {text!r} matches several sites ({names}): give the full name or the id")
    raise SiteNotFound(f"no site with id or name {text!r}; `fartkoll planner rank` lists the sites")


def load_spans(conn: psycopg.Connection, period: Period, sites: dict[int, SiteInfo],
               planner: PlannerSettings, over_kmh: float = 6.0) -> list[LimitSpan]:
    """Legal-limit spans clipped to the period, with thresholds by the sites' police areas."""
    p = {"start": period.start, "end": period.end}
    signs = {r[0]: (r[1] or "truncate", tuple(r[2] or ()), r[3] or "kmh")
             for r in conn.execute(QUERIES["planner_site_signs"], p)}
    out = []
    for site_id, valid_from, valid_to, limit, posted_value, posted_unit, timed in conn.execute(QUERIES["planner_limits"], p):
        if site_id not in sites:
            continue
        rounding, sign_limits, unit = signs.get(site_id, ("truncate", (), "kmh"))
        exact = posted_value * KMH_PER_UNIT[posted_unit]
        out.append(LimitSpan(
            site_id, max(valid_from, period.start), period.end if valid_to is None else min(valid_to, period.end),
            int(limit), planner.threshold_kmh(exact, sites[site_id].police_area, over_kmh), rounding, sign_limits,
            None if posted_unit == "kmh" else exact, unit, bool(timed)))
    return out


def _span_params(spans: list[LimitSpan], sites: dict[int, SiteInfo]) -> dict[str, list]:
    cuts = [s.cuts() for s in spans]
    return dict(site_id=[s.site_id for s in spans], lo=[s.start for s in spans], hi=[s.end for s in spans],
                limit_kmh=[s.limit_kmh for s in spans], tz=[sites[s.site_id].time_zone for s in spans],
                **{k: [c[k] for c in cuts] for k in ("cut_l", "excess_k", "thr_fl", "thr_w")})


def _cell_params(spans: list[LimitSpan], previous: list[LimitSpan], sites: dict[int, SiteInfo],
                 period: Period, prev_start: datetime, from_hour: dict[int, datetime] | None = None) -> dict[str, object]:
    """planner_cells' parameters: arrays by period (0 previous, 1 current), site id and limit.

    A site's spans in a period share the rounding (the period's signs), so its limit cut is the
    row's limit plus ``cut_add``; the threshold and the exact limit depend on the limit (and the
    police area), so ``thr_fl``, ``thr_w`` and ``excess_k`` have a limit dimension. Unused entries hold numbers, not NULLs, so
    subscripts stay O(1). ``from_hour[site]``: sum only that site's rollups from this hour on
    (the earlier ones come from the running totals).
    """
    both = spans + previous
    top = max((s.site_id for s in both), default=1)
    lo, hi = min((s.limit_kmh for s in both), default=0), max((s.limit_kmh for s in both), default=0)
    cut_add = [[_LEFT_OUT] * top for _ in range(2)]
    excess_k = [[[0.0] * (hi - lo + 1) for _ in range(top)] for _ in range(2)]
    thr_fl = [[[0] * (hi - lo + 1) for _ in range(top)] for _ in range(2)]
    thr_w = [[[0.0] * (hi - lo + 1) for _ in range(top)] for _ in range(2)]
    week0 = [0] * top
    for k, group in ((0, previous), (1, spans)):
        for s in group:
            c, i = s.cuts(), s.site_id - 1
            cut_add[k][i], excess_k[k][i][s.limit_kmh - lo] = int(c["cut_l"]) - s.limit_kmh, c["excess_k"]
            thr_fl[k][i][s.limit_kmh - lo], thr_w[k][i][s.limit_kmh - lo] = int(c["thr_fl"]), c["thr_w"]
    for s in spans:
        week0[s.site_id - 1] = local_week(period.start - timedelta(days=1), sites[s.site_id].time_zone)
    weeks = (period.end - period.start) // timedelta(weeks=1) + 3  # a day's margin each side
    bounds = [(0, 1), (1, top), (lo, hi)]
    from_hour = from_hour or {}
    starts = [max(prev_start, from_hour.get(i, prev_start)) for i in range(1, top + 1)]
    used = [starts[s.site_id - 1] for s in both]
    return dict(cut_add=_with_bounds(cut_add, bounds[:2]), excess_k=_with_bounds(excess_k, bounds),
                thr_fl=_with_bounds(thr_fl, bounds), thr_w=_with_bounds(thr_w, bounds), week0=week0,
                no_weeks="0" * weeks, from_hour=starts, scan_from=min(used, default=period.end),
                start=period.start, end=period.end)


def _with_bounds(values: list, bounds: list[tuple[int, int]]) -> str:
    """A nested list's array text form with explicit subscripts, e.g. [0:1][1:200]={{…},{…}}."""
    body = json.dumps(values, separators=(",", ":")).replace("[", "{").replace("]", "}")
    return "".join(f"[{a}:{b}]" for a, b in bounds) + "=" + body


def local_week(t: datetime, tz: str) -> int:
    """Monday-based local week number of an instant, as the SQL function local_week."""
    return ((t.astimezone(ZoneInfo(tz)).date() - date(1970, 1, 1)).days + 3) // 7


def calendar_hours(period: Period, tz: str) -> NDArray[np.float64]:
    """Hours of the period in each local hour-of-week cell (168,), DST-aware."""
    hours = np.arange(int(period.start.timestamp()), int(period.end.timestamp()), 3600, dtype=np.int64)
    cell, _ = local_cells(hours, tz)
    return np.bincount(cell, minlength=HOURS_PER_WEEK).astype(np.float64)


def load_cells(conn: psycopg.Connection, period: Period, planner: PlannerSettings, *, over_kmh: float = 6.0,
               sites: dict[int, SiteInfo] | None = None, with_previous: bool = False,
               use_cache: bool = True) -> CellData:
    """Ranking cells for the period (all sites with data), with coverage and quality bits.

    Sums come from the running totals of cell_weeks up to each site's through_hour and from the
    hourly rollups after it (``use_cache=False``: all from the rollups; the same result).

    ``with_previous``: the same pass over the rollups also counts the previous period of equal
    length in the same cells (columns ``prev_n``, ``prev_over_threshold``; see previous_cells).
    """
    sites = load_sites(conn) if sites is None else sites
    spans = load_spans(conn, period, sites, planner, over_kmh)
    before = period.previous()
    previous = load_spans(conn, before, sites, planner, over_kmh) if with_previous else []
    prev_start = before.start if with_previous else period.start
    through = cached_through(conn, spans + previous, sites, (prev_start, period.start, period.end), planner,
                             over_kmh) if use_cache else {}
    cell_params = _cell_params(spans, previous, sites, period, prev_start, through)
    cols = _fetch_cells(conn, cell_params) if cell_params["scan_from"] < period.end else _no_cells()
    cov = _no_coverage()
    if through:
        cached, cov = _cached_cells(conn, through, spans, previous, sites, (prev_start, period.start, period.end))
        cols = _merge_cells(cols, cached)
    if not with_previous:
        del cols["prev_n"], cols["prev_over_threshold"]
    cells = complete_cells(conn, cols, period, spans, sites, planner, through=through, cached_coverage=cov,
                           previous=previous if with_previous else None)
    return _with_binned(conn, cells, spans, previous, sites, planner, prev_start, over_kmh, with_previous)


def _with_binned(conn: psycopg.Connection, cells: CellData, spans: list[LimitSpan], previous: list[LimitSpan],
                 sites: dict[int, SiteInfo], planner: PlannerSettings, prev_start: datetime, over_kmh: float,
                 with_previous: bool) -> CellData:
    """The cells with the pre-binned counts of the period added (planner.binnedcells)."""
    period = cells.period
    binned = binned_columns(conn, period.start, period.end, prev_start, sorted({s.site_id for s in spans + previous}),
                            {i: s.time_zone for i, s in sites.items()},
                            lambda site, limit: planner.threshold_kmh(limit, sites[site].police_area, over_kmh))
    if binned is None:
        return cells
    current = binned["hours_with_data"] > 0  # a cell of the previous period only has no threshold here
    binned = {k: v[current] for k, v in binned.items()}
    extra = binned.pop("quality"), binned.pop("seconds")
    if not with_previous:
        del binned["prev_n"], binned["prev_over_threshold"]
    at = set(binned["site_id"].tolist())
    done = complete_cells(conn, binned, period, [s for s in spans if s.site_id in at], sites, planner,
                          previous=previous if with_previous else None)
    b = dict(done.columns)
    b["quality"] = b["quality"] | extra[0]
    b["hours_observed"] = observed_hours({**b, "seconds": extra[1]})
    return CellData(period, merge_columns(dict(cells.columns), b), cells.spans, cells.previous_spans, cells.through)


def complete_cells(conn: psycopg.Connection, cols: dict[str, NDArray], period: Period, spans: list[LimitSpan],
                   sites: dict[int, SiteInfo], planner: PlannerSettings, *, through: dict[int, datetime] | None = None,
                   cached_coverage: dict[str, NDArray] | None = None,
                   previous: list[LimitSpan] | None = None) -> CellData:
    """CellData from summed cells (CELL_COLUMNS, key order): hours observed and the coverage
    share from the coverage records (the running totals' up to ``through``, coverage_hourly after
    it), quality bits and each cell's threshold."""
    through = through or {}
    m = len(cols["n"])

    # coverage: per (site, display, limit, how) for hours observed; per (site, how) for the share
    c_site, c_disp, c_lim, c_how, c_hours = _coverage(conn, _span_params(spans, sites), through,
                                                      _no_coverage() if cached_coverage is None else cached_coverage)
    cal = {tz: calendar_hours(period, tz) for tz in {s.time_zone for s in sites.values()}}
    site = cols["site_id"]
    how = cols["hour_of_week"]
    ids = np.array(sorted(sites), dtype=np.int64)
    row_of = np.searchsorted(ids, site)  # every cell's site is in `sites`

    def key(s, d, lim, h):
        return ((np.asarray(s, np.int64) * 2 + d) * 1000 + lim) * HOURS_PER_WEEK + h

    observed = cols["hours_with_data"].astype(np.float64)
    share = np.full(m, np.nan)
    if len(c_site):
        c_key = key(c_site, c_disp, c_lim, c_how)
        order = np.argsort(c_key)
        c_key, c_sorted = c_key[order], c_hours[order]
        k = key(site, cols["display"], cols["limit_kmh"], how)
        j = np.clip(np.searchsorted(c_key, k), 0, len(c_key) - 1)
        has_cov = np.isin(site, c_site)
        observed = np.where(has_cov & (c_key[j] == k), c_sorted[j], observed)
        per_site_how = np.zeros((len(ids), HOURS_PER_WEEK))
        np.add.at(per_site_how, (np.searchsorted(ids, c_site), c_how), c_hours)
        cal_rows = np.array([cal[sites[int(i)].time_zone] for i in ids])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = per_site_how[row_of, how] / cal_rows[row_of, how]
        share = np.where(has_cov, ratio, np.nan)
    quality = np.zeros(m, dtype=np.int64)
    limits_of: dict[int, set[int]] = defaultdict(set)
    mismatched: set[int] = set()
    for s in spans:
        limits_of[s.site_id].add(s.limit_kmh)
        if any(sl != s.limit_kmh for sl in s.sign_limits):
            mismatched.add(s.site_id * 1000 + s.limit_kmh)
    changed = [sid for sid, lims in limits_of.items() if len(lims) > 1]
    quality |= np.where(np.isin(site, changed), int(Quality.LIMIT_CHANGED), 0)
    quality |= np.where(np.isin(site * 1000 + cols["limit_kmh"], list(mismatched)), int(Quality.LIMIT_MISMATCH), 0)
    with np.errstate(invalid="ignore"):
        quality |= np.where(share < planner.min_coverage, int(Quality.LOW_COVERAGE), 0)
    thr_key = np.array([s.site_id * 1000 + s.limit_kmh for s in spans], dtype=np.int64)
    thr_val = np.array([s.threshold_kmh for s in spans], dtype=np.float64)
    o = np.argsort(thr_key)
    cols["threshold_kmh"] = thr_val[o][np.searchsorted(thr_key[o], site * 1000 + cols["limit_kmh"])] if m else np.zeros(0)
    cols["hours_observed"] = observed
    cols["coverage_share"] = share
    cols["quality"] = quality
    return CellData(period, cols, tuple(spans), None if previous is None else tuple(previous), dict(through))


def _no_cells() -> dict[str, NDArray]:
    return {name: np.zeros(0, dtype=np.int64 if name in _INTEGER_COLUMNS else np.float64) for name in _QUERY_COLUMNS}


def _fetch_cells(conn: psycopg.Connection, params: dict[str, object]) -> dict[str, NDArray]:
    """planner_cells as columns, in key order (site, direction, display, limit, hour-of-week)."""
    # Measured on 200 sites × 8 weeks: the planner's own choice (a sort spilled to disk, an index
    # scan fetching rows in hour order, JIT) takes ~1.5 s; one in-memory hash aggregate over a
    # bitmap heap scan, without JIT compilation, ~0.9 s. Set for this query only.
    with query_settings(conn, work_mem=CELLS_WORK_MEM, jit="off", enable_indexscan="off"):
        rows = conn.execute(QUERIES["planner_cells"], params, binary=True).fetchall()
    # every value is a whole number or a float: one float64 table (exact below 2^53), cut into columns
    table = np.array(rows, dtype=np.float64).reshape(len(rows), len(_QUERY_COLUMNS))
    # in key order, whatever order the aggregation returned them in (the ranking's ties keep it)
    table = table[np.lexsort(table[:, 4::-1].T)]
    return {name: table[:, i].astype(np.int64) if name in _INTEGER_COLUMNS else table[:, i].copy()
            for i, name in enumerate(_QUERY_COLUMNS)}


def cached_through(conn: psycopg.Connection, spans: list[LimitSpan], sites: dict[int, SiteInfo],
                   boundaries: tuple[datetime, ...], planner: PlannerSettings, over_kmh: float) -> dict[int, datetime]:
    """Per site, the hour up to which its running totals (cell_weeks) serve this load.

    A site counts when its totals were built with the thresholds its spans use. The hour is the
    site's through_hour, moved back so that no boundary falls between the two hours of a night
    the clocks go back (the totals cannot split those); a site whose hour is not after the first
    boundary is left to the rollups.
    """
    state = load_state(conn)
    needed: dict[int, dict[int, int]] = defaultdict(dict)
    for s in spans:
        needed[s.site_id][s.limit_kmh] = int(s.cuts()["thr_fl"])
    out = {}
    for site_id, limits in needed.items():
        st = state.get(site_id)
        if st is None or st.through_hour is None or any(st.thresholds.get(k) != v for k, v in limits.items()):
            continue
        tz, t = sites[site_id].time_zone, st.through_hour
        for b in boundaries:
            if b <= t and repeated_hour(b, tz):
                t = b - HOUR
        if repeated_hour(t, tz):
            t -= HOUR
        if t > boundaries[0]:
            out[site_id] = t
    return out


def _cached_cells(conn: psycopg.Connection, through: dict[int, datetime], spans: list[LimitSpan],
                  previous: list[LimitSpan], sites: dict[int, SiteInfo],
                  boundaries: tuple[datetime, datetime, datetime]) -> tuple[dict[str, NDArray], dict[str, NDArray]]:
    """planner_cells' columns from the running totals, [min(b, T), min(b', T)) per site, and the
    coverage hours of the current period per site × display × limit × hour-of-week."""
    cuts = {k: [(site_id, *local_week_how(min(b, t), sites[site_id].time_zone)) for site_id, t in through.items()]
            for k, b in enumerate(boundaries)}
    tot = read_totals(conn, cuts)
    series = np.unique(np.concatenate([tot[k].series for k in tot]))
    p0, p1, p2 = (tot[k].lookup(series) for k in range(3))
    cur, prev = difference(p2, p1), difference(p1, p0)
    site, limit, direction, display = split_key(series)

    def derived(d: dict[str, NDArray], group: list[LimitSpan]) -> tuple[NDArray, ...]:
        """over limit, over threshold, excess per cell (series × 168) under the period's cuts."""
        by = {(s.site_id, s.limit_kmh): s.cuts() for s in group}
        m = len(series)
        inside = np.zeros(m, dtype=bool)
        cut_l1, excess_k, thr_w = np.zeros(m, dtype=bool), np.zeros(m), np.zeros(m)
        for i in range(m):
            c = by.get((int(site[i]), int(limit[i])))
            if c is not None:
                inside[i] = True
                cut_l1[i] = c["cut_l"] == limit[i] + 1
                excess_k[i], thr_w[i] = c["excess_k"], c["thr_w"]
        t = np.where(cut_l1[:, None], d["t1"], d["t0"]).astype(np.float64)
        e = np.where(cut_l1[:, None], d["e1"], d["e0"]).astype(np.float64) + excess_k[:, None] * t
        thr = d["tb"] + thr_w[:, None] * (d["ta"] - d["tb"])
        return inside, t, thr, e

    is_cov = direction == COVERAGE
    in_cur, over_limit, over_thr, excess = derived(cur, spans)
    in_prev, _, prev_thr, _ = derived(prev, previous)
    rows = np.where(in_cur[:, None], cur["rows"], 0)
    prev_n = np.where(in_prev[:, None], prev["n"], 0)
    keep = (((rows > 0) | (prev_n > 0)) & ~is_cov[:, None]).reshape(-1)
    measured = ((rows > 0) & is_cov[:, None]).reshape(-1)  # hours with coverage records in the period
    z = in_cur[:, None]
    cols = {
        "site_id": np.repeat(site, HOURS), "direction": np.repeat(direction, HOURS),
        "display": np.repeat(display, HOURS), "limit_kmh": np.repeat(limit, HOURS),
        "hour_of_week": np.tile(np.arange(HOURS), len(series)),
        "n": np.where(z, cur["n"], 0), "over_limit": np.where(z, over_limit, 0.0),
        "over_threshold": np.where(z, over_thr, 0.0), "excess_sum_kmh": np.where(z, excess, 0.0),
        "hours_with_data": rows, "weeks": np.where(z, cur["weeks"], 0),
        "prev_n": prev_n, "prev_over_threshold": np.where(in_prev[:, None], prev_thr, 0.0),
    }
    flat = {k: np.asarray(v).reshape(-1) for k, v in cols.items()}
    coverage = {k: flat[k][measured] for k in _COVERAGE_KEYS}
    coverage["hours"] = flat["n"][measured] / 60.0
    return {k: v[keep] for k, v in flat.items()}, coverage


_COVERAGE_KEYS = ("site_id", "display", "limit_kmh", "hour_of_week")


def _no_coverage() -> dict[str, NDArray]:
    return {**{k: np.zeros(0, dtype=np.int64) for k in _COVERAGE_KEYS}, "hours": np.zeros(0)}


def _coverage(conn: psycopg.Connection, params: dict[str, list], through: dict[int, datetime],
              cached: dict[str, NDArray]) -> tuple[NDArray, ...]:
    """Hours measured per site × display × limit × hour-of-week (one row per key): the running
    totals' (``cached``) plus planner_coverage_cells over each span from the site's through_hour."""
    spans = [(site, max(lo, through.get(site, lo)), hi, lim, tz)
             for site, lo, hi, lim, tz in zip(*(params[k] for k in ("site_id", "lo", "hi", "limit_kmh", "tz")), strict=True)]
    spans = [x for x in spans if x[1] < x[2]]
    parts = [cached]
    if spans:
        rows = conn.execute(QUERIES["planner_coverage_cells"], {
            **{k: [x[i] for x in spans] for i, k in enumerate(("site_id", "lo", "hi", "limit_kmh", "tz"))},
            "start": min(x[1] for x in spans), "end": max(x[2] for x in spans)}).fetchall()
        parts.append({**{k: np.array([r[j] for r in rows], dtype=np.int64) for j, k in enumerate(_COVERAGE_KEYS)},
                      "hours": np.array([float(r[4]) for r in rows])})
    both = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    if not len(both["hours"]):
        return tuple(both[k] for k in (*_COVERAGE_KEYS, "hours"))
    key = ((both["site_id"] * 2 + both["display"]) * 1000 + both["limit_kmh"]) * HOURS_PER_WEEK + both["hour_of_week"]
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    hours = np.bincount(inv.reshape(-1), weights=both["hours"], minlength=len(uniq))
    return (*(both[k][first] for k in _COVERAGE_KEYS), hours)


def _merge_cells(a: dict[str, NDArray], b: dict[str, NDArray]) -> dict[str, NDArray]:
    """Cells of two sources summed per key, in key order, keeping cells with rows in the period."""
    keys = ("site_id", "direction", "display", "limit_kmh", "hour_of_week")
    both = {k: np.concatenate([a[k], b[k].astype(a[k].dtype)]) for k in a}
    if not len(both["n"]):
        return both
    order = np.lexsort([both[k] for k in reversed(keys)])
    both = {k: v[order] for k, v in both.items()}
    new = np.ones(len(order), dtype=bool)
    new[1:] = np.any([both[k][1:] != both[k][:-1] for k in keys], axis=0)
    starts = np.flatnonzero(new)
    out = {k: (both[k][starts] if k in keys else np.add.reduceat(both[k], starts)) for k in both}
    keep = out["hours_with_data"] > 0
    return {k: v[keep] for k, v in out.items()}


def previous_cells(cells: CellData) -> CellData:
    """The previous period's vehicles and vehicles over the threshold, in the cells of a
    ``with_previous`` load that had vehicles then (other columns are not loaded)."""
    if cells.previous_spans is None:
        raise LoadError("these cells were loaded without the previous period: pass with_previous=True")
    keep = cells["prev_n"] > 0
    cols = {k: cells[k][keep] for k in ("site_id", "direction", "display", "limit_kmh", "hour_of_week")}
    cols.update(n=cells["prev_n"][keep], over_threshold=cells["prev_over_threshold"][keep])
    return CellData(cells.period.previous(), cols, cells.previous_spans)


def load_tips(conn: psycopg.Connection, since: datetime, until: datetime, radius_m: float) -> dict[int, int]:
    """Open citizen tips per site received in [since, until)."""
    rows = conn.execute(QUERIES["planner_tips"], {"since": since, "until": until, "radius_m": radius_m})
    return {int(site): int(n) for site, n in rows}


def load_site_rules(conn: psycopg.Connection) -> dict[str, list[int]]:
    """Standing rules: {'pin': [site ids], 'exclude': [site ids]}."""
    out: dict[str, list[int]] = {"pin": [], "exclude": []}
    for site_id, _name, rule, *_ in conn.execute(QUERIES["planner_site_rules"]):
        out[rule].append(int(site_id))
    return out
