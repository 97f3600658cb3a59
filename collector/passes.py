"""Vehicle passes: the one record type every source turns into before it is stored."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum


class Direction(IntEnum):
    """Travel direction relative to the sensor, as stored in ``readings.direction``."""

    UNKNOWN = 0
    APPROACHING = 1
    RECEDING = 2

    @classmethod
    def from_name(cls, name: str) -> "Direction":
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(
                f"direction {name!r} is not one of approaching, receding, unknown"
            ) from None


class Display(IntEnum):
    """Whether the sign showed drivers their speed (``readings.display``)."""

    STEALTH = 0
    DISPLAY = 1


@dataclass(frozen=True, slots=True)
class VehiclePass:
    """One vehicle passing a sign: peak speed in km/h at a UTC instant.

    ``site_id`` and ``display`` may be left ``None``: the write path then takes them from the
    sign's deployment at ``time``. ``key`` makes a re-sent pass idempotent; when ``None`` the
    write path derives one from the fields and the pass's ordinal among identical passes in
    its batch, so a batch sent twice stores once while equal-looking vehicles all count.
    """

    time: datetime
    speed_kmh: float
    direction: Direction = Direction.UNKNOWN
    sign_id: int | None = None
    site_id: int | None = None
    display: Display | None = None
    length_m: float | None = None
    key: uuid.UUID | None = None


def pass_key(namespace: str, *parts: object) -> uuid.UUID:
    """A stable idempotency key from a source namespace and the parts that identify a record.

    Use parts that a re-send repeats exactly and two distinct vehicles never share, e.g.
    ``pass_key("serial:SN123", received_at_us, sequence)`` or
    ``pass_key("file:<sha256>", row_number)``.
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(namespace.encode())
    for p in parts:
        h.update(b"\x1f")
        h.update(repr(p).encode())
    return uuid.UUID(bytes=h.digest())
