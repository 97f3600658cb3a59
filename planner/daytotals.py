"""A site's vehicles and coverage summed per local day (table figure_days, migrations 0013 and
0017), with each series' running totals up to every day.

``rebuild`` writes the daily sums of the given sites from a local day on, and the running totals
continued from each series' last day before it; planner.cellcache calls it in the same
transaction as the ranking's running totals, so both hold every rollup before the local day of
``cell_weeks_state.through_hour``. ``vehicle_parts`` and ``coverage_parts`` read a period as
those days (each day's sums, or with ``running`` the difference of two rows of running totals per
series) plus the hourly rollups (or coverage records) of the rest, which add up to exactly what
summing every hour gives, however stale the sums are. ``Sums`` adds parts up with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from psycopg.rows import dict_row

from sql import QUERIES

UTC = timezone.utc
NO_LIMIT = datetime(1, 1, 1, tzinfo=UTC)
"""limit_from of parts without a legal limit (as the queries write it)."""
FIRST_DAY = date(1900, 1, 1)
HIST = np.dtype("<i4")


def day_start(day: date, tz: str) -> datetime:
    """The UTC instant of local midnight starting ``day`` (a lower bound when it is skipped)."""
    return datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(UTC)


def _limit_from(x: datetime | None) -> datetime:
    return NO_LIMIT if x is None else x


@dataclass
class Sums:
    """Vehicles, Σv, Σv², hours with data, first and last hour and the 1 km/h histogram of parts."""

    n: int = 0
    sum_kmh: float = 0.0
    sumsq_kmh: float = 0.0
    hours: int = 0
    first_hour: datetime | None = None
    last_hour: datetime | None = None
    lo: int = 0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def add_counts(self, lo: int, counts: np.ndarray) -> None:
        counts = np.asarray(counts, dtype=np.int64)
        if not len(counts):
            return
        if not len(self.hist):
            self.lo, self.hist = lo, counts.copy()
            return
        new_lo = min(self.lo, lo)
        new_hi = max(self.lo + len(self.hist), lo + len(counts))
        if (new_lo, new_hi) != (self.lo, self.lo + len(self.hist)):
            grown = np.zeros(new_hi - new_lo, dtype=np.int64)
            grown[self.lo - new_lo:self.lo - new_lo + len(self.hist)] = self.hist
            self.lo, self.hist = new_lo, grown
        self.hist[lo - self.lo:lo - self.lo + len(counts)] += counts

    def add(self, part: dict) -> None:
        """Add one row of figures_site_parts or figure_days_rollups."""
        self.n += int(part["n"])
        self.sum_kmh += float(part["sum_kmh"])
        self.sumsq_kmh += float(part["sumsq_kmh"])
        self.hours += int(part.get("hours", 1))
        first, last = part.get("first_hour", part.get("hour")), part.get("last_hour", part.get("hour"))
        self.first_hour = first if self.first_hour is None else min(self.first_hour, first)
        self.last_hour = last if self.last_hour is None else max(self.last_hour, last)
        raw = part.get("hist_bytes")
        counts = np.frombuffer(raw, dtype=HIST) if raw is not None else np.asarray(part["hist"], dtype=np.int64)
        self.add_counts(int(part["hist_lo"]), counts)


@dataclass(frozen=True)
class Grouped:
    """Parts summed per key, as arrays: row i is ``keys[i]``; ``hist`` (rows × bins, float64 of
    whole counts) starts at stored speed ``lo``."""

    keys: list
    n: np.ndarray
    sum_kmh: np.ndarray
    sumsq_kmh: np.ndarray
    hours: np.ndarray
    first_hour: list
    last_hour: list
    lo: int
    hist: np.ndarray


def group_parts(parts: list[dict], keys: list) -> Grouped:
    """Sums of the parts per key (``keys[i]`` is part i's), vectorised: one pass of numpy over
    every part's histogram instead of one addition per part."""
    index: dict = {}
    idx = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys))
    g = len(index)
    if not g:
        e = np.zeros(0)
        return Grouped([], e, e, e, e, [], [], 0, np.zeros((0, 0)))
    n = np.bincount(idx, weights=np.fromiter((p["n"] for p in parts), np.float64, len(parts)), minlength=g)
    s1 = np.bincount(idx, weights=np.fromiter((p["sum_kmh"] for p in parts), np.float64, len(parts)), minlength=g)
    s2 = np.bincount(idx, weights=np.fromiter((p["sumsq_kmh"] for p in parts), np.float64, len(parts)), minlength=g)
    hours = np.bincount(idx, weights=np.fromiter((p["hours"] for p in parts), np.float64, len(parts)), minlength=g)
    counts = [np.frombuffer(p["hist_bytes"], dtype=HIST) if p["hist_bytes"] is not None
              else np.asarray(p["hist"], dtype=np.int64) for p in parts]
    lens = np.fromiter((len(c) for c in counts), np.int64, len(parts))
    los = np.fromiter((p["hist_lo"] for p in parts), np.int64, len(parts))
    has = lens > 0
    lo = int(los[has].min()) if has.any() else 0
    width = int((los + lens)[has].max()) - lo if has.any() else 0
    flat = np.concatenate(counts).astype(np.int64) if lens.sum() else np.zeros(0, np.int64)
    offset = np.arange(len(flat)) - np.repeat(np.cumsum(lens) - lens, lens)
    pos = np.repeat(idx * width + los - lo, lens) + offset
    hist = np.bincount(pos, weights=flat, minlength=g * width).reshape(g, width) if width else np.zeros((g, 0))
    first: list = [None] * g
    last: list = [None] * g
    for i, p in zip(idx.tolist(), parts, strict=True):
        if first[i] is None or p["first_hour"] < first[i]:
            first[i] = p["first_hour"]
        if last[i] is None or p["last_hour"] > last[i]:
            last[i] = p["last_hour"]
    return Grouped(list(index), n, s1, s2, hours, first, last, lo, hist)


