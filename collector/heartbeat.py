"""Per-sign liveness: counts, last data, minutes with data per hour (coverage) and how far
the device's clock is off.

Pure bookkeeping: every method takes the time it is about; nothing here reads the clock.
The runner feeds a ``SignMonitor`` per sign from its reader thread and hands a ``Heartbeat``
to a hook every ``heartbeat_interval_s`` (logged by default; an application can store it, so
statistics know when a sign was down).

Clock offset: device time minus receive time, from readings whose device time is Unix
seconds (``clock_offset``); the median of the last ``OFFSET_WINDOW`` of them, so one chunk
delivered late does not swing it. The receive time comes after the device sent the line
(serial and USB latency, the sensor's own processing), so the estimate is that much too low:
it is an upper bound of how far the device is *behind* (a lower bound of how far ahead).
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)

# A device time is Unix seconds (so the device has a clock) only from 2000-01-01 on and at most
# ten years after its receipt. Below: time since power-on (reaching 2000-01-01 would take 30
# years of uptime) or a clock reset to 1970 at power-on; far above: not seconds
# (milliseconds, a counter). A clock reset to 2000-01-01 or later is caught, and warned about.
UNIX_FROM = 946_684_800.0  # 2000-01-01T00:00:00Z
MAX_AHEAD_S = 10 * 365.25 * 86_400.0
OFFSET_WINDOW = 50  # clock offsets the estimate is the median of
CLOCK_OFFSET_WARN_S = 2.0  # |offset| above this: log_heartbeat warns to set the sign's clock
# Kinds whose device time is the moment of the line (a bin's time may be its interval's start).
CLOCK_KINDS = frozenset({"vehicle", "reading", "idle"})


def hour_start(t: datetime) -> datetime:
    """The UTC hour ``t`` falls in."""
    return t.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class HourCoverage:
    """How many minutes (0..60) of one UTC hour a sign sent any bytes at all."""

    sign: str
    hour: datetime
    minutes_with_data: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A sign's state at ``at``. Counts are totals since the collector started.

    ``closed_hours`` are the hours that ended since the previous heartbeat, zeros included
    (a silent hour is a fact worth storing); ``current_hour`` is the hour in progress.
    """

    sign: str
    at: datetime
    connected: bool
    last_data_at: datetime | None
    bytes: int
    readings: dict[str, int]
    passes: int
    closed_hours: tuple[HourCoverage, ...]
    current_hour: HourCoverage
    clock_offset_s: float | None = None  # device clock minus receive time (see module docstring)

    @property
    def malformed(self) -> int:
        return self.readings.get("malformed", 0)


HeartbeatHook = Callable[[Heartbeat], None]


class Coverage:
    """Minutes with data, hour by hour, from ``start`` on."""

    def __init__(self, sign: str, start: datetime) -> None:
        self.sign = sign
        self._next_hour = hour_start(start)  # first hour not yet handed out as closed
        self._minutes: dict[datetime, set[int]] = {}

    def note(self, at: datetime) -> None:
        hour = hour_start(at)
        if hour >= self._next_hour:  # late data for a closed hour is not re-counted
            self._minutes.setdefault(hour, set()).add(at.minute)

    def take_closed(self, now: datetime) -> list[HourCoverage]:
        """Every hour that ended by ``now`` and was not taken before, oldest first."""
        current = hour_start(now)
        out = []
        while self._next_hour < current:
            minutes = self._minutes.pop(self._next_hour, set())
            out.append(HourCoverage(self.sign, self._next_hour, len(minutes)))
            self._next_hour += HOUR
        return out

    def current(self, now: datetime) -> HourCoverage:
        hour = hour_start(now)
        return HourCoverage(self.sign, hour, len(self._minutes.get(hour, ())))


def clock_offset(device_time: float | None, received_at: datetime) -> float | None:
    """Device time minus receive time, seconds, when ``device_time`` is Unix seconds; else None
    (no time, or a time since power-on: see ``UNIX_FROM``)."""
    if device_time is None or not math.isfinite(device_time):
        return None
    received = received_at.timestamp()
    if not UNIX_FROM <= device_time <= received + MAX_AHEAD_S:
        return None
    return device_time - received


