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


def _over_parts(counts, lower, width, level, inclusive, integer):
    c = np.asarray(counts, dtype=np.float64)
    lo = np.asarray(lower, dtype=np.float64)
    w = np.asarray(width, dtype=np.float64)
    cut = _cut(np.asarray(level, dtype=np.float64), inclusive, integer)[..., None]
    finite = np.isfinite(w)
    w_safe = np.where(finite, w, 1.0)
    frac = np.where(finite, np.clip((lo + w_safe - cut) / w_safe, 0.0, 1.0), (lo >= cut) * 1.0)
    return c, lo, w_safe, finite, cut, frac


def histogram_over(
    counts: ArrayLike,
    lower: ArrayLike,
    width: ArrayLike,
    level: ArrayLike,
    *,
    inclusive: bool = False,
    integer: bool = True,
) -> NDArray[np.float64]:
    """Vehicles with v > level (v ≥ level if ``inclusive``) per cell, from stored-speed bins.

    ``counts`` (..., B); ``lower``/``width`` (B,) are the *stored* edges (no quantisation
    offset); ``level`` broadcasts against the leading cell dimensions (per-cell limits).
    """
    c, _, _, _, _, frac = _over_parts(counts, lower, width, level, inclusive, integer)
    return np.sum(c * frac, axis=-1)


def histogram_excess_sum(
    counts: ArrayLike, lower: ArrayLike, width: ArrayLike, limit_kmh: ArrayLike, *, integer: bool = True
) -> NDArray[np.float64]:
    """Σ (v − L) over vehicles with v > L per cell, km/h, taking each bin's over-part at its middle.

    An open top bin's vehicles are taken at its lower edge (an underestimate).
    """
    c, lo, w, finite, cut, frac = _over_parts(counts, lower, width, limit_kmh, False, integer)
    start = np.maximum(lo, cut)
    end = lo + w - (1.0 if integer else 0.0)
    mid = np.where(finite, (start + end) / 2.0, start)
    limit = np.asarray(limit_kmh, dtype=np.float64)[..., None]
    return np.sum(c * frac * (mid - limit), axis=-1)