def aggregate(parts: list[dict], keys: list) -> dict:
    """Sums of the parts per key (``keys[i]`` is part i's), as :class:`Sums` (see :func:`group_parts`)."""
    g = group_parts(parts, keys)
    return {k: Sums(int(round(g.n[i])), float(g.sum_kmh[i]), float(g.sumsq_kmh[i]), int(round(g.hours[i])),
                    g.first_hour[i], g.last_hour[i], g.lo, np.rint(g.hist[i]).astype(np.int64))
            for i, k in enumerate(g.keys)}


def _hist_of(lo: int | None, raw: bytes | None) -> tuple[int, np.ndarray]:
    return (0, np.zeros(0, np.int64)) if raw is None else (int(lo), np.frombuffer(raw, dtype=HIST).astype(np.int64))


def _stale(r: dict) -> bool:
    """A 'run' row whose running totals are missing (rows written before migration 0017)."""
    return r["n"] is None or (r["base_day"] is not None and r["base_n"] is None)


def _difference(r: dict) -> dict:
    """A 'run' row as one part: the series' days from d0 = running totals at its last day before
    d1 less those at its last day before d0 (none: zero)."""
    lo, hist = _hist_of(r["hist_lo"], r["hist_bytes"])
    if r["base_day"] is not None:
        b_lo, b_hist = _hist_of(r["base_hist_lo"], r["base_hist"])
        diff = Sums(lo=lo, hist=hist.copy())
        diff.add_counts(b_lo, -b_hist)
        lo, hist = diff.lo, diff.hist
        n, s1, s2, hours = (r["n"] - r["base_n"], r["sum_kmh"] - r["base_sum_kmh"],
                            r["sumsq_kmh"] - r["base_sumsq_kmh"], r["hours"] - r["base_hours"])
    else:
        n, s1, s2, hours = r["n"], r["sum_kmh"], r["sumsq_kmh"], r["hours"]
    nz = np.flatnonzero(hist)
    lo, hist = (lo + int(nz[0]), hist[nz[0]:nz[-1] + 1]) if len(nz) else (lo, hist[:0])
    return {"kind": "run", "local_day": r["local_day"], "hour": None, "direction": r["direction"],
            "display": r["display"], "limit_timed": r["limit_timed"], "limit_from": _limit_from(r["limit_from"]),
            "n": int(n), "sum_kmh": float(s1), "sumsq_kmh": float(s2), "hours": int(hours),
            "first_hour": r["first_hour"], "last_hour": r["last_hour"], "hist_lo": lo,
            "hist_bytes": hist.astype(HIST).tobytes(), "hist": None}


def parts_params(site_id: int, start: datetime, end: datetime, *, direction: int | None = None,
                 display: int | None = None, use_days: bool = True, running: bool = False) -> dict:
    """Parameters of figures_site_parts for :func:`vehicle_parts` (to send it in a pipeline)."""
    return {"site_id": site_id, "start": start, "end": end, "direction": direction, "display": display,
            "use_days": use_days, "running": use_days and running}


