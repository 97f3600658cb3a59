"""`fartkoll collector run` end to end: simulated signs on pseudo-terminals → rows in TimescaleDB,
exact counts after a kill -9, heartbeats and coverage that a restart does not count twice."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
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

from collector.encode import SimVehicle, encode_traffic
from collector.health_store import HealthStore
from collector.heartbeat import Heartbeat, HourCoverage, hour_start
from collector.passes import Direction
from collector.simulate_pty import open_simulated_sign

A, R = Direction.APPROACHING, Direction.RECEDING
RATE = 5.0  # the simulated signs play five times faster than real time


def register(url: str, *serials: str) -> dict[str, tuple[int, int]]:
    """Each serial as a sign deployed (display on) at a site of its own: serial -> (sign, site)."""
    out = {}
    with psycopg.connect(url) as conn:
        for i, serial in enumerate(serials):
            site = make_site(conn, f"Gatan{i} 1")
            sign = make_sign(conn, serial=serial)
            deploy(conn, sign, site, datetime.now(timezone.utc) - timedelta(days=1), display=1)
            out[serial] = (sign, site)
    return out


def test_three_signs_round_trip_through_ptys_into_timescaledb(tmp_path, db_url):
    signs = register(db_url, "HLK-1", "DR500-1", "OPS-1")
    # streaming formats: runs of readings per vehicle, far enough apart to stay separate
    hlk = [SimVehicle(6.0 * i, 30.0 + 1.7 * i, A if i % 2 else R) for i in range(8)]
    houston = [SimVehicle(6.0 * i, 25.0 + 2 * i, A if i % 2 == 0 else R) for i in range(6)]
    ops_mps = [8.0 + 0.5 * i for i in range(10)]  # one OC object line per vehicle, in m/s,
    behind = datetime.now(timezone.utc).timestamp() - 3600  # its end_time from a clock 1 h behind
    ops = [SimVehicle(behind + 1.0 * i, v * 3.6, A if i % 2 == 0 else R) for i, v in enumerate(ops_mps)]
    hlk_path, hlk_sign = open_simulated_sign(list(encode_traffic("hlk-ld2415h", hlk)), RATE)
    dr_path, dr_sign = open_simulated_sign(list(encode_traffic("houston-dr500", houston, "kmh")), RATE)
    ops_path, ops_sign = open_simulated_sign(list(encode_traffic("ops-object", ops, "mps")), RATE)
    # runs of readings end at a gap: vehicles 6 s apart and a 2 s gap (0.4 s of real time) leave
    # room for a reader stalled by a busy machine without splitting a vehicle in two
    gap = {"grouping_gap_s": 2.0 / RATE, "grouping_options": {"clock": "received"}}
    config = write_config(tmp_path / "fartkoll.toml", tmp_path / "spool.sqlite3", [
        dict(port=hlk_path, protocol="hlk-ld2415h", sign_serial="HLK-1", **gap),
        dict(port=dr_path, protocol="houston-dr500", unit="kmh", sign_serial="DR500-1", **gap),
        dict(port=ops_path, protocol="ops-json", unit="mps", sign_serial="OPS-1", **gap),
    ])
    collector = CollectorProcess(config, db_url, tmp_path / "collector.log")
    total = len(hlk) + len(houston) + len(ops)
    try:
        wait_until(lambda: all(s.done.is_set() for s in (hlk_sign, dr_sign, ops_sign)), 40,
                   "signs done", collector.log)
        wait_until(lambda: count(db_url) >= total, 20, f"{total} rows", collector.log)
        assert collector.stop() == 0, collector.output()
    finally:
        for s in (hlk_sign, dr_sign, ops_sign):
            s.stop()
        if collector.proc.poll() is None:
            collector.kill()
    stopped = [line for line in collector.output().splitlines() if "stopped:" in line]
    assert any(f"stopped: {total} passes stored" in line for line in stopped), stopped

    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT sign_id, site_id, speed_kmh, direction, display FROM readings "
                            "ORDER BY sign_id, time").fetchall()
        rollups = conn.execute("SELECT site_id, direction, sum(n), sum(sum_kmh) FROM rollup_hourly "
                               "GROUP BY site_id, direction ORDER BY 1, 2").fetchall()
        beats = dict(conn.execute("SELECT sign_id, count(*) FROM sign_heartbeats GROUP BY sign_id").fetchall())
        last = dict(conn.execute("SELECT DISTINCT ON (sign_id) sign_id, detail FROM sign_heartbeats "
                                 "ORDER BY sign_id, time DESC").fetchall())
        offsets = dict(conn.execute("SELECT DISTINCT ON (sign_id) sign_id, clock_offset_s FROM sign_heartbeats "
                                    "ORDER BY sign_id, time DESC").fetchall())
        coverage = dict(conn.execute("SELECT sign_id, sum(minutes) FROM coverage_hourly GROUP BY sign_id").fetchall())
    assert len(rows) == total
    for serial, vehicles, resolution in (("HLK-1", hlk, 0.05), ("DR500-1", houston, 0.5), ("OPS-1", ops, 0.2)):
        sign, site = signs[serial]
        got = [(s, Direction(d)) for sg, st, s, d, disp in rows if sg == sign]
        assert [d for _, d in got] == [v.direction for v in vehicles], serial
        for (speed, _), v in zip(got, vehicles, strict=False):  # within the unit's rounding
            assert speed == pytest.approx(v.speed_kmh, abs=resolution), serial
        assert {(st, disp) for sg, st, _, _, disp in rows if sg == sign} == {(site, 1)}
        # rollups hold exactly the rows, per site and direction
        for direction in (A, R):
            speeds = [s for sg, _, s, d, _ in rows if sg == sign and d == direction]
            (n, total_kmh), = [(n, t) for st, d, n, t in rollups if st == site and d == direction]
            assert n == len(speeds) and total_kmh == pytest.approx(sum(speeds), abs=0.01)
        # every sign has heartbeats with its counts, and coverage for the hour it sent in
        assert beats[sign] >= 1 and last[sign]["passes"] == len(vehicles)
        assert last[sign]["readings"].get("malformed", 0) == 0
        assert 1 <= coverage[sign] <= 2  # a minute or two; two when the run crossed a minute
    # the OPS sensor's clock: -3600 s, less the sensor's start-up and plus its lines' device
    # times running five times faster than they are played (median ~ +3.6 s); the others send no time
    hlk_sign_id, dr_sign_id, ops_sign_id = (signs[s][0] for s in ("HLK-1", "DR500-1", "OPS-1"))
    assert offsets[hlk_sign_id] is None and offsets[dr_sign_id] is None
    assert -3600 - 40 < offsets[ops_sign_id] < -3600 + 5, offsets[ops_sign_id]
    assert "sign OPS-1: its clock is" in collector.output() and "--setup-ops" in collector.output()


def test_killed_collector_restarts_with_exact_counts(tmp_path, db_url):
    register(db_url, "OPS-K")
    feed = PhasedFeed()
    path, sign = open_simulated_sign(feed)
    spool = tmp_path / "spool.sqlite3"
    config = write_config(tmp_path / "fartkoll.toml", spool, [
        dict(port=path, protocol="ops-json", unit="mps", sign_serial="OPS-K")], batch_size=1)
    speeds = [round(5.0 + 0.1 * i, 1) for i in range(40)]  # distinct, so duplicates would show
    lines = ops_vehicle_lines(speeds)
    first = CollectorProcess(config, db_url, tmp_path / "first.log")
    try:
        first.wait_holding(path)
        feed.send(*lines[:30])
        # every pass read is in the spool; the drain (one pass per transaction) is under way
        wait_until(lambda: spooled_ever(spool) == 30, 20, "30 passes spooled", first.log)
        wait_until(lambda: count(db_url) >= 1, 20, "first rows stored", first.log)
        first.kill()  # kill -9 while batches are being written and acked
        stored_at_kill = count(db_url)
        second = CollectorProcess(config, db_url, tmp_path / "second.log")
        second.wait_holding(path)
        feed.send(*lines[30:])
        feed.close()
        wait_until(lambda: count(db_url) >= 40, 30, "40 rows", second.log)
        assert second.stop() == 0, second.output()
    finally:
        sign.stop()
        feed.close()
        for proc in ("first", "second"):
            p = locals().get(proc)
            if p is not None and p.proc.poll() is None:
                p.kill()
    assert first.proc.returncode == -9
    with psycopg.connect(db_url) as conn:
        got = sorted(round(s / 3.6, 1) for (s,) in conn.execute("SELECT speed_kmh FROM readings"))
        rolled = conn.execute("SELECT sum(n) FROM rollup_hourly").fetchone()[0]
    assert got == speeds  # every vehicle once: nothing lost, nothing counted twice
    assert rolled == 40
    assert 1 <= stored_at_kill <= 30, stored_at_kill


# --- heartbeats and coverage ------------------------------------------------------------------

H = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)


def beat(at: datetime, minutes: int, closed: tuple[HourCoverage, ...] = (), sign: str = "HB-1",
         clock_offset_s: float | None = None) -> Heartbeat:
    return Heartbeat(sign=sign, at=at, connected=True, last_data_at=at, bytes=10, readings={"reading": 3},
                     passes=1, closed_hours=closed, current_hour=HourCoverage(sign, hour_start(at), minutes),
                     clock_offset_s=clock_offset_s)


def coverage(url: str) -> list[tuple[datetime, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT hour, minutes FROM coverage_hourly ORDER BY hour").fetchall()


def test_coverage_adds_a_restarted_run_once_and_resending_changes_nothing(db_url):
    register(db_url, "HB-1", "HB-2")

    def connect():
        return psycopg.connect(db_url)

    first = HealthStore(connect)
    first(beat(H + timedelta(minutes=10), 4))
    first(beat(H + timedelta(minutes=20), 9))
    first(beat(H + timedelta(minutes=20), 9))  # the same heartbeat again
    assert coverage(db_url) == [(H, 9)]
    first.close()
    second = HealthStore(connect)  # a restart in the same hour counts only its own minutes
    second(beat(H + timedelta(minutes=40), 5))
    second(beat(H + timedelta(minutes=50), 12))
    assert coverage(db_url) == [(H, 21)]
    # the hour closes (with a few more minutes) while the next one starts
    second(beat(H + timedelta(hours=1, minutes=1), 1, (HourCoverage("HB-1", H, 14),)))
    assert coverage(db_url) == [(H, 23), (H + timedelta(hours=1), 1)]
    second.close()
    with psycopg.connect(db_url) as conn:
        n, detail = conn.execute("SELECT count(*), max(detail->>'passes') FROM sign_heartbeats").fetchone()
    assert n == 5 and detail == "1"  # five distinct instants; the repeated one stored once


def test_heartbeats_wait_out_an_outage_and_unknown_signs_are_skipped(db_url, caplog):
    register(db_url, "HB-1")
    down = [True]

    def connect():
        if down[0]:
            raise psycopg.OperationalError("connection refused")
        return psycopg.connect(db_url)

    store = HealthStore(connect)
    store(beat(H + timedelta(minutes=5), 3))
    store(beat(H + timedelta(minutes=6), 4, sign="NOT-REGISTERED"))
    assert "cannot store 2 heartbeats" in caplog.text
    down[0] = False
    store(beat(H + timedelta(minutes=7), 5))
    store.close()
    assert coverage(db_url) == [(H, 5)]
    assert count(db_url, "SELECT count(*) FROM sign_heartbeats") == 2
    assert "sign NOT-REGISTERED is not in the database" in caplog.text


def test_heartbeats_store_the_clock_offset_and_warn_when_it_is_large(db_url, caplog):
    caplog.set_level(logging.INFO, logger="collector.heartbeat")
    signs = register(db_url, "HB-1")
    store = HealthStore(lambda: psycopg.connect(db_url))
    store(beat(H + timedelta(minutes=1), 1, clock_offset_s=-0.4))
    store(beat(H + timedelta(minutes=2), 2))  # no Unix times from the device: unknown
    store(beat(H + timedelta(minutes=3), 3, clock_offset_s=-3600.5))
    store.close()
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT sign_id, clock_offset_s FROM sign_heartbeats ORDER BY time").fetchall()
    assert rows == [(signs["HB-1"][0], -0.4), (signs["HB-1"][0], None), (signs["HB-1"][0], -3600.5)]
    assert "device clock -0.4 s" in caplog.text and "device clock unknown" in caplog.text
    assert "sign HB-1: its clock is 3600.5 s behind" in caplog.text and "--setup-ops" in caplog.text
