"""Live readings: a pass uploaded to a `fartkoll serve` process arrives on the event stream of
another server (PostgreSQL NOTIFY after the ingest commit), with its status event first; the JSON view;
a re-sent batch announces nothing; who may watch."""

from __future__ import annotations

import json
import queue
import threading
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from ingest_signs import upload_sign
from people import make_world, session_cookie
from serve_process import ServeProcess
from servers import running

from api.app import create_app
from api.live import payloads
from fartkoll.settings import Settings


class Here:
    def __init__(self, url: str) -> None:
        self.url = url


@pytest.fixture
def two_servers(db_url, tmp_path):
    """A server in this process (a) and a `fartkoll serve` process (b) on the same database."""
    with running(create_app(Settings(database_url=db_url))) as here:
        b = ServeProcess(db_url, tmp_path / "b.log").start()
        try:
            yield Here(here), b
        finally:
            b.stop()


@pytest.fixture
def one_server(db_url):
    with running(create_app(Settings(database_url=db_url))) as here:
        yield Here(here)


def read_events(url: str, headers: dict, out: queue.Queue, stop: threading.Event) -> None:
    try:
        _read_events(url, headers, out, stop)
    except httpx.HTTPError:
        if not stop.is_set():  # after the test is done the servers may go first
            raise


def _read_events(url: str, headers: dict, out: queue.Queue, stop: threading.Event) -> None:
    with httpx.Client(timeout=httpx.Timeout(30, read=60)) as http, http.stream(
            "GET", url, headers={**headers, "accept": "text/event-stream"}) as r:
        out.put(("http", r.status_code, r.headers.get("content-type")))
        name = None
        for line in r.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.put((name, json.loads(line[6:]), None))


def next_event(out: queue.Queue, name: str, timeout: float = 20.0):
    deadline = datetime.now(UTC) + timedelta(seconds=timeout)
    while datetime.now(UTC) < deadline:
        got = out.get(timeout=timeout)
        if got[0] == name:
            return got[1]
    raise AssertionError(f"no {name} event within {timeout} s")


def test_a_pass_uploaded_to_one_process_streams_from_another(db, db_url, two_servers):
    a, b = two_servers
    world = make_world(db)
    sign = upload_sign(db_url, "LIVE-1")
    with psycopg.connect(db_url) as conn:  # the technician of municipality A manages the new sign's site
        conn.execute("UPDATE streets SET municipality_id = %s WHERE id = (SELECT street_id FROM sites WHERE id = %s)",
                     (world.mun_a, sign.site_id))
    cookie = {"cookie": f"fartkoll_session={session_cookie(db, world.users['technician'].id)}"}
    out: queue.Queue = queue.Queue()
    stop = threading.Event()
    reader = threading.Thread(target=read_events, args=(f"{a.url}/api/v1/signs/{sign.sign_id}/live?seconds=8", cookie, out, stop),
                              daemon=True)
    reader.start()
    assert out.get(timeout=20)[1:] == (200, "text/event-stream; charset=utf-8")
    status = next_event(out, "status")
    assert status["serial"] == "LIVE-1" and status["site_id"] == sign.site_id
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    batch = {"batch_id": str(uuid.uuid4()), "sign": "LIVE-1",
             "passes": [{"time": (when + timedelta(seconds=k)).isoformat(), "speed_kmh": 40 + k, "direction": "approaching",
                         "key": str(uuid.uuid4())}
                        for k in range(3)]}
    r = httpx.post(f"{b.url}/api/v1/ingest/passes", json=batch, headers=sign.headers, timeout=30)
    assert r.status_code == 200 and r.json()["accepted"] == 3
    got = next_event(out, "passes")
    assert got["sign"] == sign.sign_id and got["n"] == 3
    assert [p[1] for p in got["passes"]] == [40.0, 41.0, 42.0]
    assert got["passes"][0][0] == int(when.timestamp() * 1000) and got["passes"][0][2] == "approaching"
    # the same batch again stores nothing and announces nothing; a new one does
    assert httpx.post(f"{b.url}/api/v1/ingest/passes", json=batch, headers=sign.headers, timeout=30).json()["accepted"] == 0
    batch2 = {**batch, "batch_id": str(uuid.uuid4()),
              "passes": [{"time": when.isoformat(), "speed_kmh": 77, "direction": "receding",
                          "key": str(uuid.uuid4())}]}
    assert httpx.post(f"{b.url}/api/v1/ingest/passes", json=batch2, headers=sign.headers, timeout=30).json()["accepted"] == 1
    got = next_event(out, "passes")
    assert got["n"] == 1 and got["passes"][0][1:] == [77.0, "receding"]
    stop.set()
    # JSON view: status and the newest passes first
    view = httpx.get(f"{a.url}/api/v1/signs/{sign.sign_id}/live", headers=cookie, timeout=20).json()
    assert view["sign"]["serial"] == "LIVE-1"
    assert [p["speed_kmh"] for p in view["passes"]] == [42.0, 41.0, 40.0, 77.0]


def test_who_may_watch_a_sign_live(db, db_url, one_server):
    a = one_server
    world = make_world(db)
    url = f"{a.url}/api/v1/signs/{world.sign_a}/live"
    for persona, status in (("viewer", 403), ("officer", 403), ("technician", 200), ("admin", 200),
                            ("other_viewer", 403)):
        cookie = {"cookie": f"fartkoll_session={session_cookie(db, world.users[persona].id)}"}
        assert httpx.get(url, headers=cookie, timeout=20).status_code == status, persona
    assert httpx.get(url, timeout=20).status_code == 401
    assert httpx.get(f"{a.url}/api/v1/signs/999999/live", headers={
        "cookie": f"fartkoll_session={session_cookie(db, world.users['admin'].id)}"}, timeout=20).status_code == 404


def test_payloads_carry_the_newest_passes_and_skip_uploads_that_stored_nothing():
    from collector.passes import Direction, VehiclePass

    class Up:
        def __init__(self, sign_id, passes):
            self.sign_id, self.passes, self.indices = sign_id, passes, list(range(len(passes)))

    t0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
    many = [VehiclePass(t0 + timedelta(seconds=k), 30 + k % 50, Direction.RECEDING) for k in range(400)]
    out = payloads([Up(1, many), Up(2, many[:2]), Up(3, many[:5])], [
        {"accepted": 400, "rejected": []}, {"accepted": 0, "rejected": []},
        {"accepted": 4, "rejected": [{"record": 2}]}])
    assert len(out) == 2
    first, third = json.loads(out[0]), json.loads(out[1])
    assert first["n"] == 400 and len(first["passes"]) == 150 and len(out[0]) < 8000
    assert first["passes"][-1][0] == int(many[-1].time.timestamp() * 1000)
    assert third["sign"] == 3 and [p[1] for p in third["passes"]] == [30.0, 31.0, 33.0, 34.0]
