"""Storing pre-binned counts once each: staging COPY → INSERT … ON CONFLICT (source, source_key)
DO NOTHING, optionally adding exactly the new bins to ``rollup_hourly`` in the same statement."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

import psycopg

from sql import QUERIES


@dataclass(frozen=True, slots=True)
class BinnedCount:
    """``count`` vehicles with speed_lo <= v < speed_hi km/h (speed_hi None: open top) over
    [period_start, period_end); ``source_key`` identifies the bin in its source for good."""

    site_id: int
    direction: int
    period_start: datetime
    period_end: datetime
    speed_lo: float
    speed_hi: float | None
    count: int
    source: str
    source_key: str
    display: int | None = None
    sign_id: int | None = None


@dataclass(frozen=True)
class BinnedWrite:
    rows: int          # bins offered
    inserted: int      # bins new to the database
    vehicles: int      # vehicles in the new bins

    @property
    def duplicates(self) -> int:
        return self.rows - self.inserted


def write_binned(conn: psycopg.Connection, bins: Sequence[BinnedCount], *, rollup: bool = False) -> BinnedWrite:
    """Store the bins not stored before (by ``(source, source_key)``); with ``rollup`` also add
    the new ones to ``rollup_hourly`` by the hour of their start — only for 1 km/h bins of
    per-vehicle speeds with a known display mode. Joins the caller's transaction."""
    if not bins:
        return BinnedWrite(0, 0, 0)
    if rollup:
        for b in bins:
            if b.display is None or b.speed_hi is None or b.speed_hi - b.speed_lo != 1:
                raise ValueError(f"bin {b.source_key!r} cannot go into the hourly rollups: it needs a display "
                                 f"mode and a 1 km/h width (display={b.display!r}, {b.speed_lo}..{b.speed_hi})")
    with conn.transaction() if conn.autocommit else nullcontext():
        with conn.cursor() as cur:
            cur.execute(QUERIES["imp_binned_staging_create"])
            cur.execute(QUERIES["imp_binned_staging_clear"])
            with cur.copy(QUERIES["imp_binned_staging_copy"]) as copy:
                copy.set_types(["int4", "int4", "int4", "int2", "int2", "timestamptz", "timestamptz",
                                "float4", "float4", "int4", "text", "text"])
                for i, b in enumerate(bins):
                    copy.write_row((i, b.site_id, b.sign_id, b.direction, b.display, b.period_start, b.period_end,
                                    b.speed_lo, b.speed_hi, b.count, b.source, b.source_key))
            if rollup:  # new bins become rollup increments, merged by the write path's statement
                cur.execute(QUERIES["rollup_staging_create"])
                cur.execute(QUERIES["rollup_staging_clear"])
                inserted, vehicles, _ = cur.execute(QUERIES["imp_binned_store_with_rollup"]).fetchone()
                cur.execute(QUERIES["rollup_merge"])
                cur.execute(QUERIES["rollup_staging_clear"])
            else:
                inserted, vehicles = cur.execute(QUERIES["imp_binned_store"]).fetchone()
            cur.execute(QUERIES["imp_binned_staging_clear"])
    return BinnedWrite(len(bins), inserted, int(vehicles))


def store_bins(conn: psycopg.Connection, bins: Sequence[tuple[str, BinnedCount]], *, rollup: bool = False
               ) -> tuple[BinnedWrite, list[tuple[str, BinnedCount, str]]]:
    """:func:`write_binned` for labelled bins (label: the source record), each attempt in a
    savepoint: when the database refuses the batch its halves are written, down to the bins it
    refuses, which come back as (label, bin, the database's reason) instead of stopping the file."""
    if not bins:
        return BinnedWrite(0, 0, 0), []
    try:
        with conn.transaction():
            return write_binned(conn, [b for _, b in bins], rollup=rollup), []
    except psycopg.DatabaseError as e:
        if isinstance(e, psycopg.OperationalError):
            raise
        if len(bins) == 1:
            diag = getattr(e, "diag", None)
            reason = (diag.message_primary if diag is not None and diag.message_primary else str(e)).strip()
            return BinnedWrite(0, 0, 0), [(bins[0][0], bins[0][1], f"refused by the database: {reason}")]
    half = len(bins) // 2
    a, ra = store_bins(conn, bins[:half], rollup=rollup)
    b, rb = store_bins(conn, bins[half:], rollup=rollup)
    return BinnedWrite(a.rows + b.rows, a.inserted + b.inserted, a.vehicles + b.vehicles), ra + rb
