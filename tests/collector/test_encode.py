"""Simulator encoders: encode -> parse -> group gives back the vehicles."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.encode import ENCODERS, REGEX_PATTERN, SimVehicle, encode_traffic, encode_vehicle
from collector.grouping import group
from collector.passes import Direction
from collector.protocols import make_parser
from collector.units import KMH_PER_UNIT

T0 = datetime(2025, 6, 23, 16, 0, tzinfo=timezone.utc)
A, R, U = Direction.APPROACHING, Direction.RECEDING, Direction.UNKNOWN
CASES = [(p, None) for p, s in ENCODERS.items() if s.default_unit] + [
    (p, u) for p, s in ENCODERS.items() if not s.default_unit for u in ("kmh", "mph")
] + [("ops-plain", "mph"), ("ops-object", "mph"), ("hlk-ld2415h", "kmh")]


def decode_and_group(protocol, unit, events):
    spec = ENCODERS[protocol]
    extra = {"pattern": REGEX_PATTERN} if spec.parser == "regex" else {}
    parser = make_parser(spec.parser, unit=unit or spec.default_unit, **extra)  # the device's setting
    readings = []
    for t, data in events:
        readings += parser.feed(data, T0 + timedelta(seconds=t))
    readings += parser.flush(T0 + timedelta(seconds=events[-1][0] if events else 0))
    assert not [r for r in readings if r.kind == "malformed"]
    return readings, group(readings)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1] or 'default'}")
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       fleet=st.lists(st.tuples(st.floats(10, 150), st.sampled_from([A, R, U]),
                                st.one_of(st.none(), st.floats(3, 18))), min_size=1, max_size=6))
def test_round_trip_gives_back_the_vehicles(case, seed, fleet):
    protocol, unit = case
    spec = ENCODERS[protocol]
    vehicles = []
    for i, (speed, direction, length) in enumerate(fleet):
        if spec.directions == "signed" and direction is U:
            direction = A
        vehicles.append(SimVehicle(10.0 + 8.0 * i, speed, direction, length))
    events = list(encode_traffic(protocol, vehicles, unit, random.Random(seed)))
    assert [t for t, _ in events] == sorted(t for t, _ in events)
    _, passes = decode_and_group(protocol, unit, events)
    assert len(passes) == len(vehicles)
    unit_name = unit or spec.default_unit
    tolerance = spec.resolution / 2 * KMH_PER_UNIT[unit_name] + 1e-6
    for p, v in zip(passes, vehicles, strict=False):
        assert p.speed_kmh == pytest.approx(v.speed_kmh, abs=tolerance)
        assert p.direction is (U if spec.directions == "none" else v.direction)
        assert abs((p.time - T0).total_seconds() - v.time_s) <= spec.readings[1] / spec.rate_hz
        if protocol == "ops-object" and v.length_m is not None:
            assert p.length_m == pytest.approx(v.length_m, abs=0.01)


def test_streaming_vehicle_is_a_run_around_its_peak():
    run = encode_vehicle("hlk-ld2415h", SimVehicle(5.0, 52.4, R), rng=random.Random(3))
    assert 5 <= len(run) <= 20
    assert b"V-052.4\r\n" in [data for _, data in run]
    assert [t for t, data in run if data == b"V-052.4\r\n"] == [5.0]
    times = [t for t, _ in run]
    assert all(b - a == pytest.approx(0.05) for a, b in zip(times, times[1:], strict=False))  # 20 Hz


def test_per_vehicle_formats_send_one_line():
    [(t, data)] = encode_vehicle("ops-vehicle", SimVehicle(2.0, 44.28, R))
    assert (t, data) == (2.0, b'{"DetectedObjectVelocity":"-12.3"}\r\n')  # 44.28 / 3.6


def test_idle_lines_between_vehicles_not_inside_runs():
    events = list(encode_traffic("houston-dr500", [SimVehicle(5, 50, A), SimVehicle(15, 60, R)],
                                 "kmh", random.Random(1)))
    idle = [t for t, d in events if d == b"000\r"]
    runs = [t for t, d in events if d != b"000\r"]
    assert idle and min(idle) < min(runs) and max(idle) > max(runs)
    assert any(7 < t < 12 for t in idle)
    first_run_end = max(t for t in runs if t < 10)
    assert not any(min(runs) < t < first_run_end for t in idle)


def test_mph_binary_frames():
    run = encode_vehicle("mph-binary", SimVehicle(0, 80.4672, A), "mph", random.Random(0))
    assert bytes([2, 0x40, 0, 50, 0, 0, 3]) in [d for _, d in run]


@pytest.mark.parametrize(
    ("args", "message"),
    [(("hikvision-0", SimVehicle(0, 300.0), None), "carries 1..255"),
     (("mph-binary", SimVehicle(0, 5.0, A), "mph"), "carries 4..255"),
     (("ops-plain", SimVehicle(0, 50.0, U), None), "always sends a direction"),
     (("houston-dr500", SimVehicle(0, 50.0, A), None), "needs a unit"),
     (("nope", SimVehicle(0, 50.0, A), "kmh"), "no encoder for protocol 'nope'"),
     (("ops-object", SimVehicle(0, 50.0, A), "kmh"), "max_speed_mps or max_speed_mph")],
)
def test_encoder_errors(args, message):
    with pytest.raises(ValueError, match=message):
        encode_vehicle(*args)
