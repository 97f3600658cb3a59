"""Wilson score intervals for shares (e.g. the share of vehicles over a limit).

Vectorised: ``k`` and ``n`` broadcast like numpy arrays. A cell with ``n == 0`` gets the
uninformative interval (0, 1), so it can never rank on its lower bound.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

Z95 = 1.96


def wilson_interval(
    k: ArrayLike, n: ArrayLike, z: float = Z95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Wilson interval (low, high) for the share k/n, both 0..1.

    (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n). ``k`` may be fractional (a count
    read off a histogram by interpolation).
    """
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("wilson_interval needs 0 <= k <= n for every cell")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        z2n = z * z / n
        centre = p + z2n / 2
        half = z * np.sqrt(p * (1 - p) / n + z2n / (4 * n))
        denom = 1 + z2n
        low = (centre - half) / denom
        high = (centre + half) / denom
    empty = n <= 0
    low = np.where(empty, 0.0, np.clip(low, 0.0, 1.0))
    high = np.where(empty, 1.0, np.clip(high, 0.0, 1.0))
    return low, high


def wilson_pair(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    """:func:`wilson_interval` of one share, in plain floats: the same operations in the same
    order (so the same bits) without numpy's cost for one cell."""
    k, n = float(k), float(n)
    if k < 0 or k > n:
        raise ValueError(f"wilson_interval needs 0 <= k <= n, got k={k!r}, n={n!r}")
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    z2n = z * z / n
    centre = p + z2n / 2
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n))
    denom = 1 + z2n
    return min(max((centre - half) / denom, 0.0), 1.0), min(max((centre + half) / denom, 0.0), 1.0)


def wilson_lower(k: ArrayLike, n: ArrayLike, z: float = Z95) -> NDArray[np.float64]:
    """Lower Wilson bound of k/n, 0..1: the share to rank on (small samples rank low)."""
    return wilson_interval(k, n, z)[0]
