"""OmniPreSense OPS241/242/243 serial output: plain numbers and JSON lines on one port.

One parser reads both output modes, because a sensor in plain mode still answers commands in
JSON (``{"Units":"mph"}``) and ``ON``/``OC``/``@O`` records are JSON in either mode.
Default unit is m/s (the sensor's factory setting); ``+`` is approaching.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from collector.passes import Direction
from collector.protocols.fields import (
    bad,
    parse_number,
    plus_direction,
    resolve_unit,
    sign_direction,
    text_of,
)
from collector.protocols.framing import MAX_LINE, LineParser
from collector.protocols.ops_json import OpsLine, interpret
from collector.reading import Reading
from collector.units import to_kmh, unit_name

# Plain-mode column layouts by number of fields, when not configured: OM adds a magnitude
# before the speed, OT a time before both.
AUTO_COLUMNS: dict[int, tuple[str, ...]] = {
    1: ("speed",),
    2: ("magnitude", "speed"),
    3: ("time", "magnitude", "speed"),
}
_COLUMN_NAMES = frozenset({"time", "magnitude", "speed", "ignore"})


class OpsParser(LineParser):
    """Parser for OPS24x output; see the module docstring.

    Options: ``unit`` (default "mps"), ``plus_means`` (default "approaching"), ``columns``
    (plain-mode field names in order, e.g. ``("time", "speed")``; default by field count, see
    ``AUTO_COLUMNS``), ``follow_unit_replies`` (a ``{"Units": ...}`` reply changes the unit
    of later lines; default True), ``bin_interval_s`` (the ``@|`` interval, for bins).
    """

    def __init__(
        self,
        name: str = "ops-plain",
        *,
        unit: str | None = None,
        plus_means: Direction | str = Direction.APPROACHING,
        columns: tuple[str, ...] | list[str] | None = None,
        follow_unit_replies: bool = True,
        bin_interval_s: float | None = None,
        max_line: int = MAX_LINE,
    ) -> None:
        super().__init__(name, max_line=max_line)
        self.unit = resolve_unit(name, unit, "mps")
        self.plus_means = plus_direction(plus_means)
        if columns is not None:
            columns = tuple(columns)
            unknown = set(columns) - _COLUMN_NAMES
            if unknown or columns.count("speed") != 1:
                raise ValueError(
                    f"columns {columns!r} must name 'speed' once and otherwise only "
                    f"{sorted(_COLUMN_NAMES - {'speed'})}"
                )
        self.columns = columns
        self.follow_unit_replies = follow_unit_replies
        self.bin_interval_s = bin_interval_s

    def parse_line(self, line: bytes, received_at: datetime) -> list[Reading]:
        text = text_of(line).strip()
        if not text:
            return [Reading(kind="idle", received_at=received_at, raw=line)]
        if text.startswith(("{", "[")):
            return self._json(text, line, received_at)
        return [self._plain(text, line, received_at)]

    def _json(self, text: str, line: bytes, received_at: datetime) -> list[Reading]:
        try:
            obj: Any = json.loads(text)
        except ValueError as exc:
            raise bad("line", text[:60], f"is not valid JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise bad("line", text[:60], "is JSON but not an object")
        out = interpret(obj, OpsLine(line, received_at, self.unit, self.plus_means,
                                     self.bin_interval_s))
        if self.follow_unit_replies and out[0].kind == "reply":
            self._follow_units(obj)
        return out

    def _follow_units(self, obj: dict[str, Any]) -> None:
        for key, value in obj.items():
            if key.lower() == "units" and isinstance(value, str):
                try:
                    self.unit = unit_name(value)
                except ValueError:
                    pass  # an unknown spelling: keep the configured unit

    def _plain(self, text: str, line: bytes, received_at: datetime) -> Reading:
        fields = [f.strip() for f in text.split(",")]
        unit = self.unit
        values = []
        for f in fields:
            if len(f) >= 2 and f[0] == f[-1] == '"':  # ``OU``: a quoted unit label
                try:
                    unit = unit_name(f[1:-1])
                except ValueError:
                    raise bad("unit", f, "is not a known speed unit") from None
            else:
                values.append(f)
        columns = self.columns or AUTO_COLUMNS.get(len(values))
        if columns is None or len(columns) != len(values):
            raise bad("line", text[:60], f"has {len(values)} fields; expected "
                      f"{len(columns) if columns else 'one to three'}")
        named = {c: parse_number(v, c) for c, v in zip(columns, values, strict=False) if c != "ignore"}
        signed = named["speed"]
        detail = {"magnitude": named["magnitude"]} if "magnitude" in named else {}
        if not signed:
            return Reading(kind="idle", received_at=received_at, raw=line,
                           device_time=named.get("time"), detail=detail)
        return Reading(
            kind="reading", received_at=received_at, raw=line,
            speed_kmh=to_kmh(abs(signed), unit),
            direction=sign_direction("-" if signed < 0 else "+", self.plus_means),
            device_time=named.get("time"), detail=detail,
        )

