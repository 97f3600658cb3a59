"""Speed units: conversion of device speeds to km/h and cosine correction for mounting angle."""

from __future__ import annotations

import math

# Exact factors from a speed in the unit to km/h (1 mile = 1609.344 m, 1 ft = 0.3048 m).
KMH_PER_UNIT: dict[str, float] = {
    "kmh": 1.0,
    "mps": 3.6,
    "mph": 1.609344,
    "fps": 1.09728,
    "cms": 0.036,
}

# Spellings seen in device output and manuals, mapped to the canonical names above.
_ALIASES: dict[str, str] = {
    "kmh": "kmh", "km/h": "kmh", "kph": "kmh", "kmph": "kmh", "km-per-hr": "kmh",
    "kilometers-per-hour": "kmh",
    "mps": "mps", "m/s": "mps", "ms": "mps", "m-per-sec": "mps", "meters-per-second": "mps",
    "mph": "mph", "mi/h": "mph", "miles-per-hour": "mph",
    "fps": "fps", "ft/s": "fps", "ftps": "fps", "ft-per-sec": "fps", "feet-per-second": "fps",
    "cms": "cms", "cm/s": "cms", "cm-per-sec": "cms", "centimeters-per-second": "cms",
}


def unit_name(name: str) -> str:
    """The canonical unit name ("kmh", "mps", "mph", "fps", "cms") for a spelling of it.

    Accepts the canonical names and common device spellings ("km/h", "m-per-sec", "mi/h",
    ...), case-insensitively.
    """
    key = name.strip().lower()
    try:
        return _ALIASES[key]
    except KeyError:
        raise ValueError(
            f"unit {name!r} is not known: use one of {', '.join(KMH_PER_UNIT)}"
        ) from None


def to_kmh(value: float, unit: str) -> float:
    """A speed given in ``unit`` converted to km/h."""
    return value * KMH_PER_UNIT[unit_name(unit)]


def from_kmh(value_kmh: float, unit: str) -> float:
    """A speed in km/h converted to ``unit`` (the inverse of :func:`to_kmh`)."""
    return value_kmh / KMH_PER_UNIT[unit_name(unit)]


def cosine_correct(measured: float, angle_deg: float) -> float:
    """True speed from a speed measured at ``angle_deg`` degrees off the line of travel.

    A Doppler radar sees only the component of the speed along its beam, so
    true = measured / cos(angle). The angle must be in [0, 90) degrees.
    """
    if not math.isfinite(angle_deg) or not 0.0 <= angle_deg < 90.0:
        raise ValueError(
            f"mounting angle {angle_deg!r} degrees is outside 0..<90: measure the angle "
            "between the radar beam and the road"
        )
    return measured / math.cos(math.radians(angle_deg))
