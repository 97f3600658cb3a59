"""Hikvision traffic radars, serial output modes 0 (speed byte), 1 (direction + speed byte)
and 2 (ASCII ``+125``). Speeds are km/h unless the device is set otherwise."""

from __future__ import annotations

import re
from datetime import datetime

from collector.passes import Direction
from collector.protocols.fields import (
    bad,
    in_range,
    internal_error,
    parse_number,
    plus_direction,
    resolve_unit,
    sign_direction,
    speed_kind,
)
from collector.protocols.frames import FrameParser
from collector.reading import Kind, Reading
from collector.units import to_kmh

_SIGNED = re.compile(r"[+-][0-9]+")
MODE1_DIRECTIONS = {0xF9: Direction.APPROACHING, 0xF8: Direction.RECEDING, 0xF7: Direction.UNKNOWN}


class _HikvisionBytes(FrameParser):
    def __init__(self, name: str, *, unit: str | None, per_vehicle: bool) -> None:
        super().__init__(name)
        self.unit = resolve_unit(name, unit, "kmh")
        self.kind: Kind = speed_kind(per_vehicle)

    def _reading(self, frame: bytes, speed: int, direction: Direction,
                 received_at: datetime) -> Reading:
        if speed == 0:
            return Reading(kind="idle", received_at=received_at, raw=frame, binary=True)
        return Reading(kind=self.kind, received_at=received_at, raw=frame,
                       speed_kmh=to_kmh(speed, self.unit), direction=direction, binary=True)


class HikvisionMode0Parser(_HikvisionBytes):
    """Mode 0: every byte is a speed (``0x32`` = 50 km/h); zero is idle; no direction."""

    def __init__(self, name: str = "hikvision-0", *, unit: str | None = None,
                 per_vehicle: bool = False) -> None:
        super().__init__(name, unit=unit, per_vehicle=per_vehicle)

    def scan(self, buf: bytes, start: int) -> tuple[int, int]:
        return 0, 1

    def decode(self, frame: bytes, received_at: datetime) -> Reading:
        return self._reading(frame, frame[0], Direction.UNKNOWN, received_at)


class HikvisionMode1Parser(_HikvisionBytes):
    """Mode 1: ``F9`` closing / ``F8`` away / ``F7`` unknown, then a speed byte."""

    def __init__(self, name: str = "hikvision-1", *, unit: str | None = None,
                 per_vehicle: bool = False) -> None:
        super().__init__(name, unit=unit, per_vehicle=per_vehicle)

    def scan(self, buf: bytes, start: int) -> tuple[int, int]:
        for pos in range(start, len(buf)):
            if buf[pos] in MODE1_DIRECTIONS:
                return pos - start, 2 if pos + 1 < len(buf) else 0
        return len(buf) - start, 0

    def decode(self, frame: bytes, received_at: datetime) -> Reading:
        return self._reading(frame, frame[1], MODE1_DIRECTIONS[frame[0]], received_at)


class HikvisionMode2Parser:
    """Mode 2: ASCII ``+125`` (sign and three digits), ``+`` approaching (``plus_means``).

    Whether a terminator follows is unsure, so a reading ends at a line terminator, at the
    next sign, or once it has a sign and three digits.
    """

    MAX_TOKEN = 16

    def __init__(self, name: str = "hikvision-2", *, unit: str | None = None,
                 plus_means: Direction | str = Direction.APPROACHING,
                 per_vehicle: bool = False) -> None:
        self.name = name
        self.unit = resolve_unit(name, unit, "kmh")
        self.plus_means = plus_direction(plus_means)
        self.kind: Kind = speed_kind(per_vehicle)
        self._token = bytearray()

    def feed(self, data: bytes, received_at: datetime) -> list[Reading]:
        """Readings for every token completed by ``data``."""
        out: list[Reading] = []
        for byte in bytes(data):
            if byte in b"\r\n":
                self._end(received_at, out)
                continue
            if byte in b"+-" and self._token:
                self._end(received_at, out)
            self._token.append(byte)
            token = self._token
            if (len(token) == 4 and token[:1] in (b"+", b"-") and token[1:].isdigit()) or (
                len(token) >= self.MAX_TOKEN
            ):
                self._end(received_at, out)
        return out

    def flush(self, received_at: datetime) -> list[Reading]:
        """A last token without terminator (end of input)."""
        out: list[Reading] = []
        self._end(received_at, out)
        return out

    def _end(self, received_at: datetime, out: list[Reading]) -> None:
        if not self._token:
            return
        raw, self._token = bytes(self._token), bytearray()
        try:
            out.append(in_range(self.name, self._parse(raw, received_at)))
        except Exception as exc:  # FieldError or a parser bug: report, never raise
            out.append(internal_error(self.name, received_at, raw, exc))

    def _parse(self, raw: bytes, received_at: datetime) -> Reading:
        text = raw.decode("latin-1")
        stripped = text.strip()
        if not _SIGNED.fullmatch(stripped):
            raise bad("token", text, "is not a sign and digits, e.g. +125")
        speed = parse_number(stripped[1:], "speed")
        if speed == 0:
            return Reading(kind="idle", received_at=received_at, raw=raw)
        return Reading(kind=self.kind, received_at=received_at, raw=raw,
                       speed_kmh=to_kmh(speed, self.unit),
                       direction=sign_direction(stripped[0], self.plus_means))
