"""Running totals per hour-of-week cell, packed a week to a row (table cell_weeks, migration 0005).

A *series* is one site × legal limit × direction × display. For each local week in which a
series has hourly rollups, its row holds, for each of the 168 local hours of the week, the
series' totals over every rollup up to and including that hour's occurrence in that week. The
totals over any stretch of time are then the difference of two such totals per cell, whatever
the stretch's length (``totals_at``): a year costs what a week costs.

A cell's totals (``CELL``): vehicles, rollup rows (hours with data), weeks with data, vehicles at
or above the limit's bins L and L + 1 and the threshold's bins thr_fl and thr_fl + 1 (tails, see
migration 0003), the running tail sums at L and L + 1 (for the summed excess).
Everything here is pure numpy; planner.cellcache reads and writes the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from core.errors import FartkollError

HOURS = 168
CELL = np.dtype([("n", "<i4"), ("rows", "<i4"), ("weeks", "<i4"), ("t0", "<i4"), ("t1", "<i4"), ("ta", "<i4"),
                 ("tb", "<i4"), ("e0", "<i8"), ("e1", "<i8")])
"""One cell's running totals, 44 bytes, little-endian, no padding (the cum column's layout)."""
ROW_BYTES = HOURS * CELL.itemsize
COVERAGE = 3
"""The direction of a site's coverage series: n holds the minutes its signs measured, rows the
hours with coverage records (the other fields are 0)."""
SUMMED = ("n", "t0", "t1", "ta", "tb", "e0", "e1")
"""Fields that are sums of the rollup rows' values (``rows`` and ``weeks`` are counts)."""
_INT32_MAX = np.iinfo(np.int32).max


class CellWeeksError(FartkollError):
    """Totals that cannot be packed (a count beyond the 32-bit fields)."""


@dataclass(frozen=True)
class WeekRows:
    """Packed running totals: ``cum[i]`` (168 cells) is series ``series[i]`` through local week ``week[i]``."""

    series: NDArray[np.int64]
    week: NDArray[np.int64]
    cum: NDArray  # (m, 168) of CELL

    def __len__(self) -> int:
        return len(self.series)


def empty_cells(m: int = 0) -> NDArray:
    return np.zeros((m, HOURS), dtype=CELL)


def running_totals(series: NDArray, week: NDArray, how: NDArray, values: dict[str, NDArray],
                   base: dict[int, NDArray] | None = None) -> WeekRows:
    """Rows of running totals from rollup rows.

    ``series``, ``week``, ``how`` and each of ``values[f]`` for f in SUMMED have one element per
    hourly rollup row (site × direction × display × hour under one limit). ``base[s]`` (168 cells)
    is series s's totals before the earliest week given (missing: zero). One row comes out per
    series and week with rollups, in (series, week) order.
    """
    series = np.asarray(series, dtype=np.int64)
    week = np.asarray(week, dtype=np.int64)
    how = np.asarray(how, dtype=np.int64)
    if len(how) and (how.min() < 0 or how.max() >= HOURS):
        bad = int(how[(how < 0) | (how >= HOURS)][0])
        raise CellWeeksError(f"hour-of-week {bad} is outside 0..167")
    pairs, group = np.unique(np.stack([series, week]), axis=1, return_inverse=True) if len(series) else (
        np.zeros((2, 0), dtype=np.int64), np.zeros(0, dtype=np.int64))
    group = group.reshape(-1)
    g = pairs.shape[1]
    slot = group * HOURS + how
    acc: dict[str, NDArray] = {}
    for f in SUMMED:
        v = np.asarray(values[f])
        exact = np.bincount(slot, weights=v.astype(np.float64), minlength=g * HOURS) if v.dtype.kind == "f" else \
            _int_bincount(slot, v.astype(np.int64), g * HOURS)
        acc[f] = exact.reshape(g, HOURS)
    rows = np.bincount(slot, minlength=g * HOURS).reshape(g, HOURS).astype(np.int64)
    acc["rows"] = rows
    acc["weeks"] = (rows > 0).astype(np.int64)
    # running sums along each series' weeks (groups are sorted by series, then week)
    g_series = pairs[0]
    first = np.r_[True, g_series[1:] != g_series[:-1]] if g else np.zeros(0, dtype=bool)
    start_of = np.maximum.accumulate(np.where(first, np.arange(g), 0)) if g else np.zeros(0, dtype=np.int64)
    out = np.zeros((g, HOURS), dtype=CELL)
    base = base or {}
    b = np.zeros((g, HOURS), dtype=CELL)
    for i in np.flatnonzero(first):
        if int(g_series[i]) in base:
            b[i] = base[int(g_series[i])]
    for f in CELL.names:
        a = acc[f]
        c = np.cumsum(a, axis=0)
        before = np.where(start_of[:, None] > 0, c[np.maximum(start_of - 1, 0)], 0) if g else c
        total = c - before + b[f][start_of].astype(a.dtype)
        if CELL[f] == np.dtype("<i4") and len(total) and total.max() > _INT32_MAX:
            raise CellWeeksError(f"running total of {f} reaches {int(total.max())}, beyond 32 bits")
        out[f] = total
    return WeekRows(g_series.astype(np.int64), pairs[1].astype(np.int64), out)


def _int_bincount(slot: NDArray, v: NDArray[np.int64], size: int) -> NDArray[np.int64]:
    """bincount of integer weights, exact in int64 (np.bincount's float weights round above 2^53)."""
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, slot, v)
    return out


def pack(cum: NDArray) -> bytes:
    """One row's 168 cells as the cum column's bytes."""
    return np.ascontiguousarray(cum, dtype=CELL).tobytes()


def row_bytes(head: bytes, rest: bytes | None, split: bool) -> bytes:
    """A series' totals at a boundary, as a row's bytes, from the slices cell_totals returns.

    ``split``: ``head`` is the first h cells of the boundary week's row (hours before the
    boundary) and ``rest`` the cells h..167 of the series' previous row (None: there is none,
    zeros). Otherwise ``head`` is a whole earlier row and holds every cell.
    """
    if not split:
        if len(head) != ROW_BYTES:
            raise CellWeeksError(f"a whole row has {ROW_BYTES} bytes, got {len(head)}")
        return head
    tail_len = ROW_BYTES - len(head)
    if rest is None and tail_len >= 0:
        rest = bytes(tail_len)
    if len(head) % CELL.itemsize or rest is None or len(rest) != tail_len:
        raise CellWeeksError(f"row slices of {len(head)} + {len(rest or b'')} bytes do not make a row of {ROW_BYTES}")
    return head + rest


def totals_at(head: bytes, rest: bytes | None, split: bool) -> NDArray:
    """``row_bytes`` as 168 cells."""
    return np.frombuffer(row_bytes(head, rest, split), dtype=CELL).copy()


def difference(later: NDArray, earlier: NDArray) -> dict[str, NDArray]:
    """Per-field totals between two boundaries (arrays of CELL of equal shape), in int64/float64."""
    out = {}
    for f in CELL.names:
        kind = np.float64 if CELL[f].kind == "f" else np.int64
        out[f] = later[f].astype(kind) - earlier[f].astype(kind)
    return out
