"""The technician's whole path, as the README tells it: set up a site, its limit and a sign,
deploy the sign, issue its token — all with the `fartkoll` command, no SQL — then a sign on a
pseudo-terminal delivers through `collector run --forward` to a real `fartkoll serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from private_server import CollectorProcess, PhasedFeed, count, ops_vehicle_lines, wait_until, write_config
from serve_process import ServeProcess

from collector.simulate_pty import open_simulated_sign

ROOT = Path(__file__).resolve().parents[1]


def fartkoll(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FARTKOLL_CONFIG", "FARTKOLL_DATABASE_URL")}
    env["DATABASE_URL"] = db_url
    return subprocess.run([sys.executable, "-m", "fartkoll.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def heartbeats(db_url: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT h.time, h.clock_offset_s, h.detail FROM sign_heartbeats h "
                            "JOIN signs s ON s.id = h.sign_id WHERE s.serial_number = 'HR-88102' "
                            "ORDER BY h.time").fetchall()


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"{result.args}: {result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout


def test_a_new_sign_set_up_by_command_delivers_through_the_forwarder(tmp_path, db_url):
    ok(fartkoll(db_url, "site", "add", "Skolgatan 12", "--street", "Skolgatan", "--municipality", "Ängsvik",
                "--police-area", "Polisområde Ängsvik", "--lat", "59.39", "--lon", "15.84", "--tag", "school"))
    ok(fartkoll(db_url, "limit", "set", "Skolgatan 12", "30", "--from", "2020-01-01"))
    ok(fartkoll(db_url, "sign", "add", "HR-88102", "--protocol", "ops-json", "--unit", "mps",
                "--vendor", "OmniPreSense", "--model", "OPS243"))
    ok(fartkoll(db_url, "sign", "deploy", "HR-88102", "Skolgatan 12", "--display", "display",
                "--heading", "N", "--at", "2020-01-01"))
    token = json.loads(ok(fartkoll(db_url, "token", "issue", "HR-88102", "--json")))["token"]
    assert token.startswith("fks_")

    # a mistyped serial is refused with the command to run, not a traceback
    bad = fartkoll(db_url, "token", "issue", "HR-8810")
    assert bad.returncode != 0 and "HR-8810" in bad.stderr and "Traceback" not in bad.stderr

    serve = ServeProcess(db_url, tmp_path / "serve.log")  # started once the collector has found it down
    feed = PhasedFeed()
    path, sim = open_simulated_sign(feed)
    config = write_config(tmp_path / "fartkoll.toml", tmp_path / "spool.sqlite3", [
        {"port": path, "protocol": "ops-json", "unit": "mps", "sign_serial": "HR-88102"}], batch_size=5)
    speeds = [round(7.0 + 0.1 * i, 1) for i in range(12)]
    collector = CollectorProcess(config, "postgresql://unused@127.0.0.1:1/none", tmp_path / "collector.log",
                                 "--forward", serve.url, "--token", token)
    try:
        collector.wait_holding(path)
        feed.send(*ops_vehicle_lines(speeds))
        # the server is down: passes and heartbeats stay with the collector, which says so in a line
        wait_until(lambda: "cannot send heartbeats" in collector.output(), 20, "heartbeats held", collector.log)
        time.sleep(1.0)  # a few more heartbeat intervals (0.5 s) go by
        down_until = datetime.now(UTC)
        serve.start()
        feed.close()
        wait_until(lambda: count(db_url) >= len(speeds), 40, "12 passes forwarded", collector.log)
        wait_until(lambda: len(heartbeats(db_url)) >= 4, 20, "heartbeats forwarded", collector.log)
        time.sleep(0.5)
        assert collector.stop() == 0, collector.output()
    finally:
        sim.stop()
        feed.close()
        if collector.proc.poll() is None:
            collector.kill()
        serve.stop()
    with psycopg.connect(db_url) as conn:
        got = sorted(round(s / 3.6, 1) for (s,) in conn.execute("SELECT speed_kmh FROM readings"))
        where = conn.execute("SELECT DISTINCT s.name, r.display FROM readings r JOIN sites s ON s.id = r.site_id").fetchall()
        rolled = conn.execute("SELECT sum(n) FROM rollup_hourly").fetchone()[0]
        actors = {a for (a,) in conn.execute("SELECT DISTINCT actor FROM audit_log")}
    assert got == speeds                       # every vehicle once
    assert where == [("Skolgatan 12", 1)]      # site and display mode from the deployment
    assert rolled == len(speeds)
    beats = heartbeats(db_url)
    # those taken while the server was down arrive afterwards, with the time they were taken
    assert sum(1 for t, _, _ in beats if t < down_until) >= 2
    assert all(d["source"] == "http" and "bytes" in d for _, _, d in beats)
    assert any(d["connected"] for _, _, d in beats)
    assert beats[-1][2]["passes"] == len(speeds)
    assert "Traceback" not in collector.output()
    assert actors and all(a.startswith("cli") for a in actors)
