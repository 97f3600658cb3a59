"""ICOMS Detection TMA-296 radar: text message types 1, 2, 3, 4 and 6."""

from __future__ import annotations

import re
from datetime import datetime

from collector.passes import Direction
from collector.protocols.fields import (
    bad,
    parse_number,
    plus_direction,
    sign_direction,
    speed_kind,
    text_of,
)
from collector.protocols.framing import MAX_LINE, LineParser
from collector.reading import Reading
from collector.units import to_kmh, unit_name

_N = r"\d+(?:\.\d+)?"
# message type -> pattern; groups: sign, speed, unit (word), code (K/M), io (I/O), distance
MESSAGES: dict[int, re.Pattern[str]] = {
    1: re.compile(rf"(?P<sign>[+-])(?P<speed>{_N}) ?(?P<unit>km/h|mph)", re.I),
    2: re.compile(rf"(?P<speed>{_N})(?P<code>[KM])(?P<io>[IO])", re.I),
    3: re.compile(rf"(?P<sign>[+-])(?P<speed>{_N})"),
    4: re.compile(rf"\*S(?P<speed>{_N})", re.I),
    6: re.compile(rf"(?P<sign>[+-])(?P<speed>{_N}) ?(?P<unit>km/h|mph) (?P<distance>{_N}) ?m", re.I),
}
_CODES = {"K": "kmh", "M": "mph"}
_IO = {"I": Direction.APPROACHING, "O": Direction.RECEDING}


class IcomsParser(LineParser):
    """ICOMS TMA-296 lines; the message type is recognised per line:

    1 ``+045 km/h`` · 2 ``045KI`` (K km/h / M mph, I inbound / O outbound) · 3 ``+045`` ·
    4 ``*S045`` (no direction) · 6 ``+045 km/h 123 m`` (the trailing metres, probably the
    target distance, go to ``detail["distance_m"]``).

    A unit in the line wins; types 3 and 4 carry none and use ``unit`` (a line of those types
    without a configured unit is malformed). ``+`` approaching by default (``plus_means``).
    Streaming ``reading``s unless ``per_vehicle=True``.
    """

    def __init__(
        self,
        name: str = "icoms-tma296",
        *,
        unit: str | None = None,
        plus_means: Direction | str = Direction.APPROACHING,
        per_vehicle: bool = False,
        max_line: int = MAX_LINE,
    ) -> None:
        super().__init__(name, max_line=max_line)
        self.unit = None if unit is None else unit_name(unit)
        self.plus_means = plus_direction(plus_means)
        self.kind = speed_kind(per_vehicle)

    def parse_line(self, line: bytes, received_at: datetime) -> list[Reading]:
        text = text_of(line).strip()
        for message_type, pattern in MESSAGES.items():
            match = pattern.fullmatch(text)
            if match is not None:
                return [self._reading(message_type, match, line, received_at)]
        raise bad("line", text[:60], "is not an ICOMS message of type 1, 2, 3, 4 or 6")

    def _reading(
        self, message_type: int, match: re.Match[str], line: bytes, received_at: datetime
    ) -> Reading:
        groups = match.groupdict()
        detail: dict[str, object] = {"message_type": message_type}
        if groups.get("distance"):
            detail["distance_m"] = parse_number(groups["distance"], "distance")
        speed = parse_number(groups["speed"], "speed")
        if speed == 0:
            return Reading(kind="idle", received_at=received_at, raw=line, detail=detail)
        if groups.get("unit"):
            unit = unit_name(groups["unit"])
        elif groups.get("code"):
            unit = _CODES[groups["code"].upper()]
        elif self.unit is not None:
            unit = self.unit
        else:
            raise bad("unit", None, f"is not configured and message type {message_type} "
                      "carries none: pass unit=")
        if groups.get("io"):
            direction = _IO[groups["io"].upper()]
        else:
            direction = sign_direction(groups.get("sign") or "", self.plus_means)
        return Reading(kind=self.kind, received_at=received_at, raw=line,
                       speed_kmh=to_kmh(speed, unit), direction=direction, detail=detail)
