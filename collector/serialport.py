"""Move bytes from a serial port to a callback, surviving unplugs: the serial edge.

Only bytes move here. Each chunk is stamped with the UTC instant it arrived and handed on;
framing and parsing belong to ``collector.protocols``. When the port vanishes (a USB adapter
unplugged, a by-id link that points nowhere for a while) the reader closes it and reopens it
with a bounded exponential backoff.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import serial

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
OnData = Callable[[bytes, datetime], None]
OnTime = Callable[[datetime], None]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def next_backoff(current: float, minimum: float, maximum: float) -> float:
    """The wait after ``current`` seconds of waiting failed again: doubled, within bounds."""
    return min(maximum, max(minimum, current * 2))


class SerialReader:
    """Read one port until ``stop`` is set, reopening it whenever it fails.

    ``on_data(chunk, received_at)`` gets every non-empty chunk; ``on_tick(now)`` is called after
    every read, data or not (at least once per ``read_timeout``), so a caller can close vehicle
    runs on a quiet road; ``on_disconnect(now)`` is called when an open port is lost, so a
    caller can drop half a line rather than glue it to the first bytes after the reopen.
    Exceptions raised by these callbacks are not caught: they end ``run``.
    """

    def __init__(
        self,
        port: str,
        on_data: OnData,
        *,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        read_timeout: float = 0.2,
        backoff_min: float = 0.5,
        backoff_max: float = 60.0,
        on_tick: OnTime | None = None,
        on_disconnect: OnTime | None = None,
        clock: Clock = utc_now,
        open_port: Callable[..., Any] = serial.Serial,
    ) -> None:
        if not 0 < backoff_min <= backoff_max:
            raise ValueError(
                f"backoff_min {backoff_min!r} and backoff_max {backoff_max!r} must satisfy "
                "0 < min <= max"
            )
        self.port = port
        self._on_data = on_data
        self._on_tick = on_tick
        self._on_disconnect = on_disconnect
        self._clock = clock
        self._open_port = open_port
        self._serial_kwargs = dict(
            baudrate=baudrate, bytesize=bytesize, parity=parity, stopbits=stopbits,
            timeout=read_timeout,
        )
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.connected = threading.Event()
        self.opens = 0  # successful opens, for status and tests
        self.losses = 0  # open ports lost

    def run(self, stop: threading.Event) -> None:
        """Open, read, reopen, until ``stop`` is set. Returns with the port closed."""
        wait = self.backoff_min
        while not stop.is_set():
            try:
                port = self._open_port(self.port, **self._serial_kwargs)
            except (serial.SerialException, OSError) as e:
                log.warning(
                    "cannot open serial port %s: %s; retrying in %.1f s", self.port, e, wait
                )
                stop.wait(wait)
                wait = next_backoff(wait, self.backoff_min, self.backoff_max)
                continue
            self.opens += 1
            self.connected.set()
            log.info("opened serial port %s (%s)", self.port, _describe(self._serial_kwargs))
            try:
                got_data, error = self._pump(port, stop)
            finally:
                self.connected.clear()
                _close_quietly(port, self.port)
            if error is None:
                break  # stop was set
            self.losses += 1
            if got_data:
                wait = self.backoff_min  # it worked for a while: start the backoff afresh
            log.warning(
                "lost serial port %s: %s; closed it, reopening in %.1f s", self.port, error, wait
            )
            if self._on_disconnect is not None:
                self._on_disconnect(self._clock())
            stop.wait(wait)
            wait = next_backoff(wait, self.backoff_min, self.backoff_max)
        log.info("stopped reading serial port %s", self.port)

    def _pump(self, port: Any, stop: threading.Event) -> tuple[bool, Exception | None]:
        """Read until stop (→ error None) or until the port fails (→ that error)."""
        got_data = False
        while not stop.is_set():
            try:
                data = port.read(max(1, port.in_waiting))  # blocks up to read_timeout
            except (serial.SerialException, OSError) as e:
                return got_data, e
            now = self._clock()
            if data:
                got_data = True
                self._on_data(bytes(data), now)
            if self._on_tick is not None:
                self._on_tick(now)
        return got_data, None


def _describe(kw: dict[str, Any]) -> str:
    return f"{kw['baudrate']} baud {kw['bytesize']}{kw['parity']}{kw['stopbits']:g}"


def _close_quietly(port: Any, name: str) -> None:
    try:
        port.close()
    except (serial.SerialException, OSError) as e:
        # Closing a port whose device is gone can fail; it is closed as far as we are concerned.
        log.debug("closing serial port %s failed: %s", name, e)
