"""Any other sign: a configurable regular expression with named groups."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from collector.passes import Direction
from collector.protocols.fields import (
    as_direction,
    bad,
    parse_number,
    plus_direction,
    resolve_unit,
    sign_direction,
    speed_kind,
    text_of,
)
from collector.protocols.framing import MAX_LINE, LineParser
from collector.reading import Reading
from collector.units import to_kmh

DEFAULT_DIRECTIONS: dict[str, str] = {
    "+": "approaching", "-": "receding",
    "a": "approaching", "approaching": "approaching", "c": "approaching", "closing": "approaching",
    "i": "approaching", "in": "approaching", "inbound": "approaching", "1": "approaching",
    "r": "receding", "receding": "receding", "away": "receding",
    "o": "receding", "out": "receding", "outbound": "receding", "0": "receding",
    "?": "unknown", "": "unknown",
}
"""Direction tokens understood by default (case-insensitive). ``A`` is *approaching* here;
Stalker's ``A`` means away, so set ``directions`` for such a sign."""


class PatternParser(LineParser):
    """Lines matched by ``pattern`` (``re.search``; anchor it yourself), with named groups:

    ``speed`` (required; a decimal, ``,`` accepted as decimal separator, a leading sign gives
    the direction when there is no ``direction`` group), ``direction`` (optional, looked up
    case-insensitively in ``directions``, default ``DEFAULT_DIRECTIONS``) and ``time``
    (optional, numeric seconds as the device sent them). A line that does not match, or an
    unmapped direction token, is ``malformed``. Sign logs give one line per vehicle, so the
    default kind is ``vehicle``; ``per_vehicle=False`` for a streaming source. ``unit`` is
    required.
    """

    def __init__(
        self,
        name: str = "regex",
        *,
        pattern: str | None = None,
        unit: str | None = None,
        directions: Mapping[str, Direction | str] | None = None,
        plus_means: Direction | str = Direction.APPROACHING,
        per_vehicle: bool = True,
        ignore_case: bool = False,
        max_line: int = MAX_LINE,
    ) -> None:
        super().__init__(name, max_line=max_line)
        if pattern is None:
            raise ValueError(f"protocol {name!r} needs pattern=: a regular expression with a "
                             "named group 'speed' (and optionally 'direction', 'time')")
        try:
            self.pattern = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        except re.error as exc:
            raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None
        if "speed" not in self.pattern.groupindex:
            raise ValueError(f"pattern {pattern!r} has no named group 'speed': write (?P<speed>...)")
        self.unit = resolve_unit(name, unit, None)
        table = DEFAULT_DIRECTIONS if directions is None else directions
        self.directions = {k.strip().lower(): as_direction(v) for k, v in table.items()}
        self.plus_means = plus_direction(plus_means)
        self.kind = speed_kind(per_vehicle)

    def parse_line(self, line: bytes, received_at: datetime) -> list[Reading]:
        text = text_of(line)
        match = self.pattern.search(text)
        if match is None:
            raise bad("line", text[:60], f"does not match pattern {self.pattern.pattern!r}")
        groups = match.groupdict()
        speed_text = (groups["speed"] or "").strip()
        if "," in speed_text and "." not in speed_text:
            speed_text = speed_text.replace(",", ".", 1)
        signed = parse_number(speed_text, "speed")
        direction = sign_direction(speed_text[:1], self.plus_means)
        if groups.get("direction") is not None:
            token = groups["direction"].strip().lower()
            if token not in self.directions:
                raise bad("direction", groups["direction"],
                          f"is not in the direction mapping {sorted(self.directions)}")
            direction = self.directions[token]
        device_time = None
        if groups.get("time") is not None:
            device_time = parse_number(groups["time"], "time")
        if signed == 0:
            return [Reading(kind="idle", received_at=received_at, raw=line, device_time=device_time)]
        return [Reading(kind=self.kind, received_at=received_at, raw=line,
                        speed_kmh=to_kmh(abs(signed), self.unit), direction=direction,
                        device_time=device_time)]
