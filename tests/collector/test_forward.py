"""Edge mode against a stand-in ingest server on 127.0.0.1 that can be made to fail."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from collector.drain import Drainer
from collector.forward import (
    Forwarder,
    ForwardRejected,
    ForwardUnavailable,
    ingest_body,
    split_by_sign,
)
from collector.passes import Direction, VehiclePass, pass_key
from collector.spool import Spool

TOKEN = "s3cret"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class StandIn:
    """The central ingest endpoint, idempotent by key; ``script`` holds the next behaviours."""

    def __init__(self) -> None:
        self.stored: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.script: deque[str] = deque()
        self.lock = threading.Lock()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        with self.lock:
            self.requests.append({"path": handler.path, "auth": handler.headers.get("Authorization"), "body": body})
            mode = self.script.popleft() if self.script else "ok"
        if handler.headers.get("Authorization") != f"Bearer {TOKEN}" or mode == "401":
            return self.reply(handler, 401, {"detail": "bad token"})
        if mode == "500":
            return self.reply(handler, 503, {"detail": "database down"})
        if mode == "drop":  # connection closed with no response at all
            handler.close_connection = True
            return
        if mode == "409":
            return self.reply(handler, 409, {"detail": "batch already received"})
        if mode == "garbage":
            return self.reply(handler, 200, "<html>proxy login</html>")
        inserted = duplicates = 0
        rejected = []
        with self.lock:
            for i, p in enumerate(body["passes"]):
                if p["speed_kmh"] > 250:
                    rejected.append({"record": i, "field": "speed_kmh", "value": str(p["speed_kmh"]), "reason": "too fast"})
                elif p["key"] in self.stored:
                    duplicates += 1
                else:
                    self.stored[p["key"]] = dict(p, sign=body["sign"])
                    inserted += 1
        answer = {"batch_id": body["batch_id"], "accepted": inserted, "duplicates": duplicates, "rejected": rejected}
        if mode == "store-then-500":  # stored, but the answer never arrives intact
            return self.reply(handler, 500, {"detail": "crashed after commit"})
        if mode == "store-then-drop":
            handler.close_connection = True
            return
        self.reply(handler, 200, answer)

    @staticmethod
    def reply(handler: BaseHTTPRequestHandler, status: int, body: object) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@pytest.fixture
def server():
    stand_in = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            stand_in.handle(self)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    stand_in.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield stand_in
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def vp(i: int, speed: float | None = None) -> VehiclePass:
    return VehiclePass(
        time=T0 + timedelta(seconds=i), speed_kmh=speed if speed is not None else 30.0 + i,
        direction=Direction.RECEDING if i % 2 else Direction.APPROACHING, key=pass_key("fw", i),
    )


def drain_all(spool: Spool, drainer: Drainer, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while spool.pending():
        assert time.monotonic() < deadline, f"{spool.pending()} passes still pending"
        time.sleep(min(drainer.step(), 0.05))


def test_request_carries_token_and_the_documented_body(server, tmp_path):
    with Spool(tmp_path / "s.sqlite3") as spool, Forwarder(server.url, TOKEN) as fwd:
        spool.append("SN123", [vp(0), VehiclePass(
            time=datetime(2024, 5, 1, 14, 0, 0, 250000, tzinfo=timezone(timedelta(hours=2))),
            speed_kmh=47.3, length_m=4.2, key=uuid.UUID(int=7))])
        batch = spool.peek(10)
        result = fwd(batch)
    assert (result.accepted, result.duplicates, result.rejected) == (2, 0, [])
    (request,) = server.requests
    assert request["path"] == "/api/v1/ingest/passes"
    assert request["auth"] == f"Bearer {TOKEN}"
    assert request["body"] == {
        "batch_id": str(batch.batch_id),
        "sign": "SN123",
        "passes": [
            {"time": "2024-05-01T12:00:00.000000Z", "speed_kmh": 30.0, "direction": "approaching",
             "length_m": None, "key": str(pass_key("fw", 0))},
            {"time": "2024-05-01T12:00:00.250000Z", "speed_kmh": 47.3, "direction": "unknown",
             "length_m": 4.2, "key": str(uuid.UUID(int=7))},
        ],
    }


def test_outage_mid_stream_ends_with_every_pass_stored_exactly_once(server, tmp_path, caplog):
    # 5xx, dropped connections, and answers lost after the server had stored the batch
    server.script.extend(["ok", "500", "drop", "store-then-500", "500", "store-then-drop", "ok"])
    with Spool(tmp_path / "s.sqlite3") as spool, Forwarder(server.url, TOKEN, timeout=5) as fwd:
        for i in range(0, 23, 3):  # two signs, interleaved
            spool.append("SN-A" if i % 2 else "SN-B", [vp(j) for j in range(i, min(i + 3, 23))])
        drainer = Drainer(spool, fwd, batch_size=5, max_batch_age_s=0,
                          backoff_min=0.01, backoff_max=0.05)
        drain_all(spool, drainer)
    assert sorted(server.stored) == sorted(str(pass_key("fw", i)) for i in range(23))
    assert drainer.stats.passes == 23
    assert drainer.stats.failures == 5  # one per failing request in the script
    outage_logs = [r for r in caplog.records if r.name == "collector.drain"]
    assert len(outage_logs) == 5 and all(r.levelno == logging.WARNING for r in outage_logs)
    # two batches reached the server twice: their passes were counted as duplicates, not twice
    sent = sum(len(r["body"]["passes"]) for r in server.requests)
    assert sent > 23
    by_sign = {s: sum(1 for p in server.stored.values() if p["sign"] == s) for s in ("SN-A", "SN-B")}
    assert by_sign == {"SN-A": 11, "SN-B": 12}  # groups starting at 3, 9, 15, 21 are SN-A


def test_server_that_is_not_there_means_retry_later(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Spool(tmp_path / "s.sqlite3") as spool, Forwarder(f"http://127.0.0.1:{port}", TOKEN, timeout=2) as fwd:
        spool.append("SN1", [vp(0)])
        batch = spool.peek(10)
        with pytest.raises(ForwardUnavailable, match=f"cannot reach http://127.0.0.1:{port}/api/v1/ingest/passes for batch {batch.batch_id}"):
            fwd(batch)
        drainer = Drainer(spool, fwd, max_batch_age_s=0, backoff_min=0.01, backoff_max=0.05)
        drainer.step()
        assert drainer.stats.failures == 1 and spool.pending() == 1


def test_bad_token_is_a_clear_error_naming_the_batch_and_keeps_it_spooled(server, tmp_path, caplog):
    with Spool(tmp_path / "s.sqlite3") as spool, Forwarder(server.url, "wrong") as fwd:
        spool.append("SN1", [vp(0), vp(1)])
        batch = spool.peek(10)
        with pytest.raises(ForwardRejected) as err:
            fwd(batch)
        assert err.value.status == 401 and err.value.batch_id == batch.batch_id
        assert f"refused batch {batch.batch_id} (2 passes from sign 'SN1') with 401" in str(err.value)
        assert "check forward_token" in str(err.value)
        drainer = Drainer(spool, fwd, max_batch_age_s=0, backoff_min=0.01, backoff_max=0.05)
        drainer.step()
        assert spool.pending() == 2 and server.stored == {}
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]  # not a mere outage
    assert errors and all(str(batch.batch_id) in r.getMessage() for r in errors)


def test_conflict_means_the_server_already_has_it(server, tmp_path):
    server.script.append("409")
    with Spool(tmp_path / "s.sqlite3") as spool, Forwarder(server.url, TOKEN) as fwd:
        spool.append("SN1", [vp(0), vp(1)])
        drainer = Drainer(spool, fwd, max_batch_age_s=0)
        assert drainer.step() == 0.0
        assert spool.pending() == 0 and drainer.stats.passes == 2


def test_rejected_passes_are_logged_by_key_and_not_resent(server, tmp_path, caplog):
    with Spool(tmp_path / "s.sqlite3") as spool, Forwarder(server.url, TOKEN) as fwd:
        spool.append("SN1", [vp(0), vp(1, speed=300.0), vp(2)])
        result = fwd(spool.peek(10))
    assert (result.accepted, len(result.rejected)) == (2, 1)
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"pass #1 (key {pass_key('fw', 1)})" in warning and "speed_kmh='300.0': too fast" in warning


def test_unexpected_success_body_is_retried_not_acked(server, tmp_path):
    server.script.append("garbage")
    with Spool(tmp_path / "s.sqlite3") as spool, Forwarder(server.url, TOKEN) as fwd:
        spool.append("SN1", [vp(0)])
        with pytest.raises(ForwardUnavailable, match="unexpected body '<html>proxy login</html>'"):
            fwd(spool.peek(10))


def test_multi_sign_batch_splits_with_stable_ids(tmp_path):
    with Spool(tmp_path / "s.sqlite3") as spool:
        spool.append("A", [vp(0)])
        spool.append("B", [vp(1), vp(2)])
        spool.append("A", [vp(3)])
        batch = spool.peek(10)
        parts = split_by_sign(batch)
        again = split_by_sign(spool.peek(10))
    assert [(s, [p.key for p in ps]) for _, s, ps in parts] == [
        ("A", [pass_key("fw", 0), pass_key("fw", 3)]), ("B", [pass_key("fw", 1), pass_key("fw", 2)])]
    assert [i for i, _, _ in parts] == [i for i, _, _ in again]
    assert len({i for i, _, _ in parts} | {batch.batch_id}) == 3
    with Spool(tmp_path / "one.sqlite3") as spool:
        spool.append("A", [vp(0)])
        single = spool.peek(10)
    assert split_by_sign(single)[0][0] == single.batch_id
    assert ingest_body(single.batch_id, "A", single.passes)["passes"][0]["key"] == str(pass_key("fw", 0))


# --- against the real server ------------------------------------------------------------------


def test_collector_forwards_to_fartkoll_serve_with_exact_counts_across_a_server_restart(tmp_path, db_url):
    """`collector run --forward` with a sign on a pseudo-terminal → `fartkoll serve` → TimescaleDB,
    the server killed and started again in the middle: every vehicle stored once."""
    import psycopg
    from ingest_signs import upload_sign
    from private_server import (
        CollectorProcess,
        PhasedFeed,
        count,
        ops_vehicle_lines,
        wait_until,
        write_config,
    )
    from serve_process import ServeProcess

    from collector.simulate_pty import open_simulated_sign

    sign = upload_sign(db_url, "FWD-1", display=1)
    serve = ServeProcess(db_url, tmp_path / "serve.log").start()
    feed = PhasedFeed()
    path, sim = open_simulated_sign(feed)
    config = write_config(tmp_path / "fartkoll.toml", tmp_path / "spool.sqlite3", [
        {"port": path, "protocol": "ops-json", "unit": "mps", "sign_serial": sign.serial}],
        batch_size=4, sink_backoff_min_s=0.2, sink_backoff_max_s=0.4)
    speeds = [round(6.0 + 0.1 * i, 1) for i in range(40)]  # distinct, so a double would show
    lines = ops_vehicle_lines(speeds)
    collector = CollectorProcess(config, "postgresql://unused@127.0.0.1:1/none", tmp_path / "collector.log",
                                 "--forward", serve.url, "--token", sign.token)
    try:
        collector.wait_holding(path)
        feed.send(*lines[:20])
        wait_until(lambda: count(db_url) >= 20, 30, "20 passes forwarded", collector.log)
        serve.kill()
        feed.send(*lines[20:])
        # the collector keeps reading into its spool and retries while the server is down
        wait_until(lambda: collector.output().count("will retry") >= 3, 30, "three failed retries", collector.log)
        serve.start()
        feed.close()
        wait_until(lambda: count(db_url) >= 40, 40, "40 passes forwarded", collector.log)
        time.sleep(0.5)
        assert collector.stop() == 0, collector.output()
    finally:
        sim.stop()
        feed.close()
        if collector.proc.poll() is None:
            collector.kill()
        serve.stop()
    log_text = collector.output()
    assert "stopped: 40 passes stored" in log_text, log_text[-2000:]
    failures = [line for line in log_text.splitlines() if "will retry" in line]
    assert len(failures) >= 3
    assert "Traceback" not in log_text  # one line per failed retry, no traceback
    assert all("cannot reach" in line and sign.serial in line for line in failures), failures[:3]
    with psycopg.connect(db_url) as conn:
        got = sorted(round(s / 3.6, 1) for (s,) in conn.execute("SELECT speed_kmh FROM readings"))
        rows = conn.execute("SELECT DISTINCT sign_id, site_id, display FROM readings").fetchall()
        rolled = conn.execute("SELECT sum(n) FROM rollup_hourly").fetchone()[0]
    assert got == speeds
    assert rows == [(sign.sign_id, sign.site_id, 1)]
    assert rolled == 40
