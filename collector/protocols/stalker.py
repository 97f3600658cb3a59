"""Stalker (Applied Concepts) speed sensors: the "A" and "S" serial formats."""

from __future__ import annotations

import re
from datetime import datetime

from collector.passes import Direction
from collector.protocols.fields import bad, parse_number, resolve_unit, speed_kind, text_of
from collector.protocols.framing import MAX_LINE, LineParser
from collector.protocols.signed_text import DECIMAL, SignedSpeedParser
from collector.reading import Reading
from collector.units import to_kmh


class StalkerAParser(SignedSpeedParser):
    """Stalker "A" format: a space-padded speed (``" 80.1"``), no direction; idle ``"   . "``.

    Unit is a device setting: ``unit`` is required.
    """

    pattern = re.compile(r"(?P<sign>)" + DECIMAL)
    shape = "a space-padded speed, e.g. ' 80.1'"

    def is_idle(self, text: str) -> bool:
        return text.strip() in ("", ".")


S_FRAME_LEN = 18  # 19 bytes with the terminating \r, which the framer removes
_S_DIRECTIONS = {"A": Direction.RECEDING, "C": Direction.APPROACHING}


class StalkerSParser(LineParser):
    """Stalker "S" format, 19 bytes a frame (1-based byte positions):

    1 peak direction (``A`` away, ``C`` closing) · 2-5 peak speed · 6 unused · 7 live
    direction · 8-11 live speed · 12-14 strength · 15-17 ratio · 18 status · 19 ``\\r``.

    A frame becomes one reading of the ``speed_field`` ("live", default, or "peak"), the other
    speed and the rest in ``detail``; a zero or blank speed is ``idle``. Whether the 4-digit
    speeds carry tenths is unsure: ``speed_scale`` multiplies them (default 1.0). Unit is a
    device setting: ``unit`` is required.
    """

    def __init__(
        self,
        name: str = "stalker-s",
        *,
        unit: str | None = None,
        speed_field: str = "live",
        speed_scale: float = 1.0,
        per_vehicle: bool = False,
        max_line: int = MAX_LINE,
    ) -> None:
        super().__init__(name, max_line=max_line)
        if speed_field not in ("live", "peak"):
            raise ValueError(f"speed_field {speed_field!r} must be 'live' or 'peak'")
        if not speed_scale > 0:
            raise ValueError(f"speed_scale {speed_scale!r} must be positive")
        self.unit = resolve_unit(name, unit, None)
        self.speed_field = speed_field
        self.speed_scale = speed_scale
        self.kind = speed_kind(per_vehicle)

    def parse_line(self, line: bytes, received_at: datetime) -> list[Reading]:
        text = text_of(line)
        if len(text) != S_FRAME_LEN:
            raise bad("frame", text, f"has {len(text)} bytes before \\r, expected {S_FRAME_LEN}")
        speeds = {
            "peak": (self._speed(text[1:5], "peak speed"), self._direction(text[0], "peak direction")),
            "live": (self._speed(text[7:11], "live speed"), self._direction(text[6], "live direction")),
        }
        other = "peak" if self.speed_field == "live" else "live"
        detail = {
            f"{other}_kmh": speeds[other][0],
            f"{other}_direction": speeds[other][1].name.lower(),
            "strength": text[11:14].strip(),
            "ratio": text[14:17].strip(),
            "status": text[17],
        }
        speed, direction = speeds[self.speed_field]
        if speed is None:
            return [Reading(kind="idle", received_at=received_at, raw=line, detail=detail)]
        return [Reading(kind=self.kind, received_at=received_at, raw=line,
                        speed_kmh=speed, direction=direction, detail=detail)]

    def _speed(self, digits: str, field: str) -> float | None:
        if not digits.strip():
            return None
        value = parse_number(digits, field) * self.speed_scale
        return to_kmh(value, self.unit) if value > 0 else None

    @staticmethod
    def _direction(char: str, field: str) -> Direction:
        if char in _S_DIRECTIONS:
            return _S_DIRECTIONS[char]
        if char in (" ", "0", "?"):
            return Direction.UNKNOWN
        raise bad(field, char, "is not A (away), C (closing) or blank")
