"""Retention: drop raw vehicle passes older than a configured age, whole chunks at a time.

TimescaleDB's Apache edition has no retention policies, so this job calls ``drop_chunks`` on the
``readings`` hypertable itself. Only chunks lying wholly before the cut-off go (a chunk that
straddles it stays until it is old enough as a whole). The hourly rollups are ordinary tables
and are never touched: statistics, rankings and follow-ups keep working on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from core.errors import InvalidInput
from sql import QUERIES

from .settings import MIN_RETENTION_DAYS


class RetentionError(InvalidInput):
    """Retention was asked to do something unsafe; the message says what and how to change it."""


@dataclass(frozen=True)
class DroppedChunk:
    name: str
    range_start: datetime
    range_end: datetime
    bytes: int


@dataclass(frozen=True)
class RetentionResult:
    """What was (or, in a dry run, would be) dropped."""

    older_than: datetime
    chunks: tuple[DroppedChunk, ...]
    rows: int
    dry_run: bool

    @property
    def bytes(self) -> int:
        return sum(c.bytes for c in self.chunks)

    def __str__(self) -> str:
        verb = "would drop" if self.dry_run else "dropped"
        if not self.chunks:
            return f"retention: no readings chunk lies wholly before {self.older_than:%Y-%m-%d %H:%M %Z}; nothing {verb.split()[-1]}"
        first, last = self.chunks[0].range_start, self.chunks[-1].range_end
        return (f"retention: {verb} {len(self.chunks)} readings chunk(s) {first:%Y-%m-%d} .. {last:%Y-%m-%d} "
                f"({self.rows:,} vehicle passes, {self.bytes / 1e6:.1f} MB) older than "
                f"{self.older_than:%Y-%m-%d %H:%M %Z}; hourly rollups kept")


def cutoff(now: datetime, days: int) -> datetime:
    """The moment before which raw readings may go; refuses ages below MIN_RETENTION_DAYS."""
    if now.tzinfo is None:
        raise RetentionError(f"`now` must be timezone-aware, got {now!r}")
    if days < MIN_RETENTION_DAYS:
        raise RetentionError(
            f"retention age {days} days is below the minimum of {MIN_RETENTION_DAYS} days (recent readings "
            f"feed follow-ups and rollup repairs); set jobs.retention_days (FARTKOLL_JOBS__RETENTION_DAYS) "
            f"to {MIN_RETENTION_DAYS} or more")
    return now - timedelta(days=days)


def drop_old_readings(conn: psycopg.Connection, *, now: datetime, days: int, dry_run: bool = False) -> RetentionResult:
    """Drop readings chunks wholly older than ``now - days``; write an audit row. Never commits."""
    older_than = cutoff(now, days)
    chunks = tuple(DroppedChunk(*row) for row in
                   conn.execute(QUERIES["jobs_readings_chunks_before"], {"older_than": older_than}))
    rows = 0
    if chunks:
        # chunks are contiguous in time: every pass before the last dropped chunk's end is in them
        rows = conn.execute(QUERIES["jobs_readings_count_before"], {"before": chunks[-1].range_end}).fetchone()[0]
    result = RetentionResult(older_than, chunks, rows, dry_run)
    if dry_run or not chunks:
        return result
    dropped = {r[0] for r in conn.execute(QUERIES["jobs_readings_drop_chunks"], {"older_than": older_than})}
    expected = {c.name for c in chunks}
    if dropped != expected:  # a chunk appeared or vanished between the two statements
        result = RetentionResult(older_than, tuple(c for c in chunks if c.name in dropped), rows, dry_run)
    conn.execute(QUERIES["jobs_audit"], {
        "action": "retention.drop_chunks", "entity": "readings", "entity_id": None,
        "detail": Jsonb({"older_than": older_than.isoformat(), "days": days, "rows": rows,
                         "bytes": result.bytes, "chunks": sorted(dropped)}),
    })
    return result
