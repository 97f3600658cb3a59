"""The `fartkoll collector` commands as a user runs them: decode, simulate, run's errors, and
a collector started while the database is down."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import serial
from places import deploy, make_sign, make_site
from private_server import (
    CollectorProcess,
    PhasedFeed,
    count,
    ops_vehicle_lines,
    spooled_ever,
    wait_until,
    write_config,
)

from collector.simulate_pty import open_simulated_sign
from fartkoll.cli import main

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = b"V+045.2\rV+047.9\rV+046.0\r\nV+0x5\rV-032.8\nV-033.5\r"


def strip_received(lines: list[str]) -> list[dict]:
    out = []
    for line in lines:
        obj = json.loads(line)
        obj.pop("received_at", None)
        out.append(obj)
    return out


def test_decode_prints_one_json_object_per_reading(tmp_path, capsys):
    capture = tmp_path / "hlk.bin"
    capture.write_bytes(CAPTURE)
    assert main(["collector", "decode", "--protocol", "hlk-ld2415h", str(capture)]) == 0
    got = strip_received(capsys.readouterr().out.splitlines())
    assert [(o["kind"], o["speed_kmh"], o["direction"], o["raw"]) for o in got] == [
        ("reading", 45.2, "approaching", "V+045.2"), ("reading", 47.9, "approaching", "V+047.9"),
        ("reading", 46.0, "approaching", "V+046.0"), ("malformed", None, "unknown", "V+0x5"),
        ("reading", 32.8, "receding", "V-032.8"), ("reading", 33.5, "receding", "V-033.5"),
    ]
    assert all(o["time"] is None for o in got) and "V+0x5" in got[3]["error"]


def test_decode_reads_stdin_groups_vehicles_and_converts_units():
    ops = b'{"time":"12.5","DetectedObjectVelocity":"-12.5"}\r\n{"Units":"mph"}\r\n'
    r = subprocess.run([sys.executable, "-m", "fartkoll.cli", "collector", "decode", "--protocol", "ops-json",
                        "--unit", "mps"], input=ops, capture_output=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    first, reply = strip_received(r.stdout.decode().splitlines())
    assert (first["kind"], first["speed_kmh"], first["direction"], first["time"]) == ("vehicle", 45.0, "receding", 12.5)
    assert reply["kind"] == "reply"
    r = subprocess.run([sys.executable, "-m", "fartkoll.cli", "collector", "decode", "--protocol", "hlk-ld2415h",
                        "--group"], input=CAPTURE, capture_output=True, timeout=60, cwd=ROOT)
    vehicles = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [(v["kind"], v["speed_kmh"], v["direction"]) for v in vehicles] == [
        ("vehicle", 47.9, "approaching"), ("vehicle", 33.5, "receding")]


@pytest.mark.parametrize("argv, message", [
    (["--protocol", "hlk-ld2416"], "protocol 'hlk-ld2416' is not known: use one of"),
    (["--protocol", "houston-dr500", "--unit", "knots"], "unit 'knots' is not known"),
    (["--protocol", "houston-dr500"], "needs a unit (--unit"),
    (["--protocol", "regex", "-o", "pattern"], "option 'pattern' is not KEY=VALUE"),
    (["--protocol", "hlk-ld2415h", "/nonexistent/capture.bin"], "cannot read /nonexistent/capture.bin"),
])
def test_decode_errors_exit_2_and_say_what_is_wrong(argv, message, capsys, tmp_path):
    if "/nonexistent" not in argv[-1]:
        (tmp_path / "c.bin").write_bytes(b"123\r")
        argv = argv + [str(tmp_path / "c.bin")]
    assert main(["collector", "decode", *argv]) == 2
    assert message in capsys.readouterr().err


def test_decode_of_nothing_but_garbage_exits_1(tmp_path, capsys):
    (tmp_path / "c.bin").write_bytes(b"hello\rworld\r")
    assert main(["collector", "decode", "--protocol", "hlk-ld2415h", str(tmp_path / "c.bin")]) == 1


def test_simulate_prints_a_path_that_speaks_the_protocol():
    proc = subprocess.Popen([sys.executable, "-m", "fartkoll.cli", "collector", "simulate", "--protocol",
                             "hlk-ld2415h", "--rate", "4", "--vehicles-per-minute", "60", "--seconds", "20"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/pts/")
        data = b""
        with serial.Serial(path, 9600, timeout=0.1) as port:
            deadline = time.monotonic() + 10
            while data.count(b"\r") < 10 and time.monotonic() < deadline:
                data += port.read(256)
        assert data.count(b"V+") + data.count(b"V-") >= 10
    finally:
        proc.terminate()
        assert proc.wait(10) == 0  # SIGTERM ends it cleanly
        proc.stdout.close()


def test_simulate_refuses_an_unknown_protocol_or_missing_unit(capsys):
    assert main(["collector", "simulate", "--protocol", "nope"]) == 2
    assert "is not known: use one of" in capsys.readouterr().err
    assert main(["collector", "simulate", "--protocol", "houston-dr500"]) == 2
    assert "needs a unit" in capsys.readouterr().err


def test_run_refuses_incomplete_or_missing_sources(capsys, tmp_path):
    assert main(["collector", "run", "--port", "/dev/ttyUSB0", "--spool", str(tmp_path / "s")]) == 2
    assert "needs --port, --protocol and --sign together" in capsys.readouterr().err
    (tmp_path / "empty.toml").write_text("[collector]\nbatch_size = 10\n")
    assert main(["collector", "run", "--config", str(tmp_path / "empty.toml")]) == 2
    assert "no serial sources" in capsys.readouterr().err
    assert main(["collector", "run", "--port", "/dev/ttyUSB0", "--protocol", "hlk-ld2415h", "--sign", "S",
                 "--forward", "http://127.0.0.1:9"]) == 2
    assert "forward_url is set but forward_token is not" in capsys.readouterr().err


def test_run_names_an_unregistered_or_undeployed_sign(db_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("FARTKOLL_DATABASE_URL", raising=False)
    argv = ["collector", "run", "--port", "/dev/ttyUSB7", "--protocol", "hlk-ld2415h",
            "--spool", str(tmp_path / "spool.sqlite3")]
    assert main([*argv, "--sign", "SN-NEW"]) == 2
    err = capsys.readouterr().err
    assert "sign serial 'SN-NEW' of sources[0] (port /dev/ttyUSB7) is not in the database" in err
    assert "`fartkoll sign add SN-NEW --protocol hlk-ld2415h --unit kmh`" in err and "INSERT" not in err
    with psycopg.connect(db_url) as conn:
        make_sign(conn, serial="SN-IDLE")
    assert main([*argv, "--sign", "SN-IDLE"]) == 2
    assert "'SN-IDLE' of sources[0] (port /dev/ttyUSB7) has no deployment" in capsys.readouterr().err


def test_started_while_the_database_is_down_spools_then_stores_by_serial(tmp_path, db_url):
    with psycopg.connect(db_url) as conn:
        site = make_site(conn)
        sign_id = make_sign(conn, serial="OPS-LATE")
        deploy(conn, sign_id, site, datetime.now(timezone.utc) - timedelta(days=1))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"postgresql://postgres@127.0.0.1:{s.getsockname()[1]}/nothing"
    feed = PhasedFeed()
    path, sign = open_simulated_sign(feed)
    spool = tmp_path / "spool.sqlite3"
    config = write_config(tmp_path / "fartkoll.toml", spool, [
        dict(port=path, protocol="ops-json", unit="mps", sign_serial="OPS-LATE")])
    speeds = [round(7.0 + 0.2 * i, 1) for i in range(8)]
    down = CollectorProcess(config, dead, tmp_path / "down.log")
    try:
        down.wait_holding(path)
        feed.send(*ops_vehicle_lines(speeds[:5]))
        wait_until(lambda: spooled_ever(spool) == 5, 20, "5 passes spooled", down.log)
        assert down.stop() == 0
        assert "database unreachable at start" in down.output()
        assert "stopped: 0 passes stored in 0 batches, 5 still spooled" in down.output()
        up = CollectorProcess(config, db_url, tmp_path / "up.log")
        up.wait_holding(path)
        feed.send(*ops_vehicle_lines(speeds[5:]))
        feed.close()
        wait_until(lambda: count(db_url) == 8, 20, "8 rows", up.log)
        assert up.stop() == 0
    finally:
        sign.stop()
        feed.close()
        for p in (locals().get("down"), locals().get("up")):
            if p is not None and p.proc.poll() is None:
                p.kill()
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT sign_id, site_id, speed_kmh FROM readings ORDER BY speed_kmh").fetchall()
    assert [(sg, st, round(v / 3.6, 1)) for sg, st, v in rows] == [(sign_id, site, v) for v in speeds]


def test_edge_mode_forwards_passes_to_the_central_ingest_endpoint(tmp_path):
    received: list[dict] = []

    class Ingest(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert self.path == "/api/v1/ingest/passes"
            assert self.headers["Authorization"] == "Bearer edge-token"
            received.append(body)
            reply = json.dumps({"batch_id": body["batch_id"], "accepted": len(body["passes"]), "duplicates": 0,
                                "rejected": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    feed = PhasedFeed()
    path, sign = open_simulated_sign(feed)
    config = write_config(tmp_path / "fartkoll.toml", tmp_path / "spool.sqlite3", [
        dict(port=path, protocol="ops-json", unit="mps", sign_serial="EDGE-1")])
    # no database at all: an edge computer only talks HTTP
    edge = CollectorProcess(config, "postgresql://postgres@127.0.0.1:1/none", tmp_path / "edge.log",
                            "--forward", f"http://127.0.0.1:{server.server_port}", "--token", "edge-token")
    try:
        edge.wait_holding(path)
        feed.send(*ops_vehicle_lines([10.0, 11.0, 12.0]))
        feed.close()
        wait_until(lambda: sum(len(b["passes"]) for b in received) >= 3, 20, "3 passes forwarded", edge.log)
        assert edge.stop() == 0, edge.output()
    finally:
        sign.stop()
        server.shutdown()
        if edge.proc.poll() is None:
            edge.kill()
    passes = [p for b in received for p in b["passes"]]
    assert {b["sign"] for b in received} == {"EDGE-1"}
    assert [(p["speed_kmh"], p["direction"]) for p in passes] == [
        (pytest.approx(36.0), "approaching"), (pytest.approx(39.6), "receding"), (pytest.approx(43.2), "approaching")]
    assert len({p["key"] for p in passes}) == 3