def vehicle_parts(conn: psycopg.Connection, site_id: int, start: datetime, end: datetime, *,
                  direction: int | None = None, display: int | None = None, use_days: bool = True,
                  running: bool = False) -> list[dict]:
    """Parts that add up to the site's rollups in [start, end): complete local days (kind 'day';
    with ``running`` one part per series for all of them, kind 'run', from two rows of running
    totals) and single hours (kind 'hour'), each with direction, display, limit_timed and
    limit_from (NO_LIMIT: none recorded). ``use_days`` False: hours only (the plain summation).
    Running totals missing (rows written before migration 0017): the plain summation."""
    p = parts_params(site_id, start, end, direction=direction, display=display, use_days=use_days, running=running)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUERIES["figures_site_parts"], p, binary=True).fetchall()
    return parts_of(conn, rows, p)


def parts_of(conn: psycopg.Connection, rows: list[dict], params: dict) -> list[dict]:
    """:func:`vehicle_parts` from the rows figures_site_parts gave for ``params`` (see
    :func:`parts_params`); running totals missing: the plain summation, read again."""
    if any(r["kind"] == "run" and _stale(r) for r in rows):
        return vehicle_parts(conn, params["site_id"], params["start"], params["end"], direction=params["direction"],
                             display=params["display"], use_days=False)
    out = []
    for r in rows:
        if r["kind"] == "run":
            out.append(_difference(r))
        else:
            r["limit_from"] = _limit_from(r["limit_from"])
            out.append(r)
    return out


def coverage_params(site_id: int, start: datetime, end: datetime, *, use_days: bool = True,
                    running: bool = False) -> dict:
    """Parameters of figures_site_coverage_parts for :func:`coverage_parts`."""
    return {"site_id": site_id, "start": start, "end": end, "use_days": use_days, "running": use_days and running}


def coverage_parts(conn: psycopg.Connection, site_id: int, start: datetime, end: datetime, *,
                   use_days: bool = True, running: bool = False) -> list[dict]:
    """Coverage of the site in [start, end) in parts (as ``vehicle_parts``): minutes measured by
    the fullest sign each hour, and hours with coverage records; a 'run' part covers the local
    days from ``local_day`` up to ``to_day``."""
    p = coverage_params(site_id, start, end, use_days=use_days, running=running)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUERIES["figures_site_coverage_parts"], p).fetchall()
    return coverage_of(conn, rows, p)


def coverage_of(conn: psycopg.Connection, rows: list[dict], params: dict) -> list[dict]:
    """:func:`coverage_parts` from the rows figures_site_coverage_parts gave for ``params``."""
    for r in rows:
        if r["kind"] != "run":
            continue
        if r["minutes"] is None or (r["base_day"] is not None and r["base_minutes"] is None):
            return coverage_parts(conn, params["site_id"], params["start"], params["end"], use_days=False)
        if r["base_day"] is not None:
            r["minutes"] -= r["base_minutes"]
            r["hours"] -= r["base_hours"]
    return rows


@dataclass
class RebuildResult:
    sites: int = 0
    rollup_rows: int = 0
    day_rows: int = 0


def rebuild(conn: psycopg.Connection, sites: dict[int, tuple[datetime, datetime]], tz: dict[int, str],
            result: RebuildResult | None = None) -> RebuildResult:
    """Rebuild the daily sums of ``sites[s] = (from, until)``: every local day from the one holding
    ``from`` up to the last complete day before ``until``, with each series' running totals
    continued from its last day before them (a site whose running totals are missing there is
    rebuilt from its first day). The caller holds the sites' refresh locks and commits."""
    result = result or RebuildResult()
    if not sites:
        return result
    ids = sorted(sites)
    params = _rebuild_params(ids, sites, tz)
    base = _running_base(conn, params)
    stale = sorted({k[0] for k, v in base.items() if v is None})
    if stale:  # rows from before migration 0017: every day of those sites again
        sites = {s: ((EARLIEST_DAY, hi) if s in stale else (lo, hi)) for s, (lo, hi) in sites.items()}
        params = _rebuild_params(ids, sites, tz)
        base = _running_base(conn, params)
    conn.execute(QUERIES["figure_days_delete"], params)
    out: list[tuple] = []
    with conn.cursor(row_factory=dict_row) as cur:
        for j in range(len(ids)):  # a site at a time keeps memory flat
            one = {k: [v[j]] for k, v in params.items()}
            rows = cur.execute(QUERIES["figure_days_rollups"], one, binary=True).fetchall()
            keys = [(r["site_id"], r["local_day"], r["direction"], r["display"], r["limit_timed"], r["limit_from"])
                    for r in rows]
            out += [_row(k, acc) for k, acc in aggregate(rows, keys).items()]
            result.rollup_rows += len(rows)
        for r in cur.execute(QUERIES["figure_days_coverage"], params).fetchall():
            out.append((r["site_id"], r["local_day"], 3, 0, False, NO_LIMIT, int(r["minutes"]), 0.0, 0.0,
                        int(r["hours"]), r["first_hour"], r["last_hour"], 0, b""))
    out = _with_running_totals(out, base)
    with conn.cursor().copy(QUERIES["figure_days_copy"]) as copy:
        copy.set_types(["int4", "date", "int2", "int2", "bool", "timestamptz", "int8", "float8", "float8", "int4",
                        "timestamptz", "timestamptz", "int2", "bytea", "int8", "float8", "float8", "int8", "int2",
                        "bytea"])
        for row in out:
            copy.write_row(row)
    result.sites += len(ids)
    result.day_rows += len(out)
    return result


