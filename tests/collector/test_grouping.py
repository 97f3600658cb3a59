"""Grouping streaming readings into vehicles: hand-made runs with known answers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.grouping import Grouper, group
from collector.passes import Direction, VehiclePass
from collector.reading import Reading

T0 = datetime(2025, 6, 23, 7, 30, tzinfo=timezone.utc)
A, R, U = Direction.APPROACHING, Direction.RECEDING, Direction.UNKNOWN


def rd(t: float, speed: float | None, direction: Direction = A, kind: str = "reading",
       device_time: float | None = None, length_m: float | None = None) -> Reading:
    return Reading(kind=kind, received_at=T0 + timedelta(seconds=t), raw=b"x",
                   speed_kmh=speed, direction=direction, device_time=device_time,
                   length_m=length_m)


def run(start: float, speeds: list[float], direction: Direction = A, step: float = 0.1) -> list[Reading]:
    return [rd(start + i * step, s, direction) for i, s in enumerate(speeds)]


def summary(passes: list[VehiclePass]) -> list[tuple[float, float, Direction]]:
    return [(round((p.time - T0).total_seconds(), 6), round(p.speed_kmh, 6), p.direction)
            for p in passes]


def test_one_run_is_one_vehicle_at_its_peak():
    passes = group(run(0, [41, 47, 52, 49, 44]), sign_id=7)
    assert summary(passes) == [(0.2, 52.0, A)]
    assert passes[0].sign_id == 7 and passes[0].length_m is None


def test_a_gap_splits_runs():
    readings = run(0, [30, 35, 33]) + run(1.2, [50, 55])  # 1.0 s between 33 and 50
    assert summary(group(readings)) == [(0.1, 35.0, A), (1.3, 55.0, A)]
    assert summary(group(readings, gap_s=1.5)) == [(1.3, 55.0, A)]


def test_gap_equal_to_limit_splits():
    readings = [rd(0, 30), rd(0.1, 31), rd(0.9, 40), rd(1.0, 41)]
    assert [p.speed_kmh for p in group(readings, gap_s=0.8)] == [31, 41]


def test_direction_change_ends_a_run():
    readings = run(0, [40, 42, 41], A) + run(0.3, [38, 39], R)
    assert summary(group(readings)) == [(0.1, 42.0, A), (0.4, 39.0, R)]


def test_unknown_direction_is_its_own_direction():
    readings = run(0, [40, 42], U) + run(0.2, [45, 44], A)
    assert summary(group(readings)) == [(0.1, 42.0, U), (0.2, 45.0, A)]


def test_peak_tie_takes_the_first():
    assert summary(group(run(0, [50, 52, 52, 40]))) == [(0.1, 52.0, A)]


def test_single_readings_are_dropped_by_default_and_counted():
    g = Grouper()
    out = [p for r in [rd(0, 80), rd(2, 30), rd(2.1, 31)] for p in g.push(r)] + g.flush()
    assert summary(out) == [(2.1, 31.0, A)]
    assert g.dropped_runs == 1
    assert summary(group([rd(0, 80)], min_readings=1)) == [(0.0, 80.0, A)]


def test_min_readings_option():
    assert group(run(0, [40, 41, 42]), min_readings=4) == []
    assert len(group(run(0, [40, 41, 42, 43]), min_readings=4)) == 1


def test_cosine_correction_by_mounting_angle():
    passes = group(run(0, [20, 25, 24]) + [rd(3, 30, R, kind="vehicle", length_m=4.5)], angle_deg=60)
    assert summary(passes) == [(0.1, 50.0, A), (3.0, 60.0, R)]  # / cos 60 = x 2
    assert passes[1].length_m == 4.5


def test_vehicle_records_pass_straight_through():
    readings = [rd(0, 44.28, R, kind="vehicle"), rd(0.05, 50.0, A, kind="vehicle")]
    assert summary(group(readings)) == [(0.0, 44.28, R), (0.05, 50.0, A)]


def test_idle_reply_malformed_bin_are_ignored():
    readings = [rd(0, 40), rd(0.1, None, U, "idle"), rd(0.2, 43), rd(0.3, None, U, "reply"),
                rd(0.4, None, U, "malformed"), rd(0.45, None, U, "bin"), rd(0.5, 42)]
    assert summary(group(readings)) == [(0.2, 43.0, A)]


def test_live_push_emits_a_run_when_a_later_line_shows_the_gap():
    g = Grouper()
    assert [p for r in run(0, [40, 45, 43]) for p in g.push(r)] == []
    assert g.push(rd(0.5, None, U, "idle")) == []  # 0.3 s after the last: run still open
    assert summary(g.push(rd(1.0, None, U, "idle"))) == [(0.1, 45.0, A)]  # 0.8 s: ended
    assert g.flush() == []


def test_flush_with_now_waits_for_the_gap():
    g = Grouper(gap_s=0.8)
    for r in run(0, [40, 45]):
        g.push(r)
    assert g.flush(T0 + timedelta(seconds=0.5)) == []
    assert summary(g.flush(T0 + timedelta(seconds=0.9))) == [(0.1, 45.0, A)]


def test_device_time_splits_readings_received_in_one_burst():
    # All received in the same instant (a buffered serial read), 2 s apart on the device.
    readings = [rd(0, s, A, device_time=t) for s, t in [(40, 10.0), (41, 10.1), (60, 12.1), (61, 12.2)]]
    assert [p.speed_kmh for p in group(readings)] == [41, 61]  # clock "auto"
    assert [p.speed_kmh for p in group(readings, clock="device")] == [41, 61]
    assert [p.speed_kmh for p in group(readings, clock="received")] == [61]


def test_device_clock_needs_device_times():
    with pytest.raises(ValueError, match="no device time"):
        group(run(0, [40, 41]), clock="device")


def test_time_going_backwards_ends_a_run():
    readings = [rd(0, 40, device_time=500.0), rd(0.1, 41, device_time=500.1),
                rd(0.2, 50, device_time=0.1), rd(0.3, 51, device_time=0.2)]
    assert [p.speed_kmh for p in group(readings)] == [41, 51]


def test_min_speed_drops_slow_readings():
    assert [p.speed_kmh for p in group(run(0, [2, 3, 2.5]) + run(2, [30, 31]), min_speed_kmh=5)] == [31]


@pytest.mark.parametrize(
    ("options", "message"),
    [({"gap_s": 0}, "gap_s"), ({"min_readings": 0}, "min_readings"),
     ({"clock": "wall"}, "clock 'wall'"), ({"angle_deg": 90}, "mounting angle")],
)
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        Grouper(**options)


vehicle = st.tuples(
    st.lists(st.floats(min_value=5, max_value=150), min_size=2, max_size=20),
    st.sampled_from([A, R, U]),
    st.floats(min_value=0.05, max_value=0.5),  # step between readings, under the gap
    st.floats(min_value=0.9, max_value=5.0),   # pause after the vehicle, over the gap
)


@given(st.lists(vehicle, max_size=8))
def test_separated_runs_come_back_one_vehicle_each(vehicles):
    readings, expected, t = [], [], 0.0
    for speeds, direction, step, pause in vehicles:
        peak = speeds.index(max(speeds))
        expected.append((max(speeds), direction, t + peak * step))
        for s in speeds:
            readings.append(rd(t, s, direction))
            t += step
        t += pause - step
    passes = group(readings)
    assert len(passes) == len(expected)
    for p, (speed, direction, when) in zip(passes, expected, strict=False):
        assert p.speed_kmh == speed and p.direction is direction
        assert (p.time - T0).total_seconds() == pytest.approx(when, abs=1e-5)


def test_an_idle_line_ends_the_run_at_once_where_the_device_says_the_target_is_gone():
    g = Grouper(ends_on_idle=True)
    assert [p for r in run(0, [40, 45, 43]) for p in g.push(r)] == []
    assert summary(g.push(rd(0.3, None, U, "idle"))) == [(0.1, 45.0, A)]  # 0.1 s after the last reading
    assert g.flush() == []
    assert summary(group(run(0, [40, 45]) + [rd(0.2, None, U, "idle")] + run(0.3, [50, 48]),
                         ends_on_idle=True)) == [(0.1, 45.0, A), (0.3, 50.0, A)]
    # without it the same idle line is only time moving on: one vehicle, as before
    assert summary(group(run(0, [40, 45]) + [rd(0.2, None, U, "idle")] + run(0.3, [50, 48]))) == [(0.3, 50.0, A)]


def test_idle_ending_drops_short_runs_as_the_gap_does():
    g = Grouper(ends_on_idle=True)
    g.push(rd(0, 40))
    assert g.push(rd(0.1, None, U, "idle")) == [] and g.dropped_runs == 1


def test_on_end_gets_each_pass_from_a_run_with_its_last_readings_receipt():
    ended: list[tuple[float, float]] = []
    g = Grouper(ends_on_idle=True, on_end=lambda p, last: ended.append(
        ((p.time - T0).total_seconds(), (last - T0).total_seconds())))
    for r in [*run(0, [40, 45, 43, 41]), rd(0.45, None, U, "idle"), rd(1.0, 50, kind="vehicle")]:
        g.push(r)
    assert [(round(a, 6), round(b, 6)) for a, b in ended] == [(0.1, 0.3)]  # a vehicle record has no run
