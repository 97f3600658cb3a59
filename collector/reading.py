"""Readings: what a protocol parser makes of one line or frame, before grouping into vehicles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from collector.passes import Direction

Kind = Literal["vehicle", "reading", "bin", "reply", "idle", "malformed"]

KINDS: frozenset[str] = frozenset(
    {"vehicle", "reading", "bin", "reply", "idle", "malformed"}
)
"""
- ``vehicle``: one record per vehicle, already its peak speed (sign logs, OPS ``ON``/``OC``).
- ``reading``: one raw reading of a streaming radar; many per vehicle, see ``grouping``.
- ``bin``: a count (and mean speed) over an interval, not individual vehicles.
- ``reply``: a command reply or setting, not a measurement.
- ``idle``: a no-target line (``000``, ``   . ``, a zero).
- ``malformed``: bytes that could not be understood; ``error`` says which field and value.
"""


@dataclass(frozen=True, slots=True)
class Reading:
    """One decoded line or frame from a sensor, with speeds already converted to km/h.

    ``device_time`` is seconds exactly as the device sent them (often since power-on);
    ``received_at`` is the UTC instant the caller received the bytes.
    """

    kind: Kind
    received_at: datetime
    raw: bytes
    speed_kmh: float | None = None
    direction: Direction = Direction.UNKNOWN
    device_time: float | None = None
    length_m: float | None = None
    count: int | None = None
    mean_kmh: float | None = None
    interval_s: float | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict, hash=False)
    binary: bool = False  # raw is a binary frame: shown as hex, not text

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"reading kind {self.kind!r} is not one of {sorted(KINDS)}")
        if self.received_at.tzinfo is None:
            raise ValueError(
                f"received_at {self.received_at.isoformat()} has no time zone: pass an "
                "aware UTC datetime"
            )

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON shape printed by ``collector decode``: one object per reading.

        Speeds are rounded to 4 decimals (well below any device's resolution); optional
        fields appear only when set.
        """
        out: dict[str, Any] = {
            "kind": self.kind,
            "speed_kmh": _round(self.speed_kmh),
            "direction": self.direction.name.lower(),
            "time": self.device_time,
            "received_at": self.received_at.isoformat(),
            "raw": self.raw.hex() if self.binary else self.raw.decode("latin-1"),
        }
        if self.count is not None:
            out["count"] = self.count
        if self.mean_kmh is not None:
            out["mean_kmh"] = _round(self.mean_kmh)
        if self.length_m is not None:
            out["length_m"] = _round(self.length_m)
        if self.interval_s is not None:
            out["interval_s"] = self.interval_s
        if self.error is not None:
            out["error"] = self.error
        if self.detail:
            out["detail"] = dict(self.detail)
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
