"""Hourly rollup rows of several sites as arrays, for the follow-ups of controls and measures.

``read_rows`` reads the rows of some sites over a period in one row of columns (each column and histogram as
``array_send`` bytes, turned into numbers by numpy in one pass); ``hour_rows_of`` gives the
:class:`HourRows` of a part of them (a control's window and sites) with each histogram on one
dense km/h grid. ``hour_rows`` builds the same from planner_hourly_rows tuples.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg.rows import dict_row

from sql import QUERIES

ARRAY_HEADER = 5
"""int32 words before the elements in a 1-dimensional array_send: ndim, flags, type, length, lower bound."""


@dataclass(frozen=True)
class HourRows:
    """Hourly rollup rows of several sites as arrays (hist as a dense matrix over km/h ``bins``)."""

    site_id: NDArray[np.int64]
    epoch_s: NDArray[np.int64]
    direction: NDArray[np.int64]
    display: NDArray[np.int64]
    counts: NDArray[np.float64]
    bins: NDArray[np.float64]
    """Stored lower edges (km/h) of the columns of ``counts``."""


def hour_rows(rows: list[tuple]) -> HourRows:
    """HourRows from planner_hourly_rows tuples (site_id, hour, direction, display, n, hist, hist_lo)."""
    if not rows:
        z = np.zeros(0, np.int64)
        return HourRows(z, z, z, z, np.zeros((0, 1)), np.zeros(1))
    lo = min(r[6] for r in rows)
    hi = max(r[6] + len(r[5]) for r in rows)
    counts = np.zeros((len(rows), hi - lo))
    for i, r in enumerate(rows):
        counts[i, r[6] - lo: r[6] - lo + len(r[5])] = r[5]
    col = lambda j: np.array([r[j] for r in rows], dtype=np.int64)  # noqa: E731
    epoch = np.array([int(r[1].timestamp()) for r in rows], dtype=np.int64)
    return HourRows(col(0), epoch, col(2), col(3), counts, np.arange(lo, hi, dtype=np.float64))


@dataclass(frozen=True)
class Rows:
    """Hourly rollup rows with each histogram's first stored speed and length (histograms as one
    flat array of counts, row after row)."""

    site_id: np.ndarray
    epoch_s: np.ndarray
    direction: np.ndarray
    display: np.ndarray
    hist_lo: np.ndarray
    length: np.ndarray
    flat: np.ndarray
    start: np.ndarray
    """Offset of each row's counts in ``flat``."""


def _int4_array(raw: bytes) -> NDArray[np.int64]:
    """A one-dimensional int4 array from its array_send bytes (no NULL elements)."""
    words = np.frombuffer(raw, dtype=">i4")
    return words[ARRAY_HEADER:].reshape(-1, 2)[:, 1].astype(np.int64)  # (length, value) pairs


def read_rows(conn: psycopg.Connection, site_ids: list[int], start: datetime, end: datetime) -> Rows:
    """The rows planner_hourly_rows gives for these sites and [start, end), in its order (by site,
    hour, direction and display)."""
    r = conn.cursor(row_factory=dict_row).execute(
        QUERIES["followup_hourly_rows"], {"site_ids": site_ids, "start": start, "end": end}, binary=True).fetchone()
    if r["site_id"] is None:
        z = np.zeros(0, np.int64)
        return Rows(z, z, z, z, z, z, np.zeros(0), z)
    col = {k: _int4_array(r[k]) for k in ("site_id", "epoch_h", "direction", "display", "hist_lo", "length")}
    col["epoch_s"] = col.pop("epoch_h") * 3600
    length = col["length"]
    words = np.frombuffer(r["raw"], dtype=">i4")
    # each row: the header, then a (length, value) pair per element
    row_words = ARRAY_HEADER + 2 * length
    first_value = np.cumsum(row_words) - row_words + ARRAY_HEADER + 1
    within = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
    flat = words[np.repeat(first_value, length) + 2 * within].astype(np.float64)
    start_of = np.cumsum(length) - length
    order = np.lexsort((col["display"], col["direction"], col["epoch_s"], col["site_id"]))
    return Rows(col["site_id"][order], col["epoch_s"][order], col["direction"][order], col["display"][order],
                col["hist_lo"][order], length[order], flat, start_of[order])


def hour_rows_of(rows: Rows, mask: np.ndarray) -> HourRows:
    """The HourRows of the rows under ``mask`` (as hour_rows gives them from planner_hourly_rows)."""
    idx = np.flatnonzero(mask)
    if not idx.size:
        z = np.zeros(0, np.int64)
        return HourRows(z, z, z, z, np.zeros((0, 1)), np.zeros(1))
    lo_r, n_r = rows.hist_lo[idx], rows.length[idx]
    lo, hi = int(lo_r.min()), int((lo_r + n_r).max())
    counts = np.zeros((idx.size, hi - lo))
    within = np.arange(int(n_r.sum())) - np.repeat(np.cumsum(n_r) - n_r, n_r)
    counts[np.repeat(np.arange(idx.size), n_r), np.repeat(lo_r - lo, n_r) + within] = \
        rows.flat[np.repeat(rows.start[idx], n_r) + within]
    return HourRows(rows.site_id[idx], rows.epoch_s[idx], rows.direction[idx], rows.display[idx], counts,
                    np.arange(lo, hi, dtype=np.float64))


__all__ = ["HourRows", "Rows", "hour_rows", "hour_rows_of", "read_rows"]
