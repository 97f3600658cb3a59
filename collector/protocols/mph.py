"""MPH Industries radars, binary output: 7-byte frames every 250 ms."""

from __future__ import annotations

from datetime import datetime

from collector.passes import Direction
from collector.protocols.fields import as_direction, resolve_unit, speed_kind
from collector.protocols.frames import FrameParser
from collector.reading import Reading
from collector.units import to_kmh

STX, ETX = 0x02, 0x03
FRAME_LEN = 7
MIN_SPEED = 4  # speed bytes below this mean "no speed"
OPPOSITE_BIT = 0x40  # status bit 6


class MphParser(FrameParser):
    """Frames ``02 status patrol target lock alt 03``; speeds are binary integers.

    The target speed makes the reading (``idle`` when below 4); patrol, lock and alternate
    speeds go to ``detail`` in km/h (``None`` when below 4). Status bit 6 flags the target as
    moving opposite to the radar's own direction; what that means on a roadside mount is
    unsure, so ``opposite`` (default "approaching") and ``same`` (default "receding") set
    it. Unit is a device setting: ``unit`` is required. Frames that do not start with 02 and
    end with 03 seven bytes later are skipped byte by byte until the stream lines up again.
    """

    def __init__(
        self,
        name: str = "mph-binary",
        *,
        unit: str | None = None,
        opposite: Direction | str = Direction.APPROACHING,
        same: Direction | str = Direction.RECEDING,
        per_vehicle: bool = False,
    ) -> None:
        super().__init__(name)
        self.unit = resolve_unit(name, unit, None)
        self.opposite = as_direction(opposite)
        self.same = as_direction(same)
        self.kind = speed_kind(per_vehicle)

    def scan(self, buf: bytes, start: int) -> tuple[int, int]:
        pos = start
        while True:
            pos = buf.find(STX, pos)
            if pos < 0:
                return len(buf) - start, 0
            end = pos + FRAME_LEN - 1
            if end >= len(buf):
                return pos - start, 0
            if buf[end] == ETX:
                return pos - start, FRAME_LEN
            pos += 1

    def _kmh(self, value: int) -> float | None:
        return to_kmh(value, self.unit) if value >= MIN_SPEED else None

    def decode(self, frame: bytes, received_at: datetime) -> Reading:
        status, patrol, target, lock, alt = frame[1:6]
        detail = {
            "status": status,
            "patrol_kmh": self._kmh(patrol),
            "lock_kmh": self._kmh(lock),
            "alt_kmh": self._kmh(alt),
        }
        speed = self._kmh(target)
        if speed is None:
            return Reading(kind="idle", received_at=received_at, raw=frame, detail=detail,
                           binary=True)
        direction = self.opposite if status & OPPOSITE_BIT else self.same
        return Reading(kind=self.kind, received_at=received_at, raw=frame, speed_kmh=speed,
                       direction=direction, detail=detail, binary=True)
