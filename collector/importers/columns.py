"""Values checked in the type of the column that will store them: a speed as the ``real``
(float32) it becomes, a count within ``integer`` (int4). What passes here cannot fail in COPY."""

from __future__ import annotations

import math

import numpy as np

from collector.checks import MAX_LENGTH_M, MAX_SPEED_KMH  # the readings and binned_counts CHECKs

INT4_MAX = 2**31 - 1


def real(value: float) -> float:
    """``value`` rounded to float32, as a ``real`` column stores it (inf when out of its range)."""
    with np.errstate(over="ignore"):
        return float(np.float32(value))


def speed_kmh(value: float) -> float | str:
    """The speed as stored (float32), or why ``readings.speed_kmh`` would refuse it."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return "not a finite number"
    v = real(value)
    if not 0 < v < MAX_SPEED_KMH:
        return (f"is {v:.9g} km/h as stored (float32): must be above 0 and below {MAX_SPEED_KMH:g} km/h")
    return v


def length_m(value: float) -> float | str:
    """The vehicle length as stored (float32), or why ``readings.length_m`` would refuse it."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return "not a finite number"
    v = real(value)
    if not 0 < v < MAX_LENGTH_M:
        return f"is {v:.9g} m as stored (float32): must be above 0 and below {MAX_LENGTH_M:g} m"
    return v


def count(value: int) -> int | str:
    """A vehicle count for ``binned_counts.count`` (int4, >= 0), or why it cannot be stored."""
    if not isinstance(value, int) or isinstance(value, bool):
        return "not a whole number of vehicles"
    if value < 0:
        return "a count cannot be negative"
    if value > INT4_MAX:
        return f"is above {INT4_MAX:,}, the largest count the database stores (integer)"
    return value
