"""A one-line progress bar for long imports, drawn on a text stream (stderr in the CLI)."""

from __future__ import annotations

import time
from typing import Callable, TextIO


class Progress:
    """Redraws ``label [#####.....] done/total`` at most ten times a second; silent when disabled.

    ``total`` may be unknown (``None``): then only the count is shown.
    """

    def __init__(self, stream: TextIO, label: str, total: int | None, *, enabled: bool = True,
                 width: int = 30, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.label, self.total = stream, label, total
        self.enabled, self.width, self.clock = enabled, width, clock
        self.done = 0
        self._last = float("-inf")
        self._drawn = ""

    def advance(self, n: int) -> None:
        self.update(self.done + n)

    def update(self, done: int) -> None:
        self.done = done
        now = self.clock()
        if self.enabled and (now - self._last >= 0.1 or done == self.total):
            self._last = now
            self._draw()

    def _draw(self) -> None:
        line = self.line()
        if line != self._drawn:
            self._drawn = line
            self.stream.write("\r" + line)
            self.stream.flush()

    def line(self) -> str:
        if not self.total:
            return f"{self.label} {self.done:,}"
        frac = min(1.0, self.done / self.total)
        filled = int(frac * self.width)
        return f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {self.done:,}/{self.total:,} {frac:4.0%}"

    def close(self) -> None:
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = ""
