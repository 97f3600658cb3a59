"""Text radars that send one speed a line, maybe signed: the shared line reader."""

from __future__ import annotations

import re
from datetime import datetime

from collector.passes import Direction
from collector.protocols.fields import (
    bad,
    plus_direction,
    resolve_unit,
    sign_direction,
    speed_kind,
    text_of,
)
from collector.protocols.framing import MAX_LINE, LineParser
from collector.reading import Reading
from collector.units import to_kmh


class SignedSpeedParser(LineParser):
    """One optionally signed speed a line, matched by ``pattern`` (groups ``sign``, ``speed``).

    A zero speed is ``idle``; a sign maps through ``plus_means``, ``?`` or none is unknown.
    Subclasses set the pattern, the expected shape (for errors), the default unit and kind.
    """

    pattern: re.Pattern[str]
    shape: str
    default_unit: str | None = None
    default_per_vehicle = False

    def __init__(
        self,
        name: str,
        *,
        unit: str | None = None,
        plus_means: Direction | str = Direction.APPROACHING,
        per_vehicle: bool | None = None,
        max_line: int = MAX_LINE,
    ) -> None:
        super().__init__(name, max_line=max_line)
        self.unit = resolve_unit(name, unit, self.default_unit)
        self.plus_means = plus_direction(plus_means)
        self.kind = speed_kind(self.default_per_vehicle if per_vehicle is None else per_vehicle)

    def parse_line(self, line: bytes, received_at: datetime) -> list[Reading]:
        text = text_of(line)
        if self.is_idle(text):
            return [Reading(kind="idle", received_at=received_at, raw=line)]
        match = self.pattern.fullmatch(text.strip())
        if match is None:
            raise bad("line", text[:60], f"is not {self.shape}")
        speed = float(match["speed"])
        if speed == 0:
            return [Reading(kind="idle", received_at=received_at, raw=line)]
        return [Reading(
            kind=self.kind, received_at=received_at, raw=line,
            speed_kmh=to_kmh(speed, self.unit),
            direction=sign_direction(match["sign"] or "", self.plus_means),
        )]

    def is_idle(self, text: str) -> bool:
        """Device-specific idle lines that do not match the speed pattern."""
        return False



DECIMAL = r"(?P<speed>\d+(?:\.\d*)?|\.\d+)"
"""A decimal speed as the ``speed`` group: ``45``, ``045.2``, ``.5``."""
