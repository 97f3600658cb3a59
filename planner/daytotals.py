"""A site's vehicles and coverage summed per local day (table figure_days, migration 0013).

``rebuild`` writes the daily sums of the given sites from a local day on; planner.cellcache calls
it in the same transaction as the running totals, so both hold every rollup before the local day
of ``cell_weeks_state.through_hour``. ``vehicle_parts`` and ``coverage_parts`` read a period as
those days plus the hourly rollups (or coverage records) of the rest, which add up to exactly what
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


def aggregate(parts: list[dict], keys: list) -> dict:
    """Sums of the parts per key (``keys[i]`` is part i's), vectorised: one pass of numpy over
    every part's histogram instead of one addition per part."""
    index: dict = {}
    idx = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys))
    g = len(index)
    if not g:
        return {}
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
    first: dict[int, datetime] = {}
    last: dict[int, datetime] = {}
    for i, p in zip(idx.tolist(), parts, strict=True):
        if i not in first or p["first_hour"] < first[i]:
            first[i] = p["first_hour"]
        if i not in last or p["last_hour"] > last[i]:
            last[i] = p["last_hour"]
    out = {}
    for k, i in index.items():
        out[k] = Sums(int(round(n[i])), float(s1[i]), float(s2[i]), int(round(hours[i])), first[i], last[i], lo,
                      np.rint(hist[i]).astype(np.int64))
    return out


def vehicle_parts(conn: psycopg.Connection, site_id: int, start: datetime, end: datetime, *,
                  direction: int | None = None, display: int | None = None, use_days: bool = True) -> list[dict]:
    """Parts that add up to the site's rollups in [start, end): complete local days (kind 'day')
    and single hours (kind 'hour'), each with direction, display, limit_timed and limit_from
    (NO_LIMIT: none recorded). ``use_days`` False: hours only (the plain summation)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUERIES["figures_site_parts"], {
            "site_id": site_id, "start": start, "end": end, "direction": direction, "display": display,
            "use_days": use_days}, binary=True).fetchall()
    for r in rows:
        r["limit_from"] = _limit_from(r["limit_from"])
    return rows


def coverage_parts(conn: psycopg.Connection, site_id: int, start: datetime, end: datetime, *,
                   use_days: bool = True) -> list[dict]:
    """Coverage of the site in [start, end) in parts (as ``vehicle_parts``): minutes measured by
    the fullest sign each hour, and hours with coverage records."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(QUERIES["figures_site_coverage_parts"], {
            "site_id": site_id, "start": start, "end": end, "use_days": use_days}).fetchall()


@dataclass
class RebuildResult:
    sites: int = 0
    rollup_rows: int = 0
    day_rows: int = 0


def rebuild(conn: psycopg.Connection, sites: dict[int, tuple[datetime, datetime]], tz: dict[int, str],
            result: RebuildResult | None = None) -> RebuildResult:
    """Rebuild the daily sums of ``sites[s] = (from, until)``: every local day from the one holding
    ``from`` up to the last complete day before ``until``. The caller holds the sites' refresh locks
    and commits."""
    result = result or RebuildResult()
    if not sites:
        return result
    ids = sorted(sites)
    from_day, to_day, scan_from, scan_to = [], [], [], []
    for s in ids:
        lo, hi = sites[s]
        zone = ZoneInfo(tz[s])
        d0 = max(lo, datetime(1900, 1, 2, tzinfo=UTC)).astimezone(zone).date()
        d1 = hi.astimezone(zone).date()
        from_day.append(d0)
        to_day.append(max(d0, d1))
        scan_from.append(day_start(d0, tz[s]) - timedelta(days=1))
        scan_to.append(day_start(max(d0, d1), tz[s]) + timedelta(days=1))
    params = {"site_ids": ids, "from_day": from_day, "to_day": to_day, "scan_from": scan_from, "scan_to": scan_to}
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
    with conn.cursor().copy(QUERIES["figure_days_copy"]) as copy:
        copy.set_types(["int4", "date", "int2", "int2", "bool", "timestamptz", "int8", "float8", "float8", "int4",
                        "timestamptz", "timestamptz", "int2", "bytea"])
        for row in out:
            copy.write_row(row)
    result.sites += len(ids)
    result.day_rows += len(out)
    return result


def _row(key: tuple, acc: Sums) -> tuple:
    """A figure_days row, its histogram cut to the bins from the first to the last vehicle."""
    nz = np.flatnonzero(acc.hist)
    lo, hist = (acc.lo + int(nz[0]), acc.hist[nz[0]:nz[-1] + 1]) if len(nz) else (acc.lo, acc.hist[:0])
    return key + (acc.n, acc.sum_kmh, acc.sumsq_kmh, acc.hours, acc.first_hour, acc.last_hour, lo,
                  hist.astype(HIST).tobytes())


__all__ = ["NO_LIMIT", "RebuildResult", "Sums", "aggregate", "coverage_parts", "day_start", "rebuild", "vehicle_parts"]
