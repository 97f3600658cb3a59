"""Data-quality flags for a figure: sample size, coverage, pooled display modes, limits.

Vectorised over cells: every input broadcasts, the result is an int array of ``Quality`` bits.
"""

from __future__ import annotations

import math
from enum import IntFlag

import numpy as np
from numpy.typing import ArrayLike, NDArray

MIN_N = 30
"""Below this many vehicles a spot-speed figure is insufficient."""
RELIABLE_N = 100
"""Minimum sample for a spot-speed figure (docs/statistics.md)."""
MIN_COVERAGE = 0.75
"""Share of the period's hours the sign must have measured."""
MIN_WEEKS = 2
"""A cell seen in one week only has not shown that its ranking holds across days."""


class Quality(IntFlag):
    """Why a figure deserves caution; 0 means no warning."""

    INSUFFICIENT = 1
    """Fewer than 30 vehicles."""
    LOW_SAMPLE = 2
    """30–99 vehicles."""
    LOW_COVERAGE = 4
    """The sign measured less than 75 % of the period's hours."""
    MIXED_MODES = 8
    """Display-on and stealth data pooled."""
    LIMIT_MISMATCH = 16
    """The sign's configured limit differs from the site's legal limit."""
    LIMIT_CHANGED = 32
    """The legal limit changed within the period."""
    FEW_WEEKS = 64
    """Observed in fewer than 2 distinct weeks."""
    NO_LIMIT = 128
    """No legal limit recorded for the site: no exceedance figures."""
    PERCENTILES_INTERPOLATED = 256
    """V10…V95 interpolated within a bin (binned source, or speeds finer than the 1 km/h bin)."""
    SHARES_INTERPOLATED = 512
    """The limit or threshold falls inside a bin: the shares over them are interpolated."""
    LIMITS_MIXED = 1024
    """Binned records that span more than one legal limit (measured against the one at their start)."""
    HOURS_SPREAD = 2048
    """Binned records longer than an hour spread evenly over the hours they span (no measured profile)."""


_TEXT = {
    Quality.INSUFFICIENT: "insufficient sample (< 30 vehicles)",
    Quality.LOW_SAMPLE: "low sample (< 100 vehicles)",
    Quality.LOW_COVERAGE: "low coverage (sign measured < 75 % of the hours)",
    Quality.MIXED_MODES: "display-on and stealth data pooled",
    Quality.LIMIT_MISMATCH: "sign's configured limit differs from the legal limit",
    Quality.LIMIT_CHANGED: "legal limit changed during the period",
    Quality.FEW_WEEKS: "seen in fewer than 2 weeks",
    Quality.NO_LIMIT: "no legal limit recorded: record it with `fartkoll limit set SITE KMH --from YYYY-MM-DD` "
                      "(or --mph N; --hours \"mon-fri 07-17\" for a timed one)",
    Quality.PERCENTILES_INTERPOLATED: "percentiles interpolated within the speed bin (binned counts, or speeds "
                                      "finer than 1 km/h)",
    Quality.SHARES_INTERPOLATED: "limit or threshold inside a speed bin: shares over them interpolated",
    Quality.LIMITS_MIXED: "binned records span more than one legal limit: each is measured against the limit "
                          "at its start",
    Quality.HOURS_SPREAD: "binned counts over more than an hour spread evenly over its hours: the hour-of-week "
                          "profile is not measured",
}


def quality_flags(
    n: ArrayLike,
    *,
    coverage_share: ArrayLike | None = None,
    modes_pooled: ArrayLike = False,
    sign_limit_kmh: ArrayLike | None = None,
    legal_limit_kmh: ArrayLike | None = None,
    limit_changed: ArrayLike = False,
    weeks: ArrayLike | None = None,
    min_coverage: float = MIN_COVERAGE,
    min_weeks: int = MIN_WEEKS,
) -> NDArray[np.int64]:
    """Quality bits per cell. ``coverage_share`` is observed hours / calendar hours, 0..1;
    an unknown (NaN) sign limit raises no mismatch."""
    nv = np.asarray(n, dtype=np.float64)
    flags = np.where(nv < MIN_N, Quality.INSUFFICIENT, 0)
    flags |= np.where((nv >= MIN_N) & (nv < RELIABLE_N), Quality.LOW_SAMPLE, 0)
    if coverage_share is not None:
        flags = flags | np.where(np.asarray(coverage_share) < min_coverage, Quality.LOW_COVERAGE, 0)
    flags = flags | np.where(np.asarray(modes_pooled, dtype=bool), Quality.MIXED_MODES, 0)
    if sign_limit_kmh is not None and legal_limit_kmh is not None:
        sign = np.asarray(sign_limit_kmh, dtype=np.float64)
        legal = np.asarray(legal_limit_kmh, dtype=np.float64)
        flags = flags | np.where(np.isfinite(sign) & (sign != legal), Quality.LIMIT_MISMATCH, 0)
    flags = flags | np.where(np.asarray(limit_changed, dtype=bool), Quality.LIMIT_CHANGED, 0)
    if weeks is not None:
        flags = flags | np.where(np.asarray(weeks) < min_weeks, Quality.FEW_WEEKS, 0)
    return np.asarray(flags, dtype=np.int64)


def describe(flags: int) -> list[str]:
    """Readable warnings for one cell's bits, in a fixed order."""
    return [text for bit, text in _TEXT.items() if int(flags) & bit]


def v85_sample_size(sd_kmh: float, error_kmh: float, z: float = 1.96, u: float = 1.04) -> int:
    """Vehicles needed for V85 within ±error_kmh: N = s²z²(2 + U²) / (2E²), rounded up."""
    return math.ceil(sd_kmh**2 * z**2 * (2 + u**2) / (2 * error_kmh**2))
