"""The spool: order, fields, idempotent append, and nothing lost or doubled across SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from collector.passes import Direction, Display, VehiclePass, pass_key
from collector.spool import Spool, SpoolError

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def vp(i: int, **kw) -> VehiclePass:
    fields = dict(
        time=T0 + timedelta(seconds=i, microseconds=7),
        speed_kmh=30.0 + i / 10,
        direction=Direction.APPROACHING,
        key=pass_key("test", i),
    )
    fields.update(kw)
    return VehiclePass(**fields)


def test_round_trip_keeps_every_field_and_arrival_order(tmp_path):
    full = VehiclePass(
        time=datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        speed_kmh=47.3,
        direction=Direction.RECEDING,
        sign_id=3,
        site_id=9,
        display=Display.STEALTH,
        length_m=4.5,
        key=uuid.uuid4(),
    )
    with Spool(tmp_path / "s.sqlite3") as spool:
        assert spool.append("B", [vp(2)]) == 1
        assert spool.append("A", [full, vp(1)]) == 2
        batch = spool.peek(10)
    assert [e.sign for e in batch.entries] == ["B", "A", "A"]
    assert batch.passes == [vp(2), full, vp(1)]  # equal datetimes compare across zones
    assert batch.passes[1].time.utcoffset() == timedelta(0)  # comes back in UTC
    assert batch.up_to == batch.entries[-1].seq
    assert len(batch) == 3


def test_peek_limits_and_ack_removes_only_up_to(tmp_path):
    with Spool(tmp_path / "s.sqlite3") as spool:
        spool.append("A", [vp(i) for i in range(5)])
        first = spool.peek(2)
        assert first.passes == [vp(0), vp(1)]
        assert spool.peek(2).batch_id == first.batch_id  # not acked: same batch again
        assert spool.ack(first.up_to) == 2
        second = spool.peek(10)
        assert second.passes == [vp(2), vp(3), vp(4)]
        assert second.batch_id != first.batch_id
        spool.ack(second.up_to)
        assert spool.peek(10) is None
        assert spool.pending() == 0


def test_batch_id_is_stable_across_reopen_and_unique_per_spool_file(tmp_path):
    with Spool(tmp_path / "a.sqlite3") as spool:
        spool.append("A", [vp(0), vp(1)])
        before = spool.peek(10).batch_id
    with Spool(tmp_path / "a.sqlite3") as spool:
        assert spool.peek(10).batch_id == before
    with Spool(tmp_path / "b.sqlite3") as other:
        other.append("A", [vp(0), vp(1)])
        assert other.peek(10).batch_id != before


def test_seq_is_never_reused_after_everything_was_acked(tmp_path):
    with Spool(tmp_path / "s.sqlite3") as spool:
        spool.append("A", [vp(0)])
        b1 = spool.peek(1)
        spool.ack(b1.up_to)
    with Spool(tmp_path / "s.sqlite3") as spool:
        spool.append("A", [vp(1)])
        b2 = spool.peek(1)
    assert b2.up_to > b1.up_to
    assert b2.batch_id != b1.batch_id


def test_append_is_idempotent_by_key(tmp_path):
    with Spool(tmp_path / "s.sqlite3") as spool:
        assert spool.append("A", [vp(0), vp(1)]) == 2
        assert spool.append("A", [vp(1), vp(2)]) == 1
        assert spool.peek(10).passes == [vp(0), vp(1), vp(2)]


def test_pass_without_key_or_zone_is_refused_and_nothing_is_stored(tmp_path):
    with Spool(tmp_path / "s.sqlite3") as spool:
        with pytest.raises(SpoolError, match="no key"):
            spool.append("A", [vp(0), vp(1, key=None)])
        with pytest.raises(SpoolError, match="no time zone"):
            spool.append("A", [vp(2, time=datetime(2024, 5, 1, 12, 0))])
        assert spool.pending() == 0


def test_second_spool_on_the_same_file_is_refused(tmp_path):
    with Spool(tmp_path / "s.sqlite3"):
        with pytest.raises(SpoolError, match="in use by another process"):
            Spool(tmp_path / "s.sqlite3")
    Spool(tmp_path / "s.sqlite3").close()  # free again once closed


def test_spool_file_is_in_wal_mode(tmp_path):
    with Spool(tmp_path / "s.sqlite3"):
        db = sqlite3.connect(tmp_path / "s.sqlite3")
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.close()


# --- SIGKILL: a real process killed mid-stream, then a restart that drains --------------------

PRODUCER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timedelta, timezone
    from collector.passes import VehiclePass, pass_key
    from collector.spool import Spool
    T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    spool = Spool(sys.argv[1])
    per = int(sys.argv[2])
    n = 0
    while True:  # appends until killed
        batch = [VehiclePass(time=T0 + timedelta(milliseconds=n + i), speed_kmh=float(n + i),
                             key=pass_key("kill", n + i)) for i in range(per)]
        spool.append("S1", batch)
        n += per
        print(n, flush=True)
    """
)