class ClockOffset:
    """The median clock offset of the last ``window`` lines the device timed in Unix seconds.

    A device time that is not Unix seconds empties the window: the device counts since
    power-on again (it restarted and lost the clock set with ``C=``), so earlier offsets no
    longer describe it. Lines without a device time change nothing.
    """

    def __init__(self, window: int = OFFSET_WINDOW) -> None:
        self._offsets: deque[float] = deque(maxlen=window)

    def note(self, device_time: float | None, received_at: datetime) -> None:
        if device_time is None:
            return
        offset = clock_offset(device_time, received_at)
        if offset is None:
            self._offsets.clear()
        else:
            self._offsets.append(offset)

    def estimate(self) -> float | None:
        """Seconds the device clock is ahead (negative: behind); None if it sent no Unix times."""
        return statistics.median(self._offsets) if self._offsets else None


@dataclass
class SignMonitor:
    """Thread-safe counters, coverage and clock offset for one sign."""

    sign: str
    started_at: datetime
    bytes: int = 0
    passes: int = 0
    last_data_at: datetime | None = None
    readings: Counter[str] = field(default_factory=Counter)
    _coverage: Coverage = field(init=False)
    _clock: ClockOffset = field(init=False, default_factory=ClockOffset)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._coverage = Coverage(self.sign, self.started_at)

    def data(self, n_bytes: int, at: datetime) -> None:
        with self._lock:
            self.bytes += n_bytes
            self.last_data_at = at
            self._coverage.note(at)

    def reading(self, kind: str, device_time: float | None = None,
                received_at: datetime | None = None) -> None:
        """Count one reading; its device time (if any) and receive time feed the clock offset."""
        if device_time is not None and received_at is None:
            raise ValueError(f"device_time {device_time!r} needs the received_at it came with")
        with self._lock:
            self.readings[kind] += 1
            if kind in CLOCK_KINDS and received_at is not None:
                self._clock.note(device_time, received_at)

    def spooled(self, n: int) -> None:
        with self._lock:
            self.passes += n

    def heartbeat(self, now: datetime, connected: bool) -> Heartbeat:
        with self._lock:
            return Heartbeat(
                sign=self.sign,
                at=now,
                connected=connected,
                last_data_at=self.last_data_at,
                bytes=self.bytes,
                readings=dict(self.readings),
                passes=self.passes,
                closed_hours=tuple(self._coverage.take_closed(now)),
                current_hour=self._coverage.current(now),
                clock_offset_s=self._clock.estimate(),
            )


def log_heartbeat(hb: Heartbeat, warn_offset_s: float = CLOCK_OFFSET_WARN_S) -> None:
    """The default hook: one INFO line per sign, one more per closed hour, and a WARNING while
    the sign's clock is more than ``warn_offset_s`` seconds off."""
    silent = "never" if hb.last_data_at is None else f"{(hb.at - hb.last_data_at).total_seconds():.0f} s ago"
    offset = hb.clock_offset_s
    log.info(
        "sign %s: %s, last data %s, %d bytes, %d passes, %d malformed, %d/60 minutes this hour, "
        "device clock %s",
        hb.sign, "connected" if hb.connected else "NOT CONNECTED", silent, hb.bytes, hb.passes,
        hb.malformed, hb.current_hour.minutes_with_data,
        "unknown" if offset is None else f"{offset:+.1f} s",
    )
    if offset is not None and abs(offset) > warn_offset_s:
        log.warning(
            "sign %s: its clock is %.1f s %s (median of its last timed lines; delays on the line "
            "make it look slightly further behind than it is). Set the sign's clock: for "
            "an OPS sensor, stop the collector and run `fartkoll collector probe PORT --setup-ops`",
            hb.sign, abs(offset), "ahead" if offset > 0 else "behind",
        )
    for h in hb.closed_hours:
        log.info("sign %s: hour %s had data in %d/60 minutes", hb.sign, h.hour.isoformat(), h.minutes_with_data)
