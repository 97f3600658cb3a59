"""A real database outage mid-stream: our own TimescaleDB cluster is stopped (crash-style) while
a sign keeps sending, then restarted; the collector ends with exact counts."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import psycopg
from places import deploy, make_sign, make_site
from private_server import (
    CollectorProcess,
    PhasedFeed,
    count,
    ops_vehicle_lines,
    private_cluster,
    spooled_ever,
    wait_until,
    write_config,
)

from collector.simulate_pty import open_simulated_sign


def pending(spool) -> int:
    db = sqlite3.connect(f"file:{spool}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM spool").fetchone()[0]
    finally:
        db.close()


def test_server_stopped_mid_stream_and_restarted_ends_with_exact_counts(tmp_path):
    with private_cluster() as (cluster, url):
        with psycopg.connect(url) as conn:
            site = make_site(conn)
            sign_id = make_sign(conn, serial="OPS-OUT")
            deploy(conn, sign_id, site, datetime.now(timezone.utc) - timedelta(days=1), display=1)
        feed = PhasedFeed()
        path, sign = open_simulated_sign(feed)
        spool = tmp_path / "spool.sqlite3"
        config = write_config(tmp_path / "fartkoll.toml", spool, [
            dict(port=path, protocol="ops-json", unit="mps", sign_serial="OPS-OUT")],
            batch_size=3, heartbeat_interval_s=0.3)
        speeds = [round(6.0 + 0.1 * i, 1) for i in range(30)]
        lines = ops_vehicle_lines(speeds)
        collector = CollectorProcess(config, url, tmp_path / "collector.log")
        try:
            collector.wait_holding(path)
            feed.send(*lines[:10])
            wait_until(lambda: count(url) == 10, 20, "10 rows before the outage", collector.log)
            cluster.stop("immediate")  # like a crash or a power cut of the database host
            assert count(url) == -1  # really down
            feed.send(*lines[10:25])
            wait_until(lambda: spooled_ever(spool) == 25, 20, "25 passes spooled", collector.log)
            wait_until(lambda: collector.output().count("sink failed") >= 3, 20,
                       "three failed writes", collector.log)
            assert collector.proc.poll() is None  # it keeps collecting
            assert count(url) == -1 and pending(spool) >= 15  # phase 2 waits on disk
            cluster.start()
            feed.send(*lines[25:])
            feed.close()
            wait_until(lambda: count(url) == 30, 30, "30 rows after the restart", collector.log)
            assert collector.stop() == 0, collector.output()
        finally:
            sign.stop()
            feed.close()
            if collector.proc.poll() is None:
                collector.kill()
        with psycopg.connect(url) as conn:
            got = sorted(round(s / 3.6, 1) for (s,) in conn.execute("SELECT speed_kmh FROM readings"))
            rolled = conn.execute("SELECT sum(n) FROM rollup_hourly").fetchone()[0]
            beats = conn.execute("SELECT max((detail->>'passes')::int) FROM sign_heartbeats").fetchone()[0]
        assert got == speeds and rolled == 30
        assert beats == 30  # heartbeats are stored again after the outage
        out = collector.output()
        assert "cannot store" in out  # heartbeats were kept, not lost, while it was down
        assert "Traceback" not in out  # an outage is a warning, not a crash
