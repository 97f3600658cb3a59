"""Field reading shared by the parsers: numbers, signs, direction words, units, errors."""

from __future__ import annotations

import math
import re
from datetime import datetime

from collector.passes import Direction
from collector.reading import Kind, Reading
from collector.units import KMH_PER_UNIT, unit_name

MAX_READING_KMH = 500.0
"""No road vehicle reads faster, even as a near-field spike (up to ~180 % of a fast car's speed):
a decoded speed above this is a broken line or a wrong unit, reported as malformed."""


class FieldError(ValueError):
    """A field of one line or frame could not be read; the message names field and value."""


def bad(field: str, value: object, problem: str) -> FieldError:
    """A :class:`FieldError` reading ``<field> <value!r> <problem>``."""
    return FieldError(f"{field} {value!r} {problem}")


def malformed(
    protocol: str, received_at: datetime, raw: bytes, message: str, *, binary: bool = False
) -> Reading:
    """A ``malformed`` reading whose error names the protocol, then the message."""
    return Reading(
        kind="malformed", received_at=received_at, raw=bytes(raw),
        error=f"{protocol}: {message}", binary=binary,
    )


def internal_error(
    protocol: str, received_at: datetime, raw: bytes, exc: Exception, *, binary: bool = False
) -> Reading:
    """A ``malformed`` reading for an unexpected exception: a parser bug, reported not raised."""
    if isinstance(exc, FieldError):
        return malformed(protocol, received_at, raw, str(exc), binary=binary)
    return malformed(
        protocol, received_at, raw,
        f"internal parser error {type(exc).__name__}: {exc} (please report this line)",
        binary=binary,
    )


MAX_COUNT = 1_000_000
"""More vehicles than any sign counts in one bin."""


def in_range(protocol: str, reading: Reading) -> Reading:
    """``reading``, or a ``malformed`` one naming the value when a speed is not finite or outside
    0..MAX_READING_KMH (a speed-bearing kind needs one above 0) or a count is not 0..MAX_COUNT."""
    problem = None
    for name, value in (("speed_kmh", reading.speed_kmh), ("mean_kmh", reading.mean_kmh)):
        if value is None:
            continue
        low_ok = value > 0 if name == "speed_kmh" and reading.kind in ("vehicle", "reading") else value >= 0
        if not (math.isfinite(value) and low_ok and value <= MAX_READING_KMH):
            problem = (f"{name} {value:.6g} is outside 0..{MAX_READING_KMH:g} km/h: a broken line "
                       "or a wrong unit")
            break
    if problem is None and reading.count is not None and not 0 <= reading.count <= MAX_COUNT:
        problem = f"count {reading.count!r} is outside 0..{MAX_COUNT}"
    for name, value in (("length_m", reading.length_m), ("interval_s", reading.interval_s),
                        ("time", reading.device_time)):
        if problem is None and value is not None and not (math.isfinite(value) and (name == "time" or value >= 0)):
            problem = f"{name} {value!r} is not a finite number{'' if name == 'time' else ' of at least 0'}"
    if problem is None:
        for key, value in reading.detail.items():
            if isinstance(value, float) and not math.isfinite(value):
                problem = f"{key} {value!r} is not a finite number"
                break
    if problem is None:
        return reading
    return malformed(protocol, reading.received_at, reading.raw, problem, binary=reading.binary)


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)


def parse_number(text: str, field: str) -> float:
    """A plain decimal number (optional sign, digits, optional fraction); no exponents."""
    stripped = text.strip()
    if not _NUMBER.fullmatch(stripped):
        raise bad(field, text[:60], "is not a decimal number")
    value = float(stripped)
    if not math.isfinite(value):
        raise bad(field, text[:60], "is too large")
    return value


def json_number(value: object, field: str) -> float:
    """A number from a JSON value that may be a number or a string holding one (OPS)."""
    if isinstance(value, bool):
        raise bad(field, value, "is not a number")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # a JSON integer of hundreds of digits
            raise bad(field, str(value)[:60], "is too large") from None
        if not math.isfinite(number):
            raise bad(field, value, "is not a finite number")
        return number
    if isinstance(value, str):
        return parse_number(value, field)
    raise bad(field, value, "is not a number")


def as_direction(value: Direction | str) -> Direction:
    """A :class:`Direction` from itself or its name ("approaching", "receding", "unknown")."""
    return value if isinstance(value, Direction) else Direction.from_name(value)


def opposite(direction: Direction) -> Direction:
    """Approaching <-> receding; unknown stays unknown."""
    if direction is Direction.APPROACHING:
        return Direction.RECEDING
    if direction is Direction.RECEDING:
        return Direction.APPROACHING
    return Direction.UNKNOWN


def plus_direction(value: Direction | str, option: str = "plus_means") -> Direction:
    """Validate a sign convention option: what a ``+`` means (approaching or receding)."""
    direction = as_direction(value)
    if direction is Direction.UNKNOWN:
        raise ValueError(f"{option} {value!r} must be 'approaching' or 'receding'")
    return direction


def sign_direction(sign: str, plus_means: Direction) -> Direction:
    """Direction from a leading sign character: ``+``, ``-`` or anything else (unknown)."""
    if sign == "+":
        return plus_means
    if sign == "-":
        return opposite(plus_means)
    return Direction.UNKNOWN


WORD_DIRECTIONS: dict[str, Direction] = {
    **dict.fromkeys(
        ("inbound", "approaching", "closing", "toward", "towards", "incoming", "in"),
        Direction.APPROACHING,
    ),
    **dict.fromkeys(
        ("outbound", "receding", "away", "leaving", "outgoing", "out"), Direction.RECEDING
    ),
    **dict.fromkeys(("unknown", "none", "?", ""), Direction.UNKNOWN),
}


def word_direction(word: str, field: str = "direction") -> Direction:
    """Direction from a word such as ``inbound``/``outbound`` (also ``object_inbound``)."""
    key = word.strip().lower().removeprefix("object_")
    try:
        return WORD_DIRECTIONS[key]
    except KeyError:
        raise bad(field, word, f"is not one of {', '.join(sorted(k for k in WORD_DIRECTIONS if k))}") from None


def resolve_unit(protocol: str, unit: str | None, default: str | None) -> str:
    """The canonical unit a parser is configured with, or a clear error when none is known.

    ``default`` is the unit the device documentation guarantees; ``None`` where the unit is a
    device setting we must not guess.
    """
    if unit is None:
        if default is None:
            raise ValueError(
                f"protocol {protocol!r} needs a unit (--unit / unit=): the device sends the "
                f"unit it is set to; pass one of {', '.join(KMH_PER_UNIT)}"
            )
        return default
    return unit_name(unit)


def speed_kind(per_vehicle: bool) -> Kind:
    """``vehicle`` for devices that report one record per vehicle, else ``reading``."""
    return "vehicle" if per_vehicle else "reading"


def text_of(line: bytes) -> str:
    """A line as text: latin-1 never fails, so every byte maps to one character."""
    return line.decode("latin-1")
