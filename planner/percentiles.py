"""Speed percentiles (V10…V95) and the 10 km/h pace, from per-vehicle speeds or histograms.

Histogram functions take ``counts`` of shape (..., B) (any leading cell dimensions), and the
bins' *true* lower edges ``lower`` (B,) and widths ``width`` (B,) in km/h. Bins must be
contiguous; the last may be open (width ``inf``). The true edge is where the sign's
quantisation puts it: [50, 51) for a truncating sign, [49.5, 50.5) for a rounding one.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

PACE_WIDTH_KMH = 10.0


def rank_for(p: float, n: int) -> int:
    """1-based rank r = ceil(p·n) of the percentile_disc(p) value among n sorted speeds.

    p·n is rounded to 9 decimals first so that e.g. 0.1·30 = 3.0000000000000004 gives 3.
    """
    if not 0.0 < p <= 1.0:
        raise ValueError(f"percentile {p!r} is outside (0, 1]")
    return max(1, math.ceil(round(p * n, 9)))


def vehicle_percentile(speeds: ArrayLike, p: float) -> float:
    """Speed (km/h) of the r-th slowest vehicle, r = ceil(p·n): ``percentile_disc(p)``."""
    v = np.asarray(speeds, dtype=np.float64)
    if v.size == 0:
        return math.nan
    r = rank_for(p, v.size)
    return float(np.partition(v, r - 1)[r - 1])


def _edges(lower: NDArray[np.float64], width: NDArray[np.float64]) -> None:
    if lower.ndim != 1 or lower.shape != width.shape:
        raise ValueError(f"lower {lower.shape} and width {width.shape} must be equal 1-D shapes")
    if np.any(width[:-1] <= 0) or not np.all(np.isfinite(width[:-1])):
        raise ValueError("only the last bin may be open (width inf); every width must be > 0")
    if not np.allclose(lower[:-1] + width[:-1], lower[1:]):
        raise ValueError("histogram bins must be contiguous: lower[i] + width[i] == lower[i+1]")


def histogram_percentile(
    counts: ArrayLike, lower: ArrayLike, width: ArrayLike, p: float
) -> NDArray[np.float64]:
    """Count-weighted percentile (km/h) per cell: ℓ + (p·N − F_prev)/f · w.

    ℓ is the true lower edge of the first bin whose cumulative count reaches p·N. A percentile
    that falls in an open top bin returns that bin's lower edge (a lower bound). NaN where N = 0.
    """
    c = np.asarray(counts, dtype=np.float64)
    lo = np.asarray(lower, dtype=np.float64)
    w = np.asarray(width, dtype=np.float64)
    _edges(lo, w)
    cum = np.cumsum(c, axis=-1)
    total = cum[..., -1]
    target = np.round(p * total, 9)[..., None]
    idx = np.argmax(cum >= target, axis=-1)[..., None]
    f = np.take_along_axis(c, idx, axis=-1)[..., 0]
    f_prev = np.take_along_axis(cum, idx, axis=-1)[..., 0] - f
    i = idx[..., 0]
    wi = w[i]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(f > 0, (target[..., 0] - f_prev) / f, 0.0)
        inside = np.where(np.isfinite(wi), frac * wi, 0.0)
    return np.where(total > 0, lo[i] + inside, np.nan)


def histogram_cdf(
    counts: ArrayLike, lower: ArrayLike, width: ArrayLike, x: ArrayLike
) -> NDArray[np.float64]:
    """Vehicles below speed x (km/h), linear within bins; shape (..., len(x)).

    The open top bin is never counted (where its vehicles lie is unknown).
    """
    c = np.asarray(counts, dtype=np.float64)
    lo = np.asarray(lower, dtype=np.float64)
    w = np.asarray(width, dtype=np.float64)
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    _edges(lo, w)
    cum_before = np.cumsum(c, axis=-1) - c
    j = np.clip(np.searchsorted(lo, x, side="right") - 1, 0, lo.size - 1)
    finite = np.isfinite(w[j])
    with np.errstate(invalid="ignore"):
        frac = np.where(finite, np.clip((x - lo[j]) / w[j], 0.0, 1.0), 0.0)
    frac = np.where(x < lo[0], 0.0, frac)
    return cum_before[..., j] + c[..., j] * frac


class Pace(NamedTuple):
    """The 10 km/h window [start, start + 10) holding most vehicles."""

    start_kmh: NDArray[np.float64] | float
    count: NDArray[np.float64] | float
    share: NDArray[np.float64] | float


def vehicle_pace(speeds: ArrayLike, width_kmh: float = PACE_WIDTH_KMH) -> Pace:
    """Pace from per-vehicle speeds: the window [s, s + 10) with most vehicles, lowest s on ties.

    The best window can always start at a vehicle's speed, so only those starts are tried.
    """
    v = np.sort(np.asarray(speeds, dtype=np.float64))
    if v.size == 0:
        return Pace(math.nan, 0.0, math.nan)
    counts = np.searchsorted(v, v + width_kmh, side="left") - np.arange(v.size)
    best = int(np.argmax(counts))
    return Pace(float(v[best]), float(counts[best]), float(counts[best]) / v.size)


def histogram_pace(
    counts: ArrayLike, lower: ArrayLike, width: ArrayLike, width_kmh: float = PACE_WIDTH_KMH
) -> Pace:
    """Pace per cell from a histogram, trying windows that start at each finite bin edge.

    For 1 km/h (or 5 km/h) bins this is exact: a window covers whole bins.
    """
    c = np.asarray(counts, dtype=np.float64)
    lo = np.asarray(lower, dtype=np.float64)
    w = np.asarray(width, dtype=np.float64)
    starts = lo[np.isfinite(w)]
    inside = histogram_cdf(c, lo, w, starts + width_kmh) - histogram_cdf(c, lo, w, starts)
    best = np.argmax(inside, axis=-1)
    count = np.take_along_axis(inside, best[..., None], axis=-1)[..., 0]
    total = c.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, count / total, np.nan)
    return Pace(np.where(total > 0, starts[best], np.nan), count, share)
