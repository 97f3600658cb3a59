"""Grouping: streaming radar readings of one sensor into vehicle passes (peak of each run).

A streaming sensor reports a vehicle 10-22 times a second. A *run* is a sequence of
``reading``s in one direction whose successive gaps are under ``gap_s``; it ends at a
longer gap, at a change of direction (unknown counts as a direction of its own) or when time
goes backwards (a device restart). Each run of at least ``min_readings`` readings is one
vehicle whose speed is the run's peak, corrected for the mounting angle.

The pass's ``time`` is the ``received_at`` of the peak reading: the moment the vehicle was
measured at its closest, not when the run was known to have ended (up to ``gap_s`` later).

``vehicle`` readings (sign logs, OPS ``ON``/``OC``) pass straight through, timed at their
``received_at`` and corrected for the angle too. ``idle``, ``reply``, ``bin`` and
``malformed`` readings never form vehicles, but they do move time on, so an idle line
after a run lets :meth:`Grouper.push` emit the run without waiting for :meth:`Grouper.flush`.

The gap is the fallback for devices that never say when a target is gone. Where the wire
format does say so, ``ends_on_idle`` closes the run at the first idle line after it, as soon
as the vehicle is known complete: the Houston Radar DR500/SS300/SS400 sends ``000`` (or
``?000``) "when no further vehicles are detected" (:data:`ENDS_ON_IDLE`). Other devices'
idle lines are only "nothing at this instant" (a generic display sends a zero every 2 s);
for them a short loss of the target inside one vehicle would split it in two, so they keep
the gap unless configured otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from collector.passes import Direction, VehiclePass
from collector.reading import Reading
from collector.units import cosine_correct

CLOCKS = ("auto", "received", "device")
DEFAULT_GAP_S = 0.8
# Two readings: at 10-22 readings a second even a fast car in a short beam gives several
# (100 km/h through a 20 m beam is 0.7 s), while single isolated readings are mostly
# clutter (rain, birds, multipath). 1 keeps everything; raise it for noisy sites.
DEFAULT_MIN_READINGS = 2
ENDS_ON_IDLE: frozenset[str] = frozenset({"houston-dr500"})
"""Protocols whose idle line means the target is gone, so it ends a run (see the module text)."""


@dataclass(slots=True)
class _Run:
    direction: Direction
    peak: Reading
    last: Reading
    count: int = 1


class Grouper:
    """Incremental grouping for a live reader: push readings in arrival order, get vehicles.

    ``clock`` chooses how gaps are measured: ``"received"`` (``received_at``), ``"device"``
    (``device_time``; a ``reading`` without one raises ``ValueError``) or ``"auto"`` (device time
    when both readings have one, else ``received_at``). ``min_speed_kmh`` drops slower
    readings (walkers, swaying trees) before grouping. ``dropped_runs`` counts runs discarded
    for having fewer than ``min_readings`` readings. ``ends_on_idle`` closes a run at the first
    ``idle`` reading after it (the device said the target is gone) instead of waiting for the
    gap. ``on_end`` is called with each pass made from a run and the receive time of the run's
    last reading, as the pass is made (a benchmark uses it to tell the edge's time apart).
    """

    def __init__(
        self,
        *,
        gap_s: float = DEFAULT_GAP_S,
        min_readings: int = DEFAULT_MIN_READINGS,
        clock: str = "auto",
        angle_deg: float = 0.0,
        sign_id: int | None = None,
        min_speed_kmh: float = 0.0,
        ends_on_idle: bool = False,
        on_end: Callable[[VehiclePass, datetime], None] | None = None,
    ) -> None:
        if not gap_s > 0:
            raise ValueError(f"gap_s {gap_s!r} must be a positive number of seconds")
        if min_readings < 1:
            raise ValueError(f"min_readings {min_readings!r} must be at least 1")
        if clock not in CLOCKS:
            raise ValueError(f"clock {clock!r} is not one of {', '.join(CLOCKS)}")
        cosine_correct(1.0, angle_deg)  # validates the angle now, not at the first vehicle
        self.gap_s = gap_s
        self.min_readings = min_readings
        self.clock = clock
        self.angle_deg = angle_deg
        self.sign_id = sign_id
        self.min_speed_kmh = min_speed_kmh
        self.ends_on_idle = ends_on_idle
        self._on_end = on_end
        self.dropped_runs = 0
        self._run: _Run | None = None

    def push(self, reading: Reading) -> list[VehiclePass]:
        """Vehicles completed by this reading (a run it ends, or the reading itself)."""
        out: list[VehiclePass] = []
        run = self._run
        is_speed = (
            reading.kind == "reading"
            and reading.speed_kmh is not None
            and reading.speed_kmh >= self.min_speed_kmh
        )
        if run is not None and self._ends(run, reading, is_speed):
            out.extend(self._close())
            run = None
        if reading.kind == "vehicle" and reading.speed_kmh is not None:
            out.append(self._pass(reading, reading.length_m))
        elif is_speed:
            if run is None:
                self._run = _Run(reading.direction, reading, reading)
            else:
                run.count += 1
                run.last = reading
                if reading.speed_kmh > run.peak.speed_kmh:  # type: ignore[operator]
                    run.peak = reading
        return out

    def flush(self, now: datetime | None = None) -> list[VehiclePass]:
        """End of input (``now`` None): close the open run. With ``now``: close it only if
        ``gap_s`` has passed since its last reading was received."""
        if self._run is None:
            return []
        if now is not None and (now - self._run.last.received_at).total_seconds() < self.gap_s:
            return []
        return self._close()

    def _ends(self, run: _Run, reading: Reading, is_speed: bool) -> bool:
        if self.ends_on_idle and reading.kind == "idle":
            return True
        dt = self._seconds(run.last, reading, strict=is_speed)
        if dt is None:  # device clock, and a non-speed line without device time
            return False
        if dt < 0 or dt >= self.gap_s:
            return True
        return is_speed and reading.direction is not run.direction

    def _seconds(self, a: Reading, b: Reading, strict: bool) -> float | None:
        if self.clock != "received":
            if a.device_time is not None and b.device_time is not None:
                return b.device_time - a.device_time
            if self.clock == "device":
                if not strict:
                    return None
                missing = a if a.device_time is None else b
                raise ValueError(
                    f"clock 'device' but the {missing.kind} {missing.raw!r} received at "
                    f"{missing.received_at.isoformat()} has no device time: use clock='auto'"
                )
        return (b.received_at - a.received_at).total_seconds()

    def _close(self) -> list[VehiclePass]:
        run, self._run = self._run, None
        if run is None:
            return []
        if run.count < self.min_readings:
            self.dropped_runs += 1
            return []
        vehicle = self._pass(run.peak, None)
        if self._on_end is not None:
            self._on_end(vehicle, run.last.received_at)
        return [vehicle]

    def _pass(self, reading: Reading, length_m: float | None) -> VehiclePass:
        return VehiclePass(
            time=reading.received_at,
            speed_kmh=cosine_correct(reading.speed_kmh, self.angle_deg),  # type: ignore[arg-type]
            direction=reading.direction,
            sign_id=self.sign_id,
            length_m=length_m,
        )


def group(readings: Iterable[Reading], **options: object) -> list[VehiclePass]:
    """All vehicle passes in a time-ordered sequence of one sensor's readings.

    Takes the :class:`Grouper` options; the last run is closed at the end of the input.
    """
    grouper = Grouper(**options)  # type: ignore[arg-type]
    out: list[VehiclePass] = []
    for reading in readings:
        out.extend(grouper.push(reading))
    out.extend(grouper.flush())
    return out