DRAINER = textwrap.dedent(
    """
    import sqlite3, sys, time
    from collector.spool import Spool
    spool = Spool(sys.argv[1])
    down = sqlite3.connect(sys.argv[2], isolation_level=None)
    down.execute("CREATE TABLE IF NOT EXISTS stored (key TEXT PRIMARY KEY, speed REAL)")
    down.execute("CREATE TABLE IF NOT EXISTS attempts (n INTEGER)")
    pause = float(sys.argv[3])
    while (batch := spool.peek(int(sys.argv[4]))) is not None:
        down.execute("BEGIN")
        down.executemany("INSERT OR IGNORE INTO stored VALUES (?, ?)",
                         [(str(p.key), p.speed_kmh) for p in batch.passes])
        down.execute("INSERT INTO attempts VALUES (?)", (len(batch),))
        down.execute("COMMIT")
        print("written", batch.up_to, flush=True)
        time.sleep(pause)  # the window between downstream write and ack
        spool.ack(batch.up_to)
    print("drained", flush=True)
    """
)


def _start(script: str, *args: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _kill_after(proc: subprocess.Popen, lines: int, timeout: float = 20.0) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while len(seen) < lines:
        assert time.monotonic() < deadline, f"only {len(seen)} lines before timeout"
        line = proc.stdout.readline()
        assert line, f"process ended early with {proc.wait()}"
        seen.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return seen


def test_sigkill_mid_append_then_mid_drain_loses_nothing_and_counts_nothing_twice(tmp_path):
    spool_path, down_path, per = tmp_path / "spool.sqlite3", tmp_path / "down.sqlite3", 7

    reported = _kill_after(_start(PRODUCER, spool_path, per), lines=40)
    acknowledged = int(reported[-1])  # append returned for at least this many passes

    with Spool(spool_path) as spool:
        batch = spool.peek(1_000_000)
    speeds = [p.speed_kmh for p in batch.passes]
    n = len(speeds)
    # nothing acknowledged is lost, the kill tore no append apart, and order is arrival order
    assert n >= acknowledged
    assert n % per == 0
    assert speeds == [float(i) for i in range(n)]

    # drain into a downstream store, killed between a downstream write and its ack
    lines = _kill_after(_start(DRAINER, spool_path, down_path, 0.5, 50), lines=3)
    assert lines[-1].startswith("written")
    down = sqlite3.connect(down_path)
    assert down.execute("SELECT count(*) FROM stored").fetchone()[0] == 150
    down.close()

    # restart: drains the rest, re-sending the batch whose ack the kill prevented
    restart = subprocess.run(
        [sys.executable, "-c", DRAINER, str(spool_path), str(down_path), "0", "50"],
        capture_output=True, text=True, timeout=60,
    )
    assert restart.returncode == 0, restart.stderr
    assert restart.stdout.strip().endswith("drained")

    down = sqlite3.connect(down_path)
    stored = sorted(s for (s,) in down.execute("SELECT speed FROM stored"))
    attempted = down.execute("SELECT sum(n) FROM attempts").fetchone()[0]
    down.close()
    assert stored == [float(i) for i in range(n)]  # each pass exactly once
    assert attempted == n + 50  # the un-acked batch went twice; the keys absorbed it
    with Spool(spool_path) as spool:
        assert spool.pending() == 0


def test_append_wakes_a_waiting_drain_loop_at_once(tmp_path):
    import threading

    with Spool(tmp_path / "spool.sqlite3") as spool:
        assert spool.wait_appended(0.05) is False  # nothing appended: the full timeout
        spool.append("SN1", [vp(0)])
        assert spool.wait_appended(0) is True  # an append before the wait counts
        assert spool.wait_appended(0) is False  # and only once
        woke = []
        waiter = threading.Thread(target=lambda: woke.append((spool.wait_appended(10), time.monotonic())))
        waiter.start()
        time.sleep(0.2)
        sent = time.monotonic()
        spool.append("SN1", [vp(1)])
        waiter.join(5)
        assert woke and woke[0][0] is True and woke[0][1] - sent < 1.0  # not the 10 s timeout
        assert spool.peek(10).up_to == 2  # what woke it is there to read
        spool.append("SN1", [vp(1)])  # a key already pending stores nothing, so wakes nothing
        assert spool.wait_appended(0) is False
