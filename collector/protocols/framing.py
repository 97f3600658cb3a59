"""Line framing: byte chunks in, complete lines out, with a bound on unterminated input."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from datetime import datetime

from collector.protocols.fields import in_range, internal_error, malformed
from collector.reading import Reading

MAX_LINE = 4096
_TERMINATOR = re.compile(rb"\r\n|\r|\n")


class LineFramer:
    """Splits a byte stream on ``\\r``, ``\\n`` or ``\\r\\n``, across chunk boundaries.

    Empty lines are dropped (a ``\\r\\n`` split over two chunks reads as ``\\r`` then an empty
    line). A line longer than ``max_line`` bytes is cut: its first ``max_line`` bytes come out
    flagged as overlong and the rest, up to the next terminator, is discarded.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        if max_line < 1:
            raise ValueError(f"max_line {max_line!r} must be at least 1 byte")
        self._max = max_line
        self._buf = b""
        self._discarding = False

    def push(self, data: bytes) -> list[tuple[bytes, bool]]:
        """Complete lines in ``data`` (plus what was buffered) as ``(line, overlong)``."""
        parts = _TERMINATOR.split(self._buf + bytes(data))
        rest = parts.pop()
        out: list[tuple[bytes, bool]] = []
        for part in parts:
            if self._discarding:
                self._discarding = False  # the terminated tail of an overlong line
            elif len(part) > self._max:
                out.append((part[: self._max], True))
            elif part:
                out.append((part, False))
        if self._discarding:
            rest = b""
        elif len(rest) > self._max:
            out.append((rest[: self._max], True))
            self._discarding = True
            rest = b""
        self._buf = rest
        return out

    def flush(self) -> bytes:
        """The unterminated remainder (possibly empty); the framer starts afresh."""
        rest, self._buf, self._discarding = self._buf, b"", False
        return rest


class LineParser(ABC):
    """Base of the text protocols: frames lines and hands each to :meth:`parse_line`.

    ``feed`` never raises on any bytes: overlong lines and lines ``parse_line`` cannot read
    become ``malformed`` readings.
    """

    def __init__(self, name: str, *, max_line: int = MAX_LINE) -> None:
        self.name = name
        self._framer = LineFramer(max_line)

    def feed(self, data: bytes, received_at: datetime) -> list[Reading]:
        """Readings for every line completed by ``data``, stamped ``received_at``."""
        out: list[Reading] = []
        for line, overlong in self._framer.push(data):
            out.extend(self._line(line, overlong, received_at))
        return out

    def flush(self, received_at: datetime) -> list[Reading]:
        """Readings for an unterminated last line (end of input)."""
        rest = self._framer.flush()
        return self._line(rest, False, received_at) if rest else []

    def _line(self, line: bytes, overlong: bool, received_at: datetime) -> list[Reading]:
        if overlong:
            return [
                malformed(
                    self.name, received_at, line,
                    f"line has no terminator within {len(line)} bytes: not this protocol, "
                    "or a wrong baud rate",
                )
            ]
        try:
            return [in_range(self.name, r) for r in self.parse_line(line, received_at)]
        except Exception as exc:  # a parser bug must not stop a collector: report it
            return [internal_error(self.name, received_at, line, exc)]

    @abstractmethod
    def parse_line(self, line: bytes, received_at: datetime) -> list[Reading]:
        """Readings for one complete line (terminator removed, never empty)."""
