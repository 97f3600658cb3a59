"""The ranking's running totals in the database (cell_weeks, migration 0005): refresh and read.

``refresh`` rebuilds each site's rows from the week its state says is stale (all of them when
the reporting thresholds changed) up to ``until`` and records how far they reach
(cell_weeks_state.through_hour). ``read_totals`` gives the totals of every cached series at a
boundary per site; planner.load takes the difference of two boundaries for a period and sums
the rollups after through_hour itself, so a ranking is exact however stale the cache is.

Functions take a connection; ``refresh`` commits after each batch of sites, the rest never do.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from numpy.typing import NDArray

from planner import daytotals
from planner.cellweeks import CELL, COVERAGE, HOURS, SUMMED, WeekRows, pack, row_bytes, running_totals
from planner.dbsettings import query_settings
from planner.settings import PlannerSettings
from planner.stats import KMH_PER_UNIT
from sql import QUERIES

UTC = timezone.utc
HOUR = timedelta(hours=1)
FIRST_WEEK = -(10 ** 6)
"""from_week for a site rebuilt from its first rollup."""
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


def series_key(site: NDArray, limit: NDArray, direction: NDArray, display: NDArray) -> NDArray[np.int64]:
    """One int64 per site × limit × direction × display (limits below 1000 km/h)."""
    return ((np.asarray(site, np.int64) * 1000 + limit) * 4 + direction) * 2 + display


def split_key(key: NDArray[np.int64]) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """(site, limit, direction, display) of series_key values."""
    key = np.asarray(key, np.int64)
    display, rest = key % 2, key // 2
    direction, rest = rest % 4, rest // 4
    return rest // 1000, rest % 1000, direction, display


def local_week_how(t: datetime, tz: str) -> tuple[int, int]:
    """Monday-based local week number (as SQL local_week) and local hour-of-week of an instant."""
    lt = t.astimezone(ZoneInfo(tz))
    days = (lt.date() - datetime(1970, 1, 1).date()).days
    return (days + 3) // 7, (lt.isoweekday() - 1) * 24 + lt.hour


def week_start(week: int, tz: str) -> datetime:
    """The UTC instant of local Monday 00:00 starting ``week`` (a lower bound when 00:00 is skipped)."""
    monday = datetime(1970, 1, 1) + timedelta(days=week * 7 - 3)
    return monday.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC) - HOUR


def repeated_hour(t: datetime, tz: str) -> bool:
    """``t`` starts the second of two UTC hours with the same local hour (the night clocks go back)."""
    return local_week_how(t - HOUR, tz) == local_week_how(t, tz)


def thresholds_by_site(conn: psycopg.Connection, planner: PlannerSettings, over_kmh: float,
                       police_area: dict[int, str]) -> dict[int, dict[int, int]]:
    """{site: {limit: floor of the reporting threshold}} for every limit each site has had.

    The threshold is that of the limit as posted (30 mph: 48.28 km/h, under the key 48). Should
    two postings of one key give different floors, the totals serve neither (planner.load's
    cached_through compares them with each span's own), and the ranking sums those rollups itself.
    """
    out: dict[int, dict[int, int]] = {}
    for site_id, limit, posted_value, posted_unit in conn.execute(QUERIES["cell_site_limits"]):
        if site_id in police_area:
            exact = posted_value * KMH_PER_UNIT[posted_unit]
            out.setdefault(site_id, {})[int(limit)] = math.floor(
                planner.threshold_kmh(exact, police_area[site_id], over_kmh))
    return out


@dataclass(frozen=True)
class SiteState:
    through_hour: datetime | None
    thresholds: dict[int, int]


def load_state(conn: psycopg.Connection) -> dict[int, SiteState]:
    return {r[0]: SiteState(r[1], {int(k): int(v) for k, v in (r[2] or {}).items()})
            for r in conn.execute(QUERIES["cell_state_all"])}


@dataclass
class RefreshResult:
    until: datetime
    sites: int = 0
    rebuilt_from_start: int = 0
    skipped_busy: list[int] = field(default_factory=list)
    rollup_rows: int = 0
    coverage_hours: int = 0
    rows_written: int = 0
    seconds: float = 0.0
    days: daytotals.RebuildResult = field(default_factory=daytotals.RebuildResult)

    def __str__(self) -> str:
        busy = f", {len(self.skipped_busy)} busy (left for the next run)" if self.skipped_busy else ""
        return (f"running totals up to {self.until:%Y-%m-%d %H:%M}Z: {self.sites} sites ({self.rebuilt_from_start} "
                f"from their first week){busy}; {self.rollup_rows:,} rollup rows and {self.coverage_hours:,} hours of "
                f"coverage -> {self.rows_written:,} week rows and {self.days.day_rows:,} day rows "
                f"in {self.seconds:.1f} s")


def refresh(conn: psycopg.Connection, planner: PlannerSettings, *, over_kmh: float = 6.0,
            until: datetime | None = None, site_ids: Iterable[int] | None = None, batch: int = 25) -> RefreshResult:
    """Bring the running totals of all (or the given) sites up to ``until`` (default: the start
    of the current hour; rollups of later hours are summed by the ranking itself)."""
    t0 = time.perf_counter()
    until = until or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    sites = {r[0]: (r[8], r[5]) for r in conn.execute(QUERIES["planner_sites"], {"site_id": None})}  # id -> (tz, police area)
    wanted = sorted(sites if site_ids is None else (set(site_ids) & set(sites)))
    thresholds = thresholds_by_site(conn, planner, over_kmh, {s: sites[s][1] for s in wanted})
    result = RefreshResult(until)
    tz = {s: sites[s][0] for s in wanted}
    for i in range(0, len(wanted), batch):
        _refresh_batch(conn, wanted[i:i + batch], tz, thresholds, until, result)
        conn.commit()
    result.seconds = time.perf_counter() - t0
    return result


def _refresh_batch(conn: psycopg.Connection, batch: list[int], tz: dict[int, str],
                   thresholds: dict[int, dict[int, int]], until: datetime, result: RefreshResult) -> None:
    # the lock first: a site being written is skipped without waiting, and no writer of the
    # locked sites holds their state rows
    locked = [r[0] for r in conn.execute(QUERIES["cell_state_try_lock"], {"site_ids": batch})]
    result.skipped_busy += sorted(set(batch) - set(locked))
    if not locked:
        return
    conn.execute(QUERIES["cell_state_add"], {"site_ids": locked})
    from_week, from_hour = [], []
    days: dict[int, tuple[datetime, datetime]] = {}
    for site_id, through, stored in conn.execute(QUERIES["cell_state_of"], {"site_ids": locked}).fetchall():
        same = {int(k): int(v) for k, v in (stored or {}).items()} == thresholds.get(site_id, {})
        if through is None or not same:
            from_week.append(FIRST_WEEK)
            from_hour.append(EARLIEST)
            result.rebuilt_from_start += 1
        else:
            w, _ = local_week_how(min(through, until), tz[site_id])
            from_week.append(w)
            from_hour.append(week_start(w, tz[site_id]))
        # the daily sums (planner.daytotals) need no thresholds: stale from through's day only
        days[site_id] = (EARLIEST if through is None else min(through, until), until)
    thr = [(s, lim, fl) for s in locked for lim, fl in sorted(thresholds.get(s, {}).items())]
    params = {"site_ids": locked, "from_week": from_week, "from_hour": from_hour, "until": until,
              "scan_from": min(from_hour), "thr_site": [t[0] for t in thr], "thr_limit": [t[1] for t in thr],
              "thr_fl": [t[2] for t in thr]}
    rows = conn.execute(QUERIES["cell_refresh_rows"], params, binary=True).fetchall()
    base = {int(series_key(r[0], r[1], r[2], r[3])): np.frombuffer(r[4], dtype=CELL)
            for r in conn.execute(QUERIES["cell_refresh_base"], params, binary=True)}
    built = _build(rows, base)
    conn.execute(QUERIES["cell_refresh_delete"], params)
    site, limit, direction, display = split_key(built.series)
    with conn.cursor().copy(QUERIES["cell_refresh_copy"]) as copy:
        copy.set_types(["int4", "int2", "int2", "int2", "int4", "bytea"])
        for j in range(len(built)):
            copy.write_row((int(site[j]), int(limit[j]), int(direction[j]), int(display[j]), int(built.week[j]),
                            pack(built.cum[j])))
    conn.execute(QUERIES["cell_series_add"], {"site_id": site.tolist(), "limit_kmh": limit.tolist(),
                                              "direction": direction.tolist(), "display": display.tolist()})
    conn.execute(QUERIES["cell_series_prune"], {"site_ids": locked})
    daytotals.rebuild(conn, days, tz, result.days)
    conn.execute(QUERIES["cell_refresh_done"], {
        "site_ids": locked, "until": until,
        "thresholds": [json.dumps({str(k): v for k, v in sorted(thresholds.get(s, {}).items())}) for s in locked]})
    result.sites += len(locked)
    coverage = sum(1 for r in rows if r[2] == COVERAGE)
    result.rollup_rows += len(rows) - coverage
    result.coverage_hours += coverage
    result.rows_written += len(built)


def _build(rows: list[tuple], base: dict[int, NDArray]) -> WeekRows:
    names = ("site", "limit", "direction", "display", "week", "how", "n", "t0", "t1", "ta", "tb", "e0", "e1")
    if not rows:
        return running_totals(np.zeros(0), np.zeros(0), np.zeros(0), {f: np.zeros(0, np.int64) for f in SUMMED})
    cols = {}
    for i, name in enumerate(names):
        cols[name] = np.fromiter((r[i] for r in rows), dtype=np.int64, count=len(rows))
    series = series_key(cols["site"], cols["limit"], cols["direction"], cols["display"])
    return running_totals(series, cols["week"], cols["how"], {f: cols[f] for f in SUMMED}, base)


@dataclass(frozen=True)
class Totals:
    """Running totals of cached series at one boundary: ``cells[i]`` (168 of CELL) is series
    ``series[i]``; series ascending."""

    series: NDArray[np.int64]
    cells: NDArray

    def lookup(self, series: NDArray[np.int64]) -> NDArray:
        """Totals of the given series (zeros for a series not here)."""
        if np.array_equal(series, self.series):
            return self.cells
        out = np.zeros((len(series), HOURS), dtype=CELL)
        if len(self.series):
            order = np.argsort(self.series)
            j = np.clip(np.searchsorted(self.series[order], series), 0, len(order) - 1)
            hit = self.series[order[j]] == series
            out[hit] = self.cells[order[j[hit]]]
        return out


def read_totals(conn: psycopg.Connection, cuts: dict[int, list[tuple[int, int, int]]]) -> dict[int, Totals]:
    """Running totals at boundaries: ``cuts[k]`` lists (site, local week, local hour-of-week) of
    boundary k for each site; cells of hours before the boundary hour in that week count."""
    params: dict[str, object] = {"k": [], "site_ids": [], "week": [], "how": [], "cell": CELL.itemsize}
    for k, items in cuts.items():
        for site_id, week, how in items:
            params["k"].append(k)
            params["site_ids"].append(site_id)
            params["week"].append(week)
            params["how"].append(how)
    out: dict[int, tuple[list[int], list[bytes]]] = {k: ([], []) for k in cuts}
    if params["k"]:
        with query_settings(conn, jit="off"):  # compiling costs more than these index probes take
            rows = conn.execute(QUERIES["cell_totals"], params, binary=True).fetchall()
        for k, site_id, limit, direction, display, split, head, rest in rows:
            keys, parts = out[k]
            keys.append(int(series_key(site_id, limit, direction, display)))
            parts.append(row_bytes(head, rest, split))
    totals = {}
    for k, (keys, parts) in out.items():
        key = np.array(keys, dtype=np.int64)
        order = np.argsort(key, kind="stable")
        cells = np.frombuffer(b"".join(parts), dtype=CELL).reshape(len(keys), HOURS)
        totals[k] = Totals(key[order], cells[order])
    return totals
