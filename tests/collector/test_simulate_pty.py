"""Simulated traffic behaves like the device on the wire: time order, one vehicle in the beam at a
time, the DR500's ``000`` one output frame after each vehicle."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest

from collector.encode import ENCODERS
from collector.grouping import group
from collector.protocols import make_parser
from collector.simulate_pty import RUN_SPACING_S, random_traffic

T0 = datetime(2026, 6, 1, 7, 0, tzinfo=timezone.utc)


def test_houston_traffic_ends_every_vehicle_with_an_idle_line_one_frame_later():
    chunks = list(itertools.islice(random_traffic("houston-dr500", "kmh", 1.25, 42.0, seed=7), 2000))
    times = [t for t, _ in chunks]
    assert times == sorted(times)
    idle, frame = ENCODERS["houston-dr500"].idle, 1 / ENCODERS["houston-dr500"].rate_hz
    runs, current = [], []
    for t, data in chunks:
        if data == idle:
            if current:
                runs.append((current, t))
            current = []
        else:
            current.append(t)
    assert len(runs) > 100
    for (readings, idle_at), (after, _) in itertools.pairwise(runs):
        assert idle_at == pytest.approx(readings[-1] + frame, abs=1e-6)
        assert after[0] - readings[-1] >= RUN_SPACING_S - 1e-6  # never two vehicles in the beam
    # grouped as the collector groups this protocol: one pass per simulated vehicle
    parser = make_parser("houston-dr500", unit="kmh")
    readings = [r for t, data in chunks for r in parser.feed(data, T0 + timedelta(seconds=t - times[0]))]
    passes = group(readings, ends_on_idle=True, clock="received")
    assert len(passes) == len(runs) + (1 if current else 0)


@pytest.mark.parametrize("protocol, unit", [("hlk-ld2415h", None), ("ops-json", "mps"), ("mph-binary", "kmh")])
def test_traffic_of_other_devices_stays_in_time_order_and_valid(protocol, unit):
    chunks = list(itertools.islice(random_traffic(protocol, unit, 0.8, 50.0, seed=3), 1500))
    assert [t for t, _ in chunks] == sorted(t for t, _ in chunks)
    parser = make_parser(ENCODERS[protocol].parser, **({} if unit is None else {"unit": unit}))
    kinds = {r.kind for t, data in chunks for r in parser.feed(data, T0 + timedelta(seconds=t))}
    assert "malformed" not in kinds and "reading" in kinds


def test_an_unknown_protocol_fails_at_the_first_chunk():
    with pytest.raises(ValueError, match="no encoder"):
        next(iter(random_traffic("no-such-sign", None, 1.0, 40.0, seed=0)))
