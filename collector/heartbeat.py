"""Per-sign liveness: counts, last data, and minutes with data per hour (coverage).

Pure bookkeeping: every method takes the time it is about; nothing here reads the clock.
The runner feeds a ``SignMonitor`` per sign from its reader thread and hands a ``Heartbeat``
to a hook every ``heartbeat_interval_s`` (logged by default; an application can store it, so
statistics know when a sign was down).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)


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


@dataclass
class SignMonitor:
    """Thread-safe counters and coverage for one sign."""

    sign: str
    started_at: datetime
    bytes: int = 0
    passes: int = 0
    last_data_at: datetime | None = None
    readings: Counter[str] = field(default_factory=Counter)
    _coverage: Coverage = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._coverage = Coverage(self.sign, self.started_at)

    def data(self, n_bytes: int, at: datetime) -> None:
        with self._lock:
            self.bytes += n_bytes
            self.last_data_at = at
            self._coverage.note(at)

    def reading(self, kind: str) -> None:
        with self._lock:
            self.readings[kind] += 1

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
            )


def log_heartbeat(hb: Heartbeat) -> None:
    """The default hook: one INFO line per sign, one more per closed hour."""
    silent = "never" if hb.last_data_at is None else f"{(hb.at - hb.last_data_at).total_seconds():.0f} s ago"
    log.info(
        "sign %s: %s, last data %s, %d bytes, %d passes, %d malformed, %d/60 minutes this hour",
        hb.sign, "connected" if hb.connected else "NOT CONNECTED", silent, hb.bytes, hb.passes,
        hb.malformed, hb.current_hour.minutes_with_data,
    )
    for h in hb.closed_hours:
        log.info("sign %s: hour %s had data in %d/60 minutes", hb.sign, h.hour.isoformat(), h.minutes_with_data)
