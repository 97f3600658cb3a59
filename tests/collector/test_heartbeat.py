"""Clock offset of a sign from its device times (pure), and what the default hook says about it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from collector.heartbeat import (
    CLOCK_OFFSET_WARN_S,
    OFFSET_WINDOW,
    ClockOffset,
    SignMonitor,
    clock_offset,
    log_heartbeat,
)

T = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
UNIX_T = T.timestamp()  # 1714564800


@pytest.mark.parametrize("device_time, expected", [
    (UNIX_T - 34.5, -34.5),  # a set clock, behind
    (UNIX_T + 3.25, 3.25),  # ahead
    (946_684_800.0 + 60, 946_684_860.0 - UNIX_T),  # reset to 2000-01-01: Unix time, far off
    (12.5, None),  # seconds since power-on
    (3_500_000.0, None),  # since power-on, 40 days up
    (900_000_000.0, None),  # 28.5 years "up": still not taken for a clock
    (UNIX_T * 1000, None),  # milliseconds, not seconds
    (float("nan"), None),
    (None, None),
])
def test_only_unix_seconds_give_a_clock_offset(device_time, expected):
    got = clock_offset(device_time, T)
    assert got == (None if expected is None else pytest.approx(expected))


def test_the_estimate_is_the_median_so_one_late_chunk_does_not_swing_it():
    est = ClockOffset()
    for i in range(20):  # a line every 0.1 s, received 40 ms after the device stamped it
        at = T + timedelta(seconds=0.1 * i)
        est.note(at.timestamp() - 0.04, at)
    late = T + timedelta(seconds=120)  # five lines stuck in a buffer for two minutes
    for i in range(5):
        est.note(UNIX_T + 2 + 0.1 * i, late)
    assert est.estimate() == pytest.approx(-0.04)


def test_the_estimate_follows_the_last_window_of_lines():
    est = ClockOffset()
    for i in range(OFFSET_WINDOW):
        est.note(UNIX_T + i - 30.0, T + timedelta(seconds=i))  # 30 s behind
    assert est.estimate() == pytest.approx(-30.0)
    for i in range(OFFSET_WINDOW // 2 + 1):  # set right: the majority of the window is new
        est.note(UNIX_T + 100 + i, T + timedelta(seconds=100 + i))
    assert est.estimate() == pytest.approx(0.0)


def test_no_estimate_without_unix_times_and_a_power_cycle_forgets_it():
    est = ClockOffset()
    assert est.estimate() is None
    for i in range(10):
        est.note(5.0 + i, T + timedelta(seconds=i))  # since power-on
    assert est.estimate() is None
    est.note(UNIX_T - 10, T)
    assert est.estimate() == pytest.approx(-10.0)
    est.note(None, T)  # a line without a time changes nothing
    assert est.estimate() == pytest.approx(-10.0)
    est.note(0.4, T + timedelta(seconds=5))  # restarted: counts since power-on again
    assert est.estimate() is None


def test_the_monitor_learns_the_offset_from_timed_measurements_only():
    mon = SignMonitor("OPS-1", T)
    mon.reading("reading")  # no device time
    mon.reading("malformed")
    assert mon.heartbeat(T, True).clock_offset_s is None
    mon.reading("reading", UNIX_T - 7.0, T)
    mon.reading("idle", UNIX_T - 7.0, T + timedelta(seconds=1))  # 8 s behind
    mon.reading("bin", UNIX_T - 300, T + timedelta(seconds=3))  # a bin's time may be its start
    hb = mon.heartbeat(T + timedelta(seconds=4), True)
    assert hb.clock_offset_s == pytest.approx(-7.5)
    assert hb.readings == {"reading": 2, "malformed": 1, "idle": 1, "bin": 1}
    with pytest.raises(ValueError, match="needs the received_at"):
        mon.reading("reading", UNIX_T)


def beat_with(offset: float | None):
    mon = SignMonitor("OPS-1", T)
    if offset is not None:
        mon.reading("vehicle", UNIX_T + offset, T)
    return mon.heartbeat(T + timedelta(seconds=1), True)


def test_the_log_line_gives_the_offset_and_a_large_one_is_a_warning_saying_what_to_do(caplog):
    caplog.set_level(logging.INFO, logger="collector.heartbeat")
    log_heartbeat(beat_with(-CLOCK_OFFSET_WARN_S + 0.5))
    log_heartbeat(beat_with(None))
    assert "device clock -1.5 s" in caplog.text and "device clock unknown" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    log_heartbeat(beat_with(-42.0))
    log_heartbeat(beat_with(CLOCK_OFFSET_WARN_S + 1.0))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "sign OPS-1: its clock is 42.0 s behind" in warnings[0]
    assert "its clock is 3.0 s ahead" in warnings[1]
    assert all("fartkoll collector probe PORT --setup-ops" in w for w in warnings)
