"""Rollup consistency: do the hourly rollups still equal what the readings say?

For a window of whole UTC hours the rollups (n, Σv, Σv², 1 km/h histogram per site × direction ×
display × hour) are recomputed from ``readings`` exactly as the write path builds them and
compared key by key. Sums are compared within a relative tolerance (the write path adds them up
batch by batch, in another order). ``repair`` replaces the window's rollups by the recomputed
ones, with the write path held off, in the caller's transaction.

Readings dropped by retention cannot be checked: a window reaching before the oldest stored
readings is refused, since every older rollup would look like a mismatch (and a repair would
delete it).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg

from core.errors import InvalidInput
from sql import QUERIES

REL_TOL = 1e-9
HOUR = timedelta(hours=1)


class ConsistencyError(InvalidInput):
    """The window cannot be checked as asked; the message says why and what to pass instead."""


@dataclass(frozen=True)
class Mismatch:
    """One key whose rollup differs from the readings (None: that side has no row)."""

    site_id: int
    direction: int
    display: int
    hour: datetime
    rollup_n: int | None
    readings_n: int | None
    rollup_sum: float | None
    readings_sum: float | None
    rollup_sumsq: float | None
    readings_sumsq: float | None
    hist_differs: bool

    @property
    def fields(self) -> list[str]:
        """What differs: 'missing rollup', 'rollup without readings', or the fields."""
        if self.rollup_n is None:
            return ["missing rollup"]
        if self.readings_n is None:
            return ["rollup without readings"]
        out = []
        if self.rollup_n != self.readings_n:
            out.append("n")
        if _differs(self.rollup_sum, self.readings_sum):
            out.append("sum")
        if _differs(self.rollup_sumsq, self.readings_sumsq):
            out.append("sumsq")
        if self.hist_differs:
            out.append("hist")
        return out

    def __str__(self) -> str:
        return (f"site {self.site_id} dir {self.direction} display {self.display} {self.hour:%Y-%m-%d %H:00Z}: "
                f"{', '.join(self.fields)} (rollup n={self.rollup_n}, readings n={self.readings_n})")


def _differs(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is not b
    return abs(a - b) > REL_TOL * max(1.0, abs(b))


@dataclass(frozen=True)
class ConsistencyReport:
    start: datetime
    end: datetime
    rollup_rows: int
    mismatches: tuple[Mismatch, ...]
    repaired: bool = False
    rows_replaced: int = 0
    """Rollup rows deleted and re-inserted by a repair (the whole window)."""

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def __str__(self) -> str:
        head = (f"consistency {self.start:%Y-%m-%d %H:00} .. {self.end:%Y-%m-%d %H:00} UTC: "
                f"{self.rollup_rows:,} rollup rows, {len(self.mismatches)} mismatch(es)")
        lines = [head] + [f"  {m}" for m in self.mismatches[:20]]
        if len(self.mismatches) > 20:
            lines.append(f"  … and {len(self.mismatches) - 20} more")
        if self.repaired:
            lines.append(f"  repaired: the window's rollups recomputed from readings ({self.rows_replaced:,} rows)")
        return "\n".join(lines)


def window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[start, end) widened to whole UTC hours."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ConsistencyError(f"window bounds must be timezone-aware, got {start!r} and {end!r}")
    s = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    e = end.astimezone(timezone.utc)
    e_floor = e.replace(minute=0, second=0, microsecond=0)
    e = e_floor if e == e_floor else e_floor + HOUR
    if e <= s:
        raise ConsistencyError(f"empty window {start.isoformat()} .. {end.isoformat()}: the end must lie after the start")
    return s, e


def last_hours(now: datetime, hours: int) -> tuple[datetime, datetime]:
    """The ``hours`` whole UTC hours before the current (still filling) hour of ``now``."""
    end = now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    return end - hours * HOUR, end


def _recompute(conn: psycopg.Connection, s: datetime, e: datetime) -> None:
    oldest = conn.execute(QUERIES["jobs_readings_oldest"]).fetchone()[0]
    if oldest is not None and s < oldest:
        raise ConsistencyError(
            f"window starts {s:%Y-%m-%d %H:%M}Z, before the oldest stored readings ({oldest:%Y-%m-%d %H:%M}Z; "
            f"older ones were dropped by retention): check a window from {oldest:%Y-%m-%d %H:%M}Z on")
    conn.execute(QUERIES["jobs_rollup_fresh_create"])
    conn.execute(QUERIES["jobs_rollup_fresh_clear"])
    conn.execute(QUERIES["jobs_rollup_fresh_fill"], {"start": s, "end": e})


def _mismatches(conn: psycopg.Connection, s: datetime, e: datetime) -> tuple[Mismatch, ...]:
    rows = conn.execute(QUERIES["jobs_rollup_mismatches"], {"start": s, "end": e, "rel_tol": REL_TOL})
    return tuple(Mismatch(*r) for r in rows)


def check_rollups(conn: psycopg.Connection, start: datetime, end: datetime) -> ConsistencyReport:
    """Compare the rollups of [start, end) (whole hours) with the readings. Read-only."""
    s, e = window(start, end)
    with conn.transaction() if conn.autocommit else nullcontext():
        _recompute(conn, s, e)
        found = _mismatches(conn, s, e)
        rows = conn.execute(QUERIES["jobs_rollup_window_count"], {"start": s, "end": e}).fetchone()[0]
    return ConsistencyReport(s, e, rows, found)


def rebuild_rollups(conn: psycopg.Connection, start: datetime, end: datetime) -> int:
    """Replace the rollups of [start, end) (whole hours) by ones recomputed from readings, without
    comparing; returns the rows written. Holds off the write path like ``repair_rollups``. Never commits."""
    s, e = window(start, end)
    with conn.transaction() if conn.autocommit else nullcontext():
        conn.execute(QUERIES["jobs_rollup_lock"])
        _recompute(conn, s, e)
        conn.execute(QUERIES["jobs_rollup_delete_window"], {"start": s, "end": e})
        return conn.execute(QUERIES["jobs_rollup_insert_fresh"]).rowcount


def repair_rollups(conn: psycopg.Connection, start: datetime, end: datetime) -> ConsistencyReport:
    """Check, then replace the window's rollups by the ones recomputed from readings.

    Locks ``rollup_hourly`` against concurrent writers (the write path waits) until the caller's
    transaction ends; on an autocommit connection the whole repair is one transaction of its own.
    The report lists the mismatches found before the repair. Never commits.
    """
    s, e = window(start, end)
    with conn.transaction() if conn.autocommit else nullcontext():
        conn.execute(QUERIES["jobs_rollup_lock"])
        _recompute(conn, s, e)
        found = _mismatches(conn, s, e)
        rows = conn.execute(QUERIES["jobs_rollup_window_count"], {"start": s, "end": e}).fetchone()[0]
        replaced = 0
        if found:
            conn.execute(QUERIES["jobs_rollup_delete_window"], {"start": s, "end": e})
            replaced = conn.execute(QUERIES["jobs_rollup_insert_fresh"]).rowcount
    return ConsistencyReport(s, e, rows, found, repaired=bool(found), rows_replaced=replaced)
