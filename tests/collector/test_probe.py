"""`collector probe`: scoring captured bytes (pure) and probing a simulated sign on a pty."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import pytest

from collector.encode import ENCODERS, SimVehicle, encode_traffic
from collector.passes import Direction
from collector.probe import ProbeReport, ops_setup_commands, probe, score_capture
from collector.simulate_pty import lines_at_interval, open_simulated_sign, random_traffic
from fartkoll.cli import main

T = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
A, R = Direction.APPROACHING, Direction.RECEDING


def capture_of(encoder: str, unit: str | None = None) -> bytes:
    vehicles = [SimVehicle(3.0 * i, 30 + 2.3 * i, A if i % 2 else R) for i in range(5)]
    if ENCODERS[encoder].default_unit is None and unit is None:
        unit = "kmh"
    return b"".join(b for _, b in encode_traffic(encoder, vehicles, unit, random.Random(1)))


@pytest.mark.parametrize("encoder, expected", [
    ("hlk-ld2415h", "hlk-ld2415h"), ("houston-dr500", "houston-dr500"), ("stalker-a", "stalker-a"),
    ("stalker-s", "stalker-s"), ("icoms-tma296", "icoms-tma296"), ("mph-binary", "mph-binary"),
    ("hikvision-1", "hikvision-1"), ("hikvision-2", "hikvision-2"), ("ops-json", "ops-json"),
    ("ops-vehicle", "ops-json"), ("ops-object", "ops-json"), ("ops-plain", "ops-plain"),
])
def test_each_format_is_recognised_from_its_bytes(encoder, expected):
    best = score_capture(capture_of(encoder), 9600, T)[0]
    assert (best.protocol, best.score) == (expected, 1.0)
    assert best.found >= 5 and len(best.sample) == 5


def test_formats_that_look_alike_are_listed_as_alternatives():
    ranked = score_capture(capture_of("decatur-si3"), 9600, T)
    assert {"decatur-si3", "houston-dr500"} <= {c.protocol for c in ranked if c.score == 1.0}
    assert ranked[0].unit is None and "--unit" in ranked[0].unit_hint  # no unit on the wire


def test_line_noise_and_silence_are_no_guess():
    noise = bytes(random.Random(3).randrange(256) for _ in range(2000))
    report = ProbeReport("/dev/x", score_capture(noise, 9600, T) + score_capture(b"", 19200, T),
                         {9600: 2000, 19200: 0})
    assert report.best is None
    assert "no known format recognised" in report.to_text() and "9600 baud (2000 bytes)" in report.to_text()
    assert report.to_json_dict()["best"] is None


def test_a_units_reply_from_an_ops_sensor_is_the_unit_hint():
    data = b'{"Units":"km-per-hr"}\r\n' + b'{"DetectedObjectVelocity":"-42.5"}\r\n' * 3
    best = score_capture(data, 19200, T)[0]
    assert best.protocol == "ops-json" and best.unit_hint.startswith("km-per-hr")
    assert [r.speed_kmh for r in best.sample if r.kind == "vehicle"] == [42.5] * 3


def test_ops_setup_sets_units_json_vehicle_mode_and_the_clock():
    assert ops_setup_commands(T) == [b"UK\r\n", b"OJ\r\n", b"ON\r\n", b"C=1714564800\r\n"]


def object_lines(end_times: list[float]) -> bytes:
    vehicles = [SimVehicle(t, 40.0 + i, A if i % 2 else R) for i, t in enumerate(end_times)]
    return b"".join(b for _, b in encode_traffic("ops-object", vehicles, "mps"))


def test_an_ops_sensor_with_its_clock_set_shows_the_offset_from_its_latest_line():
    unix = T.timestamp()  # the capture ended at T; the last line was stamped 5 s before it
    best = score_capture(object_lines([unix - 9, unix - 7, unix - 5]), 19200, T)[0]
    assert best.protocol == "ops-json" and best.clock_offset_s == pytest.approx(-5.0)
    report = ProbeReport("/dev/x", [best], {19200: 300})
    assert report.to_json_dict()["best"]["clock_offset_s"] == pytest.approx(-5.0)
    text = report.to_text()
    assert "device clock: -5.0 s against this computer" in text and "--setup-ops" in text
    assert "1714564791  {" in text and "e+09" not in text  # Unix times in full in the table
    close = ProbeReport("/dev/x", score_capture(object_lines([unix - 3, unix - 0.5]), 19200, T)).to_text()
    assert "device clock: -0.5 s" in close and "set the sign's clock" not in close


def test_an_ops_sensor_counting_since_power_on_has_no_clock_offset():
    best = score_capture(object_lines([12.0, 14.5, 17.0]), 19200, T)[0]
    assert best.protocol == "ops-json" and best.clock_offset_s is None
    report = ProbeReport("/dev/x", [best], {19200: 300})
    assert report.to_json_dict()["best"]["clock_offset_s"] is None
    assert "device clock: not set (its times count since power-on)" in report.to_text()
    restarted = score_capture(object_lines([T.timestamp() - 9]) + object_lines([2.0]), 19200, T)[0]
    assert restarted.clock_offset_s is None
    houston = ProbeReport("/dev/x", score_capture(capture_of("houston-dr500"), 9600, T)).to_text()
    assert "device clock" not in houston  # no device time at all: nothing to say


def test_probe_finds_an_hlk_sign_on_a_pty_at_the_first_baud_rate():
    path, sign = open_simulated_sign(random_traffic("hlk-ld2415h", None, 1.0, 45.0, seed=2), rate=2.0)
    try:
        report = probe(path, [9600, 19200], seconds=1.0)
    finally:
        sign.stop()
    best = report.best
    assert best is not None and (best.protocol, best.baud) == ("hlk-ld2415h", 9600)
    assert list(report.captured) == [9600]  # confident: no other rate tried
    assert all(r.kind == "reading" and 10 < r.speed_kmh < 120 for r in best.sample)
    text = report.to_text()
    assert "best guess hlk-ld2415h at 9600 baud" in text and ("V+" in text or "V-" in text)


def test_cli_probe_reports_a_houston_sign_as_json(capsys):
    path, sign = open_simulated_sign(random_traffic("houston-dr500", "kmh", 1.0, 45.0, seed=4), rate=2.0)
    try:
        code = main(["collector", "probe", path, "--baud", "1200", "--seconds", "1.5", "--json"])
    finally:
        sign.stop()
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (out["best"]["protocol"], out["best"]["baud"]) == ("houston-dr500", 1200)
    assert out["best"]["readings"][0]["kind"] in ("reading", "idle")
    assert out["captured_bytes"]["1200"] > 0


def test_cli_probe_setup_ops_sends_the_commands_and_shows_what_came_back(capsys):
    lines = [b'{"Units":"km-per-hr"}\r\n'] + [b'{"DetectedObjectVelocity":"-51.0"}\r\n'] * 4
    path, sign = open_simulated_sign(lines_at_interval(lines, 0.05, loop=True))
    try:
        code = main(["collector", "probe", path, "--setup-ops", "--baud", "19200", "--seconds", "1.5"])
    finally:
        sign.stop()
    out, err = capsys.readouterr()
    assert code == 0, out + err
    for command in (b"UK\r\n", b"OJ\r\n", b"ON\r\n", b"C="):
        assert command in sign.received
    assert "sent UK:" in out and "sent C=" in out
    assert "best guess ops-json at 19200 baud" in out and "km-per-hr (the sensor said so)" in out


def test_cli_probe_of_a_missing_port_says_what_to_check(capsys):
    assert main(["collector", "probe", "/dev/serial/by-id/nothing-here", "--baud", "9600", "--seconds", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "/dev/serial/by-id/nothing-here" in err and "ls /dev/serial/by-id/" in err
