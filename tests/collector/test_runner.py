"""The runner end to end over a pseudo-terminal: outage, kill -9 and restart, exact counts."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone

import pydantic
import pytest

from collector.config import CollectorSettings, SerialSource
from collector.drain import Drainer, StoreSink, make_sink
from collector.heartbeat import Coverage, SignMonitor
from collector.passes import Direction, VehiclePass, pass_key
from collector.runner import SourcePipeline, default_grouper, default_parser, run
from collector.simulate_pty import lines_at_interval, open_simulated_sign
from collector.spool import Spool

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)

# --- settings ---------------------------------------------------------------------------------


def source(**kw) -> SerialSource:
    fields = dict(port="/dev/serial/by-id/usb-x", protocol="hlk-ld2415h", sign_serial="SN1")
    fields.update(kw)
    return SerialSource(**fields)


@pytest.mark.parametrize(
    "kw, field, value",
    [
        (dict(baudrate=0), "baudrate", "0"),
        (dict(parity="X"), "parity", "'X'"),
        (dict(mounting_angle_deg=95.0), "mounting_angle_deg", "95.0"),
        (dict(sign_serial="  "), "sign_serial", "'  '"),
        (dict(grouping_gap_s=-1), "grouping_gap_s", "-1"),
    ],
)
def test_source_errors_name_field_and_value(kw, field, value):
    with pytest.raises(pydantic.ValidationError) as err:
        source(**kw)
    text = str(err.value)
    assert field in text and value in text


def test_settings_cross_checks_name_fields_and_values():
    with pytest.raises(pydantic.ValidationError, match="reopen_backoff_min_s 10.0 is larger than reopen_backoff_max_s 1.0"):
        CollectorSettings(reopen_backoff_min_s=10, reopen_backoff_max_s=1)
    with pytest.raises(pydantic.ValidationError, match="forward_url is set but forward_token is not"):
        CollectorSettings(forward_url="http://127.0.0.1:8000")
    with pytest.raises(pydantic.ValidationError, match=r"sources\[1\].sign_serial 'SN1' appears twice"):
        CollectorSettings(sources=[source(), source(port="/dev/ttyUSB1")])
    with pytest.raises(pydantic.ValidationError, match=r"sources\[1\].port '/dev/serial/by-id/usb-x' appears twice"):
        CollectorSettings(sources=[source(), source(sign_serial="SN2")])
    s = CollectorSettings(sources=[source(parity="e")])
    assert s.sources[0].parity == "E" and str(s.spool_path) == "/var/lib/fartkoll/spool.sqlite3"


# --- pure-ish pieces --------------------------------------------------------------------------


def test_coverage_counts_minutes_per_hour_including_silent_hours():
    cov = Coverage("SN1", T0 + timedelta(minutes=30))
    for minute in (31, 31, 45, 59):
        cov.note(T0 + timedelta(minutes=minute, seconds=10))
    cov.note(T0 + timedelta(hours=2, minutes=5))
    closed = cov.take_closed(T0 + timedelta(hours=2, minutes=6))
    assert [(h.hour - T0, h.minutes_with_data) for h in closed] == [
        (timedelta(0), 3), (timedelta(hours=1), 0)]
    assert cov.take_closed(T0 + timedelta(hours=2, minutes=7)) == []
    assert cov.current(T0 + timedelta(hours=2, minutes=7)).minutes_with_data == 1
    cov.note(T0 + timedelta(minutes=50))  # late data for a closed hour is not counted again
    assert [h.minutes_with_data for h in cov.take_closed(T0 + timedelta(hours=3))] == [1]


def hlk(speed: float, direction: str = "+") -> bytes:
    return f"V{direction}{speed:05.1f}\r".encode()


def test_pipeline_parses_groups_keys_and_spools(tmp_path, caplog):
    src = source(sign_id=7, mounting_angle_deg=60.0, grouping_gap_s=0.3,
                 grouping_options={"clock": "received"})
    monitor = SignMonitor("SN1", T0)
    with Spool(tmp_path / "s.sqlite3") as spool:
        pipe = SourcePipeline(src, spool, monitor)
        stream = hlk(20.0) + hlk(25.0) + b"V+0x5.2\r" + hlk(22.0) + hlk(30.0, "-") + hlk(28.0, "-")
        t = T0
        for i in range(0, len(stream), 5):  # chunks cut mid-line, 0.05 s apart
            pipe.on_data(stream[i:i + 5], t)
            t += timedelta(seconds=0.05)
        pipe.on_tick(t)  # the receding run is still young: nothing yet
        assert spool.pending() == 1
        pipe.on_tick(t + timedelta(seconds=1))
        batch = spool.peek(10)
    first, second = batch.passes
    assert (first.direction, second.direction) == (Direction.APPROACHING, Direction.RECEDING)
    assert first.speed_kmh == pytest.approx(50.0) and second.speed_kmh == pytest.approx(60.0)
    assert first.sign_id == second.sign_id == 7
    assert first.key != second.key and first.key is not None
    assert [e.sign for e in batch.entries] == ["SN1", "SN1"]
    assert monitor.passes == 2 and monitor.readings["malformed"] == 1
    assert monitor.readings["reading"] == 5 and monitor.bytes == len(stream)
    assert any("b'V+0x5.2'" in r.getMessage() and "malformed" in r.getMessage() for r in caplog.records)


def test_pipeline_survives_a_parser_that_raises(tmp_path, caplog):
    class Exploding:
        def feed(self, data, received_at):
            raise RuntimeError("bug")

        def flush(self, received_at):
            return []

    made = []

    def make_parser(src):
        made.append(1)
        return Exploding() if len(made) == 1 else default_parser(src)

    monitor = SignMonitor("SN1", T0)
    with Spool(tmp_path / "s.sqlite3") as spool:
        pipe = SourcePipeline(source(grouping_options={"min_readings": 1}), spool, monitor,
                              make_parser=make_parser, make_grouper=default_grouper)
        pipe.on_data(b"\xff\xfe", T0)
        pipe.on_data(hlk(40.0), T0)
        pipe.close(T0)
        assert [p.speed_kmh for p in spool.peek(10).passes] == [40.0]
    assert len(made) == 2 and monitor.readings["malformed"] == 1
    assert "parser 'hlk-ld2415h' failed on b'\\xff\\xfe'" in caplog.text


def test_pipeline_gives_the_monitor_device_times_for_the_clock_offset(tmp_path):
    src = source(protocol="ops-json", unit="mps", grouping_options={"clock": "received"})
    monitor = SignMonitor("SN1", T0)
    with Spool(tmp_path / "s.sqlite3") as spool:
        pipe = SourcePipeline(src, spool, monitor)
        for i in range(5):  # OPS vehicle lines stamped by a clock 12 s behind, one a second
            at = T0 + timedelta(seconds=i)
            line = f'{{"DetectedObjectVelocity":"-12.{i}","time":"{at.timestamp() - 12:.3f}"}}\r\n'
            pipe.on_data(line.encode(), at)
        pipe.close(T0 + timedelta(seconds=5))
        assert spool.pending() == 5
    hb = monitor.heartbeat(T0 + timedelta(seconds=6), True)
    assert hb.clock_offset_s == pytest.approx(-12.0) and hb.readings == {"vehicle": 5}


def test_drainer_holds_a_part_filled_batch_until_it_is_old_enough(tmp_path):
    sent = []
    mono = [100.0]
    now = [T0]
    with Spool(tmp_path / "s.sqlite3") as spool:
        spool.append("SN1", [VehiclePass(time=T0, speed_kmh=40.0, key=pass_key("d", 0))])
        drainer = Drainer(spool, sent.append, batch_size=3, max_batch_age_s=5.0,
                          clock=lambda: now[0], monotonic=lambda: mono[0])
        assert 0 < drainer.step() <= 5.0 and sent == []
        mono[0] += 4.9
        drainer.step()
        assert sent == []
        now[0] = T0 + timedelta(seconds=5)  # the pass is 5 s old by its own time
        assert drainer.step() == 0.0 and len(sent) == 1 and spool.pending() == 0


def test_drainer_backs_off_exponentially_and_resets_after_success(tmp_path):
    mono = [0.0]
    down = [True]

    def sink(batch):
        if down[0]:
            raise ConnectionError("database unreachable")

    with Spool(tmp_path / "s.sqlite3") as spool:
        spool.append("SN1", [VehiclePass(time=T0, speed_kmh=40.0, key=pass_key("d", i)) for i in range(2)])
        drainer = Drainer(spool, sink, batch_size=1, max_batch_age_s=0, backoff_min=1, backoff_max=4,
                          monotonic=lambda: mono[0])
        waits = []
        for _ in range(4):
            waits.append(drainer.step())
            mono[0] += waits[-1]
        assert waits == [1, 2, 4, 4] and drainer.stats.failures == 4 and spool.pending() == 2
        down[0] = False
        mono[0] -= 0.5
        assert drainer.step() == pytest.approx(0.5)  # not due yet: the sink is not called
        assert drainer.stats.failures == 4 and spool.pending() == 2
        mono[0] += 0.5
        assert drainer.step() == 0.0 and spool.pending() == 1
        down[0] = True
        assert drainer.step() == 1  # backoff starts afresh after a success


# --- end to end over a pty --------------------------------------------------------------------

GAP_S = 0.2


def vehicles(n: int) -> tuple[list[tuple[float, bytes]], list[tuple[float, Direction]]]:
    """Byte chunks of ``n`` vehicles (4 readings each, peak second) and the expected passes."""
    chunks, expected, t = [], [], 0.0
    for v in range(n):
        peak = 30.0 + v * 1.5
        d, direction = ("+", Direction.APPROACHING) if v % 2 == 0 else ("-", Direction.RECEDING)
        for speed in (peak - 4, peak, peak - 1, peak - 3):
            chunks.append((t, hlk(speed, d)))
            t += 0.03
        if v == 2:
            chunks.append((t, b"V+0x5.2\r"))  # garbage in the middle of the stream
        t += 0.4  # well over GAP_S: the next vehicle is another run
        expected.append((peak, direction))
    return chunks, expected


def settings_for(path: str, tmp_path, **kw) -> CollectorSettings:
    fields = dict(
        sources=[SerialSource(port=path, protocol="hlk-ld2415h", sign_serial="SN1", sign_id=7,
                              grouping_gap_s=GAP_S, grouping_options={"clock": "received"})],
        spool_path=tmp_path / "spool.sqlite3", batch_size=2, max_batch_age_s=0,
        sink_backoff_min_s=0.05, sink_backoff_max_s=0.2, reopen_backoff_min_s=0.05,
        reopen_backoff_max_s=0.2, read_timeout_s=0.05, heartbeat_interval_s=0.3,
    )
    fields.update(kw)
    return CollectorSettings(**fields)


class FlakySink:
    """A downstream store that is idempotent by key and can be switched off."""

    def __init__(self) -> None:
        self.stored: dict = {}
        self.calls = self.failures = 0
        self.down = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, batch) -> None:
        with self.lock:
            self.calls += 1
            if self.down.is_set():
                self.failures += 1
                raise ConnectionError("connection refused (database restarting)")
            for p in batch.passes:
                self.stored.setdefault(p.key, p)


def wait_until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_sink_outage_mid_stream_ends_with_exact_counts(tmp_path, caplog):
    chunks, expected = vehicles(10)
    path, sign = open_simulated_sign(chunks)
    sink = FlakySink()
    beats = []
    stop = threading.Event()
    out = []
    runner = threading.Thread(target=lambda: out.append(run(
        settings_for(path, tmp_path), sink, stop, on_heartbeat=beats.append)), daemon=True)
    runner.start()
    try:
        wait_until(lambda: len(sink.stored) >= 2)
        sink.down.set()  # the database goes away while vehicles keep coming
        wait_until(sign.done.is_set)
        time.sleep(0.5)
        assert len(sink.stored) < 10  # some passes must have waited in the spool
        sink.down.clear()
        wait_until(lambda: len(sink.stored) == 10)
    finally:
        stop.set()
        runner.join(10)
        sign.stop()
    assert not runner.is_alive()
    (result,) = out
    got = sorted(sink.stored.values(), key=lambda p: p.time)
    assert [(p.speed_kmh, p.direction) for p in got] == expected
    assert all(p.sign_id == 7 for p in got)
    assert sink.failures >= 1 and result.drained.passes == 10 and result.pending == 0
    final = result.heartbeats["SN1"]
    assert final.passes == 10 and final.malformed == 1 and final.readings["reading"] == 40
    assert final.current_hour.minutes_with_data >= 1 and final.last_data_at is not None
    assert any(b.connected for b in beats)
    assert "b'V+0x5.2'" in caplog.text


RUNNER = textwrap.dedent(
    """
    import sqlite3, sys, threading, time
    from collector.config import CollectorSettings, SerialSource
    from collector.runner import run
    port, spool_path, down_path = sys.argv[1:4]

    class SlowStore:  # idempotent by key, like collector.store.write_passes
        def __init__(self):
            self.db = sqlite3.connect(down_path, isolation_level=None)
            self.db.execute("CREATE TABLE IF NOT EXISTS stored (key TEXT PRIMARY KEY, speed REAL)")
            self.db.execute("CREATE TABLE IF NOT EXISTS attempts (n INTEGER)")
            self.db.execute("CREATE TABLE IF NOT EXISTS open (up INTEGER)")

        def __call__(self, batch):
            if not self.db.execute("SELECT count(*) FROM open").fetchone()[0]:
                raise ConnectionError("database not up yet")
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR IGNORE INTO stored VALUES (?, ?)",
                                [(str(p.key), p.speed_kmh) for p in batch.passes])
            self.db.execute("INSERT INTO attempts VALUES (?)", (len(batch),))
            self.db.execute("COMMIT")
            print("written", batch.up_to, flush=True)
            time.sleep(0.5)  # the kill lands here, before the ack

    settings = CollectorSettings(
        sources=[SerialSource(port=port, protocol="hlk-ld2415h", sign_serial="SN1", sign_id=7,
                              grouping_gap_s=%(gap)r, grouping_options={"clock": "received"})],
        spool_path=spool_path, batch_size=3, max_batch_age_s=0, sink_backoff_min_s=0.05,
        sink_backoff_max_s=0.1, reopen_backoff_min_s=0.05, read_timeout_s=0.05)
    run(settings, SlowStore(), threading.Event())
    """ % {"gap": GAP_S}
)


def count(db_path, sql: str) -> int:
    if not os.path.exists(db_path):
        return 0
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchone()[0] or 0
    except sqlite3.OperationalError:  # table not created yet
        return 0
    finally:
        db.close()


def test_killed_and_restarted_runner_ends_with_exact_counts(tmp_path):
    chunks, expected = vehicles(10)
    path, sign = open_simulated_sign(chunks)
    spool_path, down_path = tmp_path / "spool.sqlite3", tmp_path / "down.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, path, str(spool_path), str(down_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        # the database is down while the sign streams: every vehicle lands in the spool
        wait_until(lambda: count(spool_path, "SELECT count(*) FROM spool") == 10)
        db = sqlite3.connect(down_path, isolation_level=None)
        db.execute("CREATE TABLE IF NOT EXISTS open (up INTEGER)")
        db.execute("INSERT INTO open VALUES (1)")
        db.close()
        assert proc.stdout.readline().startswith("written")
        assert proc.stdout.readline().startswith("written")
        os.kill(proc.pid, signal.SIGKILL)  # between a downstream write and its ack
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()
        sign.stop()
    assert proc.returncode == -signal.SIGKILL
    assert count(down_path, "SELECT count(*) FROM stored") == 6
    assert count(spool_path, "SELECT count(*) FROM spool") == 7  # 4 + the batch not acked

    # restart: no sign any more, only the spool to drain into the (now fast) database
    down = sqlite3.connect(down_path, isolation_level=None, check_same_thread=False)

    def store(batch):
        down.executemany("INSERT OR IGNORE INTO stored VALUES (?, ?)",
                         [(str(p.key), p.speed_kmh) for p in batch.passes])
        down.execute("INSERT INTO attempts VALUES (?)", (len(batch),))

    stop = threading.Event()
    out = []
    runner = threading.Thread(target=lambda: out.append(
        run(settings_for(path, tmp_path, sources=[]), store, stop)), daemon=True)
    runner.start()
    try:
        wait_until(lambda: count(spool_path, "SELECT count(*) FROM spool") == 0)
    finally:
        stop.set()
        runner.join(10)
    assert out and out[0].drained.passes == 7 and out[0].pending == 0
    speeds = sorted(s for (s,) in down.execute("SELECT speed FROM stored"))
    attempts = down.execute("SELECT sum(n) FROM attempts").fetchone()[0]
    down.close()
    assert speeds == sorted(peak for peak, _ in expected)  # every vehicle once, none twice
    assert attempts == 13  # 6 + 7: the batch cut off by the kill was written twice


def test_encoded_traffic_through_the_real_serial_path(tmp_path):
    """Simulator encoders → pty → reader → Houston parser (idle lines too) → grouper → sink."""
    from collector.encode import SimVehicle, encode_traffic

    speeds = [31.0, 44.0, 52.0, 38.0, 60.0, 47.0]
    directions = [Direction.APPROACHING, Direction.RECEDING] * 3
    traffic = [SimVehicle(5.0 * i, s, d) for i, (s, d) in enumerate(zip(speeds, directions, strict=False))]
    rate = 5.0  # five times real time: 10 Hz readings arrive 20 ms apart
    path, sign = open_simulated_sign(list(encode_traffic("houston-dr500", traffic, "kmh")), rate)
    settings = settings_for(path, tmp_path, sources=[SerialSource(
        port=path, protocol="houston-dr500", unit="kmh", sign_serial="DR500-1", sign_id=3,
        grouping_gap_s=0.8 / rate, grouping_options={"clock": "received"})])
    sink = FlakySink()
    stop = threading.Event()
    out = []
    runner = threading.Thread(target=lambda: out.append(run(settings, sink, stop)), daemon=True)
    runner.start()
    try:
        wait_until(sign.done.is_set)
        wait_until(lambda: len(sink.stored) >= len(speeds))
        time.sleep(0.3)  # nothing more may arrive
    finally:
        stop.set()
        runner.join(10)
        sign.stop()
    got = sorted(sink.stored.values(), key=lambda p: p.time)
    assert [(p.speed_kmh, p.direction) for p in got] == list(zip(speeds, directions, strict=False))
    hb = out[0].heartbeats["DR500-1"]
    assert hb.readings["idle"] > 0 and hb.malformed == 0 and hb.passes == len(speeds)


def test_unknown_protocol_fails_at_start_naming_the_source(tmp_path):
    settings = settings_for("/dev/serial/by-id/none", tmp_path, sources=[
        source(), source(port="/dev/ttyUSB9", sign_serial="SN2", protocol="hlk-ld2416")])
    with pytest.raises(ValueError, match=r"sources\[1\] \(sign 'SN2'\): protocol 'hlk-ld2416' is not known"):
        run(settings, lambda batch: None, threading.Event())


# --- the database write path as the sink ------------------------------------------------------


def test_make_sink_refuses_what_cannot_work(tmp_path):
    with pytest.raises(ValueError, match="no forward_url and no database connection"):
        make_sink(CollectorSettings())
    no_id = CollectorSettings(sources=[source()])
    with pytest.raises(ValueError, match=r"sources \['SN1'\] have no sign_id"):
        make_sink(no_id, connect=lambda: None)
    edge = CollectorSettings(forward_url="http://127.0.0.1:9/", forward_token="t")
    fwd = make_sink(edge)
    assert fwd.endpoint == "http://127.0.0.1:9/api/v1/ingest/passes"
    fwd.close()


def test_database_outage_mid_stream_ends_with_exact_counts(tmp_path, db_url):
    import psycopg
    from places import deploy, make_sign, make_site
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    with psycopg.connect(db_url) as conn:
        site = make_site(conn)
        sign_id = make_sign(conn, serial="SN1")
        deploy(conn, sign_id, site, datetime.now(timezone.utc) - timedelta(days=1), display=1)
    with socket.socket() as s:  # a port where no database answers
        s.bind(("127.0.0.1", 0))
        dead_url = make_conninfo(db_url, port=s.getsockname()[1], host="127.0.0.1", connect_timeout=2)
    assert conninfo_to_dict(dead_url)["port"] != conninfo_to_dict(db_url).get("port")
    down = threading.Event()
    connects = []

    def connect():
        connects.append(down.is_set())
        return psycopg.connect(dead_url if down.is_set() else db_url)

    def stored() -> int:
        with psycopg.connect(db_url) as conn:
            return conn.execute("SELECT count(*) FROM readings").fetchone()[0]

    chunks, expected = vehicles(10)
    path, sign = open_simulated_sign(chunks)
    settings = settings_for(path, tmp_path, sources=[SerialSource(
        port=path, protocol="hlk-ld2415h", sign_serial="SN1", sign_id=sign_id,
        grouping_gap_s=GAP_S, grouping_options={"clock": "received"})])
    sink = make_sink(settings, connect)
    assert isinstance(sink, StoreSink)
    stop = threading.Event()
    out = []
    runner = threading.Thread(target=lambda: out.append(run(settings, sink, stop)), daemon=True)
    runner.start()
    try:
        wait_until(lambda: stored() >= 2)
        down.set()  # the database restarts: live sessions die, new ones are refused
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        wait_until(sign.done.is_set)
        time.sleep(0.5)
        assert stored() < 10
        down.clear()
        wait_until(lambda: stored() == 10)
    finally:
        stop.set()
        runner.join(10)
        sign.stop()
        sink.close()
    assert out[0].drained.failures >= 2 and out[0].pending == 0
    assert True in connects and connects[-1] is False  # it reconnected after the outage
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT speed_kmh, direction, site_id, display FROM readings ORDER BY time").fetchall()
        rolled = conn.execute("SELECT sum(n) FROM rollup_hourly").fetchone()[0]
    assert [(pytest.approx(s), Direction(d)) for s, d, _, _ in rows] == expected
    assert {(site_id, display) for _, _, site_id, display in rows} == {(site, 1)}
    assert rolled == 10


@pytest.mark.parametrize("ends_on_idle", [None, False])
def test_houston_idle_line_sends_the_pass_without_waiting_for_the_gap(tmp_path, ends_on_idle):
    """The DR500's ``000`` says the target is gone: the pass is made, spooled and sent then, well
    before a 10 s gap would end the run; ``ends_on_idle = false`` in the options waits for the gap."""
    lines = [b"041\r", b"044\r", b"043\r", b"000\r"]
    path, sign = open_simulated_sign(lines_at_interval(lines, 0.1))
    options = {"clock": "received"} if ends_on_idle is None else {"clock": "received", "ends_on_idle": ends_on_idle}
    settings = settings_for(path, tmp_path, sources=[SerialSource(
        port=path, protocol="houston-dr500", unit="kmh", sign_serial="DR500-1", sign_id=3,
        grouping_gap_s=10.0, grouping_options=options)])
    assert default_grouper(settings.sources[0]).ends_on_idle is (ends_on_idle is None)
    sink = FlakySink()
    stop = threading.Event()
    runner = threading.Thread(target=lambda: run(settings, sink, stop), daemon=True)
    runner.start()
    try:
        wait_until(sign.done.is_set)
        if ends_on_idle is None:
            wait_until(lambda: len(sink.stored) == 1, timeout=8)
        else:
            time.sleep(1.0)
            assert sink.stored == {}  # the run is open until the gap or the end of input
    finally:
        stop.set()
        runner.join(10)
        sign.stop()
    assert [p.speed_kmh for p in sink.stored.values()] == [44.0]  # and once only
