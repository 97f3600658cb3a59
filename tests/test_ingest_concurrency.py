"""Concurrent sign uploads end with exact counts: re-sends racing each other, 50 signs at once,
and a `fartkoll serve` killed with SIGKILL in the middle of 50 uploads."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from ingest_signs import upload_sign
from serve_process import ServeProcess
from servers import running

from api.app import create_app
from collector.forward import ingest_body
from collector.passes import Direction, VehiclePass, pass_key
from fartkoll.settings import Settings

PASSES = "/api/v1/ingest/passes"
NOW = datetime.now(UTC).replace(microsecond=0)


def batch(ns: str, b: int, size: int = 100) -> list[VehiclePass]:
    return [VehiclePass(NOW - timedelta(days=2) + timedelta(seconds=13 * (b * size + i)), 25.0 + (i * 7 % 50),
                        Direction.APPROACHING if i % 2 else Direction.RECEDING, key=pass_key(ns, b, i))
            for i in range(size)]


def per_sign(url: str) -> dict[int, tuple[int, int]]:
    with psycopg.connect(url) as conn:
        readings = dict(conn.execute("SELECT sign_id, count(*) FROM readings GROUP BY 1").fetchall())
        rolled = dict(conn.execute("SELECT d.sign_id, sum(r.n) FROM rollup_hourly r JOIN deployments d USING (site_id) "
                                   "GROUP BY 1").fetchall())
    return {s: (readings.get(s, 0), int(rolled.get(s, 0))) for s in readings.keys() | rolled.keys()}


def in_threads(n: int, work) -> list:
    out: list = [None] * n
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            start.wait()
            out[i] = work(i)
        except BaseException as e:  # noqa: BLE001 - re-raised in the test thread below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise errors[0]
    return out


@pytest.fixture
def server(db_url):
    with running(create_app(Settings(database_url=db_url))) as base:
        yield base


def test_the_same_batch_sent_ten_times_at_once_is_stored_once(server, db_url):
    sign = upload_sign(db_url, "RACE-1")
    body = ingest_body(uuid.uuid4(), sign.serial, batch("race", 0))

    def send(i: int) -> dict:
        with httpx.Client(base_url=server, timeout=60) as c:
            r = c.post(PASSES, json=body, headers=sign.headers)
            assert r.status_code == 200, r.text
            return r.json()

    answers = in_threads(10, send)
    assert sorted(a["accepted"] for a in answers) == [0] * 9 + [100]
    assert all(a["accepted"] + a["duplicates"] == 100 and a["rejected"] == [] for a in answers)
    assert per_sign(db_url) == {sign.sign_id: (100, 100)}
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT sends, accepted FROM ingest_batches").fetchall() == [(10, 100)]


def test_fifty_signs_at_once_end_with_exact_counts(server, db_url):
    signs = [upload_sign(db_url, f"MANY-{i:02d}") for i in range(50)]

    def client(i: int) -> tuple[int, int]:
        s, accepted, duplicates = signs[i], 0, 0
        with httpx.Client(base_url=server, timeout=60) as c:
            for b in range(4):
                body = ingest_body(uuid.uuid4(), s.serial, batch(s.serial, b))
                for _ in range(2 if b == 1 else 1):  # batch 1 is sent twice
                    r = c.post(PASSES, json=body, headers=s.headers)
                    assert r.status_code == 200, r.text
                    accepted += r.json()["accepted"]
                    duplicates += r.json()["duplicates"]
        return accepted, duplicates

    results = in_threads(50, client)
    assert results == [(400, 100)] * 50
    assert per_sign(db_url) == {s.sign_id: (400, 400) for s in signs}


def test_a_server_killed_mid_upload_loses_nothing_and_doubles_nothing(db_url, tmp_path):
    clients, batches = 50, 6
    signs = [upload_sign(db_url, f"KILL-{i:02d}") for i in range(clients)]
    serve = ServeProcess(db_url, tmp_path / "serve.log").start()
    acked = [0] * clients
    retries = [0] * clients
    halfway = threading.Event()
    done_first = [0]
    lock = threading.Lock()

    def client(i: int) -> None:
        s = signs[i]
        with httpx.Client(base_url=serve.url, timeout=30) as c:
            for b in range(batches):
                body = ingest_body(uuid.uuid4(), s.serial, batch(s.serial, b))
                deadline = time.monotonic() + 90
                while True:  # retry until the server has it, as the forwarder does
                    try:
                        r = c.post(PASSES, json=body, headers=s.headers)
                        if r.status_code == 200:
                            acked[i] += r.json()["accepted"] + r.json()["duplicates"]
                            break
                        assert r.status_code >= 500, r.text
                    except httpx.TransportError:
                        pass
                    retries[i] += 1
                    assert time.monotonic() < deadline, f"client {i} could not deliver batch {b}"
                    time.sleep(0.2)
                if b == 1:
                    with lock:
                        done_first[0] += 1
                        if done_first[0] == clients // 2:
                            halfway.set()

    def killer() -> None:
        assert halfway.wait(120)
        serve.kill()
        time.sleep(1.0)
        serve.start()

    k = threading.Thread(target=killer)
    k.start()
    try:
        in_threads(clients, client)
        k.join(120)
    finally:
        serve.stop()
    assert serve.proc is not None
    assert sum(retries) > 0, "the kill came after every upload had finished"
    assert acked == [batches * 100] * clients
    assert per_sign(db_url) == {s.sign_id: (batches * 100, batches * 100) for s in signs}


def test_group_commit_shares_a_transaction_and_answers_each_upload_exactly(db_url):
    """Uploads queued while a group is being written go together into the next one; a job whose
    keys overlap one in the group waits for the group after; stored passes are counted per job."""
    from api.ingest.group_commit import GroupCommit, Job

    sign = upload_sign(db_url, "GROUP-1")

    def job(passes: list[VehiclePass], indices: list[int] | None = None) -> Job:
        from dataclasses import replace

        passes = [replace(p, sign_id=sign.sign_id) for p in passes]
        return Job(sign.sign_id, uuid.uuid4(), "passes", len(passes), passes, indices or list(range(len(passes))))

    bad = batch("g", 1)
    bad[7] = VehiclePass(bad[7].time, 999.0, bad[7].direction, key=bad[7].key)
    a, b, c = job(batch("g", 0)), job(bad), job(batch("g", 2))
    d = job(bad)                                   # the same keys as b: must wait for the group after b's
    e = job(batch("g", 0) + batch("g", 3))         # a's passes again, and 100 new ones
    commit = GroupCommit(lambda: psycopg.connect(db_url), writers=1)
    with psycopg.connect(db_url) as blocker:
        # a's group waits on the sign row (ingest_batches points at it) while the others queue up
        blocker.execute("SELECT 1 FROM signs WHERE id = %s FOR UPDATE", (sign.sign_id,))
        fa = commit.submit(a)
        time.sleep(0.5)
        futures = [commit.submit(j) for j in (b, c, d, e)]
        time.sleep(0.2)
        assert not fa.done()
    answers = [f.result(timeout=30) for f in [fa, *futures]]
    commit.close()
    figures = [(x["accepted"], x["duplicates"], [(r["record"], r["field"]) for r in x["rejected"]]) for x in answers]
    assert figures == [(100, 0, []), (99, 0, [(7, "speed_kmh")]), (100, 0, []), (0, 99, [(7, "speed_kmh")]),
                       (100, 100, [])]
    assert (commit.groups, commit.jobs) == (3, 5)  # a; then b, c, e together; then d
    assert per_sign(db_url) == {sign.sign_id: (399, 399)}
