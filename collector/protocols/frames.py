"""Binary framing: byte chunks in, fixed frames out, resynchronising past garbage."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from collector.protocols.fields import in_range, internal_error, malformed
from collector.reading import Reading

MAX_GARBAGE = 64


class FrameParser(ABC):
    """Base of the binary protocols. Subclasses say where the next frame starts and how long
    it is (:meth:`scan`) and what it means (:meth:`decode`).

    Bytes skipped while looking for a frame are reported as one ``malformed`` reading per run
    (at most ``MAX_GARBAGE`` bytes each), so a wrong baud rate shows up instead of vanishing.
    ``feed`` never raises on any bytes.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._buf = b""
        self._garbage = bytearray()

    @abstractmethod
    def scan(self, buf: bytes, start: int) -> tuple[int, int]:
        """``(skip, length)``: garbage bytes from ``start`` before the next frame, and that
        frame's length, or 0 when it is not complete yet (or no frame start was seen)."""

    @abstractmethod
    def decode(self, frame: bytes, received_at: datetime) -> Reading:
        """The reading for one complete frame."""

    def feed(self, data: bytes, received_at: datetime) -> list[Reading]:
        """Readings for every frame completed by ``data``, stamped ``received_at``."""
        buf = self._buf + bytes(data)
        out: list[Reading] = []
        pos = 0
        while pos < len(buf):
            skip, length = self.scan(buf, pos)
            self._add_garbage(buf[pos : pos + skip], received_at, out)
            pos += skip
            if length == 0:
                break
            out.extend(self._garbage_reading(received_at))
            frame = buf[pos : pos + length]
            pos += length
            try:
                out.append(in_range(self.name, self.decode(frame, received_at)))
            except Exception as exc:  # a parser bug must not stop a collector: report it
                out.append(internal_error(self.name, received_at, frame, exc, binary=True))
        self._buf = buf[pos:]
        return out

    def flush(self, received_at: datetime) -> list[Reading]:
        """An incomplete frame or pending garbage at the end of input, as ``malformed``."""
        out: list[Reading] = []
        self._add_garbage(self._buf, received_at, out)
        self._buf = b""
        out.extend(self._garbage_reading(received_at))
        return out

    def _add_garbage(self, data: bytes, received_at: datetime, out: list[Reading]) -> None:
        while data:
            room = MAX_GARBAGE - len(self._garbage)
            self._garbage += data[:room]
            data = data[room:]
            if len(self._garbage) >= MAX_GARBAGE:
                out.extend(self._garbage_reading(received_at))

    def _garbage_reading(self, received_at: datetime) -> list[Reading]:
        if not self._garbage:
            return []
        raw, self._garbage = bytes(self._garbage), bytearray()
        return [malformed(
            self.name, received_at, raw,
            f"bytes {raw[:16].hex(' ')}{' ...' if len(raw) > 16 else ''} ({len(raw)}) are not "
            "a frame: wrong protocol, baud rate or a line error",
            binary=True,
        )]
