"""Hourly rollups of vehicle passes, computed in the client: the pure part of the write path's
fast path. The database merges them into ``rollup_hourly`` (see ``rollup_merge``)."""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import accumulate
from typing import Sequence

import numpy as np


def hourly_rollups(site: Sequence[int], direction: Sequence[int], display: Sequence[int],
                   epoch_s: Sequence[float], speed_kmh: Sequence[float]) -> list[tuple]:
    """One row per site × direction × display × UTC hour:
    ``(site, direction, display, hour, n, Σv, Σv², lo, counts)``, where ``counts[i]`` is the number
    of passes with ``lo + i <= v < lo + i + 1``.

    Speeds are taken as the 4-byte reals the database stores, so bins and sums match what SQL
    computes from ``readings``.
    """
    if len(speed_kmh) == 0:
        return []
    v = np.asarray(speed_kmh, dtype=np.float32).astype(np.float64)
    hour = (np.asarray(epoch_s, dtype=np.float64) // 3600).astype(np.int64)
    keys = np.stack([np.asarray(site, np.int64), np.asarray(direction, np.int64),
                     np.asarray(display, np.int64), hour], axis=1)
    uniq, group = np.unique(keys, axis=0, return_inverse=True)
    group = group.reshape(-1)
    b = np.floor(v).astype(np.int64)
    n = np.bincount(group, minlength=len(uniq))
    s = np.bincount(group, weights=v, minlength=len(uniq))
    ss = np.bincount(group, weights=v * v, minlength=len(uniq))
    lo = np.full(len(uniq), np.iinfo(np.int64).max)
    hi = np.full(len(uniq), np.iinfo(np.int64).min)
    np.minimum.at(lo, group, b)
    np.maximum.at(hi, group, b)
    order = np.lexsort((b, group))
    out = []
    starts = np.searchsorted(group[order], np.arange(len(uniq)))
    ends = np.append(starts[1:], len(order))
    for g, (site_id, d, disp, h) in enumerate(uniq.tolist()):
        counts = np.bincount(b[order[starts[g]:ends[g]]] - lo[g], minlength=int(hi[g] - lo[g] + 1))
        out.append((site_id, d, disp, datetime.fromtimestamp(h * 3600, timezone.utc), int(n[g]),
                    float(s[g]), float(ss[g]), int(lo[g]), counts.tolist()))
    return out


def tails(counts: Sequence[int]) -> tuple[list[int], list[int]]:
    """A histogram's tails over the same bins (migration 0003's ``hist_tails``):
    ``tail[i]`` the vehicles in bins >= i, ``tail2[i]`` the sum of ``tail`` over bins >= i.

    Plain running sums: for the ~30 bins of an hour's rollup 8 µs against numpy's 28 µs (measured;
    numpy's per-call cost dominates at that size)."""
    tail = list(accumulate(reversed(counts)))
    tail2 = list(accumulate(tail))
    tail.reverse()
    tail2.reverse()
    return tail, tail2
