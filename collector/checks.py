"""What the write path refuses before the database sees a pass, naming the pass, field and value.

Values are checked as they will be stored: speed and length go into 4-byte ``real`` columns, so
299.99999 km/h is checked as the 300.0 it becomes and 1e-50 as 0, and a pass these checks let
through cannot fail the database's own CHECK constraints. Times must be plausible
(:class:`collector.plausible.TimeRule`) for the moment the batch was received. Pure: the caller
gives the receive time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from .passes import VehiclePass
from .plausible import TimeRule

MAX_SPEED_KMH = 300.0
MAX_LENGTH_M = 40.0


@dataclass(frozen=True)
class Rejection:
    """A pass that was not stored: its index in the batch, the field at fault, the value, why."""

    index: int
    field: str
    value: object
    reason: str

    def __str__(self) -> str:
        return f"pass #{self.index}: {self.field}={self.value!r}: {self.reason}"


def as_stored_real(values: Sequence[object]) -> np.ndarray:
    """The values as the 4-byte reals a ``real`` column stores them (float32): NaN for None or
    anything that is not a number, ±inf beyond the float32 range, 0 below its smallest step."""
    with np.errstate(over="ignore"):
        try:
            wide = np.array(values, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            wide = np.array([_float_or_nan(v) for v in values], dtype=np.float64)
        return wide.astype(np.float32)


def between_0_and(stored: np.ndarray, upper: float) -> list[bool]:
    """For each stored value (see ``as_stored_real``): does it lie strictly between 0 and ``upper``?

    False for NaN and infinities.
    """
    return ((stored > 0) & (stored < np.float32(upper))).tolist()


def _as_stored(value: object, stored: np.float32) -> str:
    """What the message adds when the column would change the value: `` (stored as a real: 300)``."""
    if not _is_number(value) or not np.isfinite(stored) or float(stored) == value:
        return ""
    return f" (stored as a 4-byte real it is {float(stored):g})"


def _float_or_nan(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return float("nan")


_NUMBER = frozenset((int, float))
_DIRECTIONS = frozenset((0, 1, 2))
_DISPLAYS = frozenset((0, 1))


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class BatchChecks:
    """The checks of one batch received at ``received`` under ``rule``.

    Speeds and lengths of the whole batch are converted to the stored type at once (numpy), so
    the per-pass check is a few comparisons.
    """

    def __init__(self, passes: Sequence[VehiclePass], received: datetime, rule: TimeRule):
        if not isinstance(received, datetime) or received.tzinfo is None or received.utcoffset() is None:
            raise ValueError(f"received {received!r} must be a timezone-aware datetime")
        self.received = received
        self.rule = rule
        self.earliest = rule.earliest
        self.latest = received + rule.future_margin
        self.speeds = as_stored_real([p.speed_kmh for p in passes])
        self.speed_ok = between_0_and(self.speeds, MAX_SPEED_KMH)
        lengths = [p.length_m for p in passes]
        if lengths.count(None) == len(lengths):  # the usual batch: no lengths, nothing to convert
            self.lengths = np.full(len(lengths), np.nan, dtype=np.float32)
        else:
            self.lengths = as_stored_real([np.nan if x is None else x for x in lengths])
        self.length_ok = between_0_and(self.lengths, MAX_LENGTH_M)

    def check(self, i: int, p: VehiclePass) -> Rejection | None:
        """Why pass ``i`` (``p``) cannot be stored, or None."""
        # the common case in one expression (a batch of 50,000 spends ~20 ms here); any doubt
        # goes to the full check below, which names the field
        t, v, length = p.time, p.speed_kmh, p.length_m
        if (type(t) is datetime and t.utcoffset() is not None and self.earliest <= t <= self.latest
                and type(v) in _NUMBER and self.speed_ok[i]
                and (length is None or (type(length) in _NUMBER and self.length_ok[i]))
                and p.direction in _DIRECTIONS and (p.display is None or p.display in _DISPLAYS)
                and (p.site_id is not None or p.sign_id is not None)):
            return None
        return self._why(i, p)

    def _why(self, i: int, p: VehiclePass) -> Rejection | None:
        t = p.time
        if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
            return Rejection(i, "time", t, "must be a timezone-aware datetime")
        if t < self.earliest or t > self.latest:  # the rule's bounds; its message says which
            problem = self.rule.problem(t, self.received)
            if problem:
                return Rejection(i, "time", t, problem)
        v = p.speed_kmh
        if not _is_number(v) or not self.speed_ok[i]:
            return Rejection(i, "speed_kmh", v, f"must be a number above 0 and below {MAX_SPEED_KMH:g} km/h"
                             + _as_stored(v, self.speeds[i]))
        length = p.length_m
        if length is not None and (not _is_number(length) or not self.length_ok[i]):
            return Rejection(i, "length_m", length, f"must be above 0 and below {MAX_LENGTH_M:g} m"
                             + _as_stored(length, self.lengths[i]))
        if p.direction not in _DIRECTIONS:
            return Rejection(i, "direction", p.direction, "must be 0 unknown, 1 approaching or 2 receding")
        if p.display is not None and p.display not in _DISPLAYS:
            return Rejection(i, "display", p.display, "must be 0 stealth or 1 display")
        if p.sign_id is None and p.site_id is None:
            return Rejection(i, "site_id", None, "a pass needs a site or a sign whose deployment gives the site")
        return None


def check_pass(i: int, p: VehiclePass, received: datetime, rule: TimeRule | None = None) -> Rejection | None:
    """Why one pass received at ``received`` cannot be stored, or None (see :class:`BatchChecks`)."""
    bad = BatchChecks([p], received, rule or TimeRule()).check(0, p)
    return replace(bad, index=i) if bad else None