EARLIEST_DAY = datetime(1900, 1, 2, tzinfo=UTC)


def _rebuild_params(ids: list[int], sites: dict[int, tuple[datetime, datetime]], tz: dict[int, str]) -> dict:
    from_day, to_day, scan_from, scan_to = [], [], [], []
    for s in ids:
        lo, hi = sites[s]
        zone = ZoneInfo(tz[s])
        d0 = max(lo, EARLIEST_DAY).astimezone(zone).date()
        d1 = hi.astimezone(zone).date()
        from_day.append(d0)
        to_day.append(max(d0, d1))
        scan_from.append(day_start(d0, tz[s]) - timedelta(days=1))
        scan_to.append(day_start(max(d0, d1), tz[s]) + timedelta(days=1))
    return {"site_ids": ids, "from_day": from_day, "to_day": to_day, "scan_from": scan_from, "scan_to": scan_to}


def _running_base(conn: psycopg.Connection, params: dict) -> dict[tuple, Sums | None]:
    """Each series' running totals at its last day before the rebuilt days (None: missing)."""
    out: dict[tuple, Sums | None] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        for r in cur.execute(QUERIES["figure_days_running_base"], params, binary=True).fetchall():
            key = (r["site_id"], r["direction"], r["display"], r["limit_timed"], r["limit_from"])
            if r["run_n"] is None:
                out[key] = None
                continue
            lo, hist = _hist_of(r["run_hist_lo"], r["run_hist"])
            out[key] = Sums(int(r["run_n"]), float(r["run_sum_kmh"]), float(r["run_sumsq_kmh"]), int(r["run_hours"]),
                            lo=lo, hist=hist.copy())
    return out


def _with_running_totals(rows: list[tuple], base: dict[tuple, Sums | None]) -> list[tuple]:
    """The day rows with their series' running totals appended (continued from ``base``)."""
    rows = sorted(rows, key=lambda r: (r[0], r[2], r[3], r[4], r[5], r[1]))
    out = []
    acc: Sums | None = None
    current = None
    for r in rows:
        key = (r[0], r[2], r[3], r[4], r[5])
        if key != current:
            current = key
            b = base.get(key)
            acc = Sums() if b is None else Sums(b.n, b.sum_kmh, b.sumsq_kmh, b.hours, lo=b.lo, hist=b.hist.copy())
        acc.n += r[6]
        acc.sum_kmh += r[7]
        acc.sumsq_kmh += r[8]
        acc.hours += r[9]
        if r[13]:
            acc.add_counts(r[12], np.frombuffer(r[13], dtype=HIST))
        nz = np.flatnonzero(acc.hist)
        lo, hist = (acc.lo + int(nz[0]), acc.hist[nz[0]:nz[-1] + 1]) if len(nz) else (acc.lo, acc.hist[:0])
        if len(hist) and int(hist.max()) > np.iinfo(HIST).max:
            raise OverflowError(f"site {key[0]}: a running histogram bin exceeds {np.iinfo(HIST).max:,} vehicles")
        out.append(r + (acc.n, acc.sum_kmh, acc.sumsq_kmh, acc.hours, lo, hist.astype(HIST).tobytes()))
    return out


def _row(key: tuple, acc: Sums) -> tuple:
    """A figure_days row, its histogram cut to the bins from the first to the last vehicle."""
    nz = np.flatnonzero(acc.hist)
    lo, hist = (acc.lo + int(nz[0]), acc.hist[nz[0]:nz[-1] + 1]) if len(nz) else (acc.lo, acc.hist[:0])
    return key + (acc.n, acc.sum_kmh, acc.sumsq_kmh, acc.hours, acc.first_hour, acc.last_hour, lo,
                  hist.astype(HIST).tobytes())


__all__ = ["NO_LIMIT", "Grouped", "RebuildResult", "Sums", "aggregate", "coverage_of", "coverage_params",
           "coverage_parts", "day_start", "group_parts", "parts_of", "parts_params", "rebuild", "vehicle_parts"]
