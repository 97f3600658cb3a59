"""The technician's command line at the cabinet, on real pseudo-terminals: `collector probe`
shows its progress and stops once it is sure, `collector simulate` takes the protocol names
that `decode` and `run` take, and `decode --group` keeps the readings' own times."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import serial

from collector.decode import decode
from collector.encode import ENCODERS, REGEX_PATTERN, SimVehicle, encode_traffic, encoder_for
from collector.passes import Direction
from collector.protocols import PROTOCOLS
from collector.simulate_pty import open_simulated_sign, random_traffic
from fartkoll.cli import main

ROOT = Path(__file__).resolve().parents[2]


def on_terminal(*args: str, timeout: float = 90.0) -> tuple[int, str, float]:
    """`fartkoll ARGS` with stdout and stderr on a pseudo-terminal: exit code, what the terminal
    showed, seconds taken."""
    master, slave = pty.openpty()
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "fartkoll.cli", *args], stdout=slave, stderr=slave,
                            stdin=subprocess.DEVNULL, cwd=ROOT)
    os.close(slave)
    out = bytearray()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    code = proc.wait(10)
    os.close(master)
    return code, out.decode(errors="replace"), time.monotonic() - t0


def test_probe_on_a_terminal_shows_progress_and_stops_once_it_is_sure():
    path, sign = open_simulated_sign(random_traffic("hlk-ld2415h", None, 0.5, 45.0, seed=3), rate=2.0)
    try:
        code, shown, took = on_terminal("collector", "probe", path, "--baud", "9600", "--baud", "19200",
                                        "--seconds", "60")
    finally:
        sign.stop()
    assert code == 0, shown
    updates = re.findall(r"\r\x1b\[Klistening at 9600 baud \(1 of 2\): ([0-9.]+) of 60 s, ([0-9,]+) bytes", shown)
    assert len(updates) >= 2, shown  # the line moves while it listens
    heard = [int(b.replace(",", "")) for _, b in updates]
    assert heard == sorted(heard) and heard[-1] > 0
    assert "best so far hlk-ld2415h" in shown and "confident, stopping" in shown
    assert float(updates[-1][0]) < 60 and took < 45  # stopped long before the 60 s it could have listened
    assert "19200 baud" not in shown.split("confident, stopping")[0]  # the first rate was enough
    assert "best guess hlk-ld2415h at 9600 baud" in shown
    assert "Traceback" not in shown


def test_probe_without_a_terminal_prints_a_line_per_baud_rate(capsys):
    path, sign = open_simulated_sign(random_traffic("hlk-ld2415h", None, 0.5, 45.0, seed=5), rate=2.0)
    try:
        assert main(["collector", "probe", path, "--baud", "9600", "--seconds", "30", "--json"]) == 0
    finally:
        sign.stop()
    got = capsys.readouterr()
    assert json.loads(got.out)["best"]["protocol"] == "hlk-ld2415h"
    lines = got.err.strip().splitlines()
    assert lines[0].startswith("listening at 9600 baud (1 of 1)") and "\r" not in got.err
    assert lines[-1].endswith("confident, stopping") and len(lines) == 2


def unit_of(name: str) -> str:
    return ENCODERS[encoder_for(name)].default_unit or "kmh"


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_every_protocol_decode_and_run_take_can_be_simulated_and_read_back(name):
    vehicles = [SimVehicle(1.0 + 2 * i, 40.0 + 3 * i, Direction.APPROACHING if i % 2 else Direction.RECEDING)
                for i in range(4)]
    data = b"".join(b for _, b in encode_traffic(encoder_for(name), vehicles, unit_of(name)))
    options = {"pattern": REGEX_PATTERN} if name == "regex" else {}
    readings = list(decode(name, data, received_at=datetime.now(UTC), unit=unit_of(name), **options))
    speeds = [r.speed_kmh for r in readings if r.kind in ("reading", "vehicle")]
    assert speeds and all(30 < v < 60 for v in speeds), readings[:3]


def test_simulate_refuses_what_decode_refuses_with_the_same_names(capsys):
    assert main(["collector", "simulate", "--protocol", "ops-vehicle", "--seconds", "0.1"]) == 2
    simulate = capsys.readouterr().err
    assert main(["collector", "decode", "--protocol", "ops-vehicle", "/dev/null"]) == 2
    decode_err = capsys.readouterr().err
    names = ", ".join(PROTOCOLS)
    assert names in simulate and names in decode_err
    assert main(["collector", "simulate", "--protocol", "hlk-ld2415h", "--form", "vehicle", "--seconds", "0.1"]) == 2
    assert "ops-json only" in capsys.readouterr().err


def test_a_simulated_regex_sign_on_a_pty_is_read_with_the_pattern_it_prints():
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "fartkoll.cli", "collector", "simulate", "--protocol", "regex",
                             "--vehicles-per-minute", "240", "--rate", "4", "--seconds", "30"],
                            stdout=subprocess.PIPE, stderr=slave, cwd=ROOT, text=True)
    os.close(slave)
    try:
        path = proc.stdout.readline().strip()
        hint = os.read(master, 4096).decode()
        assert f"pattern={REGEX_PATTERN}" in hint
        data = bytearray()
        with serial.Serial(path, timeout=0.2) as port:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and data.count(b"\n") < 4:
                data += port.read(256)
    finally:
        proc.terminate()
        proc.wait(10)
        os.close(master)
    readings = list(decode("regex", bytes(data), received_at=datetime.now(UTC), unit="kmh", pattern=REGEX_PATTERN))
    assert sum(r.kind == "vehicle" for r in readings) >= 3, data


def ops_lines(times: list[float], mps: list[float]) -> bytes:
    return b"".join(b'{"time":"%.2f","speed":"%.2f"}\r\n' % (t, v) for t, v in zip(times, mps, strict=True))


def test_decode_group_keeps_the_readings_own_times(tmp_path, capsys):
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    run = [0.0, 0.1, 0.2, 0.3, 0.4]
    capture = tmp_path / "ops.txt"
    capture.write_bytes(ops_lines([start + t for t in run], [12.5, 12.8, 12.6, 12.4, 12.2])
                        + ops_lines([start + 5 + t for t in run[:3]], [-9.1, -9.3, -9.2]))
    assert main(["collector", "decode", "--protocol", "ops-json", "--group", str(capture)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(v["time"], v["direction"]) for v in out] == [
        ("2026-01-01T00:00:00.100000+00:00", "approaching"), ("2026-01-01T00:00:05.100000+00:00", "receding")]
    # times counted from power-on: the vehicles keep their distance, placed from the moment read
    capture.write_bytes(ops_lines([100 + t for t in run], [12.5, 12.8, 12.6, 12.4, 12.2])
                        + ops_lines([112 + t for t in run[:3]], [-9.1, -9.3, -9.2]))
    before = datetime.now(UTC)
    assert main(["collector", "decode", "--protocol", "ops-json", "--group", str(capture)]) == 0
    first, second = (datetime.fromisoformat(json.loads(line)["time"]) for line in capsys.readouterr().out.splitlines())
    assert second - first == timedelta(seconds=12)
    assert before <= first - timedelta(seconds=0.1) <= datetime.now(UTC)  # the peak, 0.1 s after the first line
