"""Exceedance: vehicles over the limit (v > L), over L + k, over a reporting threshold (v ≥ T).

Each figure compares the *stored* speed (as the sign reported it) with the level, so per-vehicle
and histogram results agree exactly for signs that report whole km/h.

Histogram choice for "v > L": with ``integer=True`` (the sign reports whole km/h, as in
``rollup_hourly`` for truncating or rounding signs) a bin [a, a + w) holds the values
a, a+1, …, a+w−1 in equal parts; "v > L" counts the values ≥ floor(L) + 1 and "v ≥ T" those
≥ ceil(T). The 1 km/h bin [L, L+1) thus holds only v = L and is compliant: exact. With
``integer=False`` (continuous speeds, e.g. 'exact' signs or mph converted to km/h) a bin is
split linearly at the level, so [L, L+1) counts as over (v = L exactly has measure zero).
An open top bin counts entirely over when its lower edge clears the level, else not at all.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

SE_MARGIN_KMH = 6.0
KMH_PER_MPH = 1.609344
LIMIT_PLUS_K = (5, 10, 20, 30)


def threshold_se(limit_kmh: ArrayLike, margin_kmh: float = SE_MARGIN_KMH) -> NDArray[np.float64]:
    """Swedish reporting threshold T = L + 6 km/h (Police Region Väst's 20-minute method)."""
    return np.asarray(limit_kmh, dtype=np.float64) + margin_kmh


def threshold_npcc_mph(limit_mph: ArrayLike) -> NDArray[np.float64]:
    """UK NPCC threshold in mph: T = 1.1·L + 2 (30→35, 40→46, 50→57)."""
    return np.round(1.1 * np.asarray(limit_mph, dtype=np.float64) + 2.0, 9)


def threshold_npcc_kmh(limit_kmh: ArrayLike) -> NDArray[np.float64]:
    """UK NPCC threshold for a limit given in km/h, in km/h (the rule applied in mph)."""
    mph = np.asarray(limit_kmh, dtype=np.float64) / KMH_PER_MPH
    return threshold_npcc_mph(mph) * KMH_PER_MPH


def limit_at(
    times: ArrayLike, valid_from: ArrayLike, limit_kmh: ArrayLike
) -> NDArray[np.float64]:
    """Legal limit (km/h) in force at each time, from a site's limit history.

    ``valid_from`` sorted ascending, same type as ``times`` (datetime64 or epoch seconds);
    each limit holds until the next one starts. NaN before the first.
    """
    t = np.asarray(times)
    start = np.asarray(valid_from)
    lim = np.asarray(limit_kmh, dtype=np.float64)
    if np.any(start[1:] <= start[:-1]):
        raise ValueError("valid_from must be strictly ascending")
    i = np.searchsorted(start, t, side="right") - 1
    return np.where(i >= 0, lim[np.clip(i, 0, None)], np.nan)


# --- per-vehicle -------------------------------------------------------------------------------

def vehicles_over(speeds: ArrayLike, level: float, inclusive: bool = False) -> int:
    """Number of vehicles with v > level (or v ≥ level when ``inclusive``)."""
    v = np.asarray(speeds, dtype=np.float64)
    return int(np.count_nonzero(v >= level if inclusive else v > level))


def vehicle_excess_sum(speeds: ArrayLike, limit_kmh: float) -> float:
    """Σ (v − L) over the vehicles with v > L, km/h."""
    v = np.asarray(speeds, dtype=np.float64)
    return float(np.sum(np.clip(v - limit_kmh, 0.0, None)))


# --- histograms --------------------------------------------------------------------------------

def _cut(level: NDArray[np.float64], inclusive: bool, integer: bool) -> NDArray[np.float64]:
    if not integer:
        return level
    return np.ceil(level) if inclusive else np.floor(level) + 1.0


class BinnedTails:
    """Cumulative sums of one batch of stored-speed histograms, for many exceedance queries.

    ``counts`` (..., B); ``lower``/``width`` (B,) are the *stored* edges (no quantisation
    offset). For a per-cell cut, bins after ``j`` (the last bin with lower edge <= cut) lie
    wholly over it and are summed from the prefix sums; only bin ``j`` is split. Building costs
    one pass over the counts (a second on the first excess-sum query); each query is a gather.
    """

    def __init__(self, counts: ArrayLike, lower: ArrayLike, width: ArrayLike, integer: bool = True):
        self.c = np.asarray(counts, dtype=np.float64)
        self.lo = np.asarray(lower, dtype=np.float64)
        w = np.asarray(width, dtype=np.float64)
        self.integer = integer
        self.finite = np.isfinite(w)
        self.w = np.where(self.finite, w, 1.0)
        self.whole_mid = self._mid(self.lo, self.w, self.finite, self.lo)
        self.cum = self._prefix(self.c)

    @cached_property
    def cum_mid(self) -> NDArray[np.float64]:
        """Prefix sums of count × bin middle (made on the first excess-sum query only)."""
        return self._prefix(self.c * self.whole_mid)

    @staticmethod
    def _prefix(x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros(x.shape[:-1] + (x.shape[-1] + 1,))
        np.cumsum(x, axis=-1, out=out[..., 1:])
        return out

    def _mid(self, lo, w, finite, start):
        """Middle of the stored values from ``start`` to the bin's top (``start`` if open)."""
        return np.where(finite, (start + lo + w - (1.0 if self.integer else 0.0)) / 2.0, start)

    def _split(self, level, inclusive):
        cut = _cut(np.asarray(level, dtype=np.float64), inclusive, self.integer)
        shape = np.broadcast_shapes(self.c.shape[:-1], cut.shape)
        cut = np.broadcast_to(cut, shape)
        j_raw = np.searchsorted(self.lo, cut, side="right") - 1
        j = np.clip(j_raw, 0, self.lo.size - 1)
        lo_j, w_j, fin_j = self.lo[j], self.w[j], self.finite[j]
        frac = np.where(fin_j, np.clip((lo_j + w_j - cut) / w_j, 0.0, 1.0), lo_j >= cut)
        frac = np.where(j_raw < 0, 1.0, frac)  # cut below every bin: all of bin 0 is over
        c_j = np.take_along_axis(np.broadcast_to(self.c, shape + self.c.shape[-1:]), j[..., None], -1)[..., 0]
        return cut, j, c_j * frac

    def _tail(self, cum: NDArray[np.float64], j: NDArray[np.int64]) -> NDArray[np.float64]:
        """Σ over the bins after j."""
        cum = np.broadcast_to(cum, j.shape + cum.shape[-1:])
        return cum[..., -1] - np.take_along_axis(cum, (j + 1)[..., None], -1)[..., 0]

    def over(self, level: ArrayLike, inclusive: bool = False) -> NDArray[np.float64]:
        """Vehicles with v > level (v ≥ level if ``inclusive``) per cell; level broadcasts."""
        _, j, part = self._split(level, inclusive)
        return self._tail(self.cum, j) + part

    def excess_sum(self, limit_kmh: ArrayLike) -> NDArray[np.float64]:
        """Σ (v − L) over vehicles with v > L per cell, km/h, each bin's over-part at its middle.

        An open top bin's vehicles are taken at its lower edge (an underestimate).
        """
        cut, j, part = self._split(limit_kmh, False)
        limit = np.broadcast_to(np.asarray(limit_kmh, dtype=np.float64), cut.shape)
        part_mid = self._mid(self.lo[j], self.w[j], self.finite[j], np.maximum(self.lo[j], cut))
        return self._tail(self.cum_mid, j) - limit * self._tail(self.cum, j) + part * (part_mid - limit)


def histogram_over(
    counts: ArrayLike,
    lower: ArrayLike,
    width: ArrayLike,
    level: ArrayLike,
    *,
    inclusive: bool = False,
    integer: bool = True,
) -> NDArray[np.float64]:
    """Vehicles with v > level (v ≥ level if ``inclusive``) per cell, from stored-speed bins."""
    return BinnedTails(counts, lower, width, integer).over(level, inclusive)


def histogram_excess_sum(
    counts: ArrayLike, lower: ArrayLike, width: ArrayLike, limit_kmh: ArrayLike, *, integer: bool = True
) -> NDArray[np.float64]:
    """Σ (v − L) over vehicles with v > L per cell, km/h (see BinnedTails.excess_sum)."""
    return BinnedTails(counts, lower, width, integer).excess_sum(limit_kmh)
