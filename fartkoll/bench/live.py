"""`fartkoll bench live`: how fresh the live page is, from the wire to the event stream.

Simulated signs on pseudo-terminals, each read by the real collector in edge mode (the grouping
of readings into passes, the spool, the forwarder posting to ``POST /api/v1/ingest/passes``) of a
separate ``fartkoll serve`` process; one server-sent-event client per sign on
``GET /api/v1/signs/{id}/live`` (as the live page's ``EventSource``). For every pass the latency is
the time its ``passes`` event arrived minus the pass's own time (the receive time of its peak
reading at the edge, on the same clock); beside it, in the same run, the latency of the ingest
calls themselves (the forwarder's POST, until the group commit answered). The passes the
streams saw are checked against what the database stored.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import psycopg

from sql import QUERIES

from ..demo_live import LiveSign
from .api import _free_port, _serve, _wait_healthy
from .scratch import scratch_database

GROUPING_GAP_S = 0.8  # collector.grouping.DEFAULT_GAP_S: a pass is known once its run has ended this long


@dataclass
class LiveFigures:
    signs: int
    seconds: float
    batch_age_s: float
    stored: int
    streamed: int
    end_to_end_ms: np.ndarray
    ingest_ms: np.ndarray
    edge_ms: np.ndarray
    """Pass time to the forwarder's call: the run's end, the grouping gap, the batch age, the drain loop."""
    answer_to_event_ms: np.ndarray
    """The ingest call's answer to the pass's event on the stream (negative: the event came first)."""

    def report(self) -> str:
        def q(a: np.ndarray, p: float) -> str:
            return f"{np.percentile(a, p):,.0f}" if a.size else "–"

        ratio = (np.percentile(self.end_to_end_ms, 99) / np.percentile(self.ingest_ms, 99)
                 if self.end_to_end_ms.size and self.ingest_ms.size else float("nan"))
        goal = "met" if self.end_to_end_ms.size and np.percentile(self.end_to_end_ms, 99) < 2000 else "NOT met"
        return "\n".join([
            f"fartkoll bench live: {self.signs} simulated signs for {self.seconds:g} s, collector batches sent "
            f"after {self.batch_age_s:g} s at most, grouping gap {GROUPING_GAP_S:g} s",
            f"passes stored: {self.stored:,}; seen on the event streams: {self.streamed:,}",
            "",
            "| measurement | n | p50 ms | p99 ms | max ms |",
            "|---|---:|---:|---:|---:|",
            f"| wire → event stream (pass time to its `passes` event) | {self.end_to_end_ms.size:,} | "
            f"{q(self.end_to_end_ms, 50)} | {q(self.end_to_end_ms, 99)} | {q(self.end_to_end_ms, 100)} |",
            f"| of which at the edge (pass time to the forwarder's POST) | {self.edge_ms.size:,} | "
            f"{q(self.edge_ms, 50)} | {q(self.edge_ms, 99)} | {q(self.edge_ms, 100)} |",
            f"| ingest call (forwarder POST until answered) | {self.ingest_ms.size:,} | "
            f"{q(self.ingest_ms, 50)} | {q(self.ingest_ms, 99)} | {q(self.ingest_ms, 100)} |",
            f"| the call's answer to the pass's event (NOTIFY, stream) | {self.answer_to_event_ms.size:,} | "
            f"{q(self.answer_to_event_ms, 50)} | {q(self.answer_to_event_ms, 99)} | {q(self.answer_to_event_ms, 100)} |",
            "",
            f"end-to-end p99 / ingest-call p99 = {ratio:.1f}; goal end-to-end p99 < 2,000 ms: {goal}",
        ])


class TimedSink:
    """The forwarder, with each call's duration kept, how long its passes waited at the edge
    before it (pass time to the call), and when each pass was answered (by the pass's time, ms)."""

    def __init__(self, sink, durations: list[float], edge: list[float]) -> None:
        self._sink, self._durations, self._edge = sink, durations, edge
        self.answered: dict[int, float] = {}

    def __call__(self, batch):
        t0, wall0 = time.perf_counter(), time.time() * 1000
        times = [int(p.time.timestamp() * 1000) for p in batch.passes]
        result = self._sink(batch)
        self._durations.append((time.perf_counter() - t0) * 1000)
        done = time.time() * 1000
        self._edge.extend(wall0 - t for t in times)
        self.answered.update(dict.fromkeys(times, done))
        return result


def _setup(url: str, n: int) -> tuple[list[tuple[int, str, str]], str]:
    """``n`` signs deployed at sites of their own with upload tokens, and an admin's session."""
    from api import people, sessions
    from collector.setup import deployments, places, sign_tokens, signs

    now = datetime.now(UTC)
    out = []
    with psycopg.connect(url) as conn:
        places.add_municipality(conn, actor="bench", name="Benchby", police_area="LPO Bench")
        for k in range(n):
            site = places.add_site(conn, actor="bench", name=f"Live {k}", street=f"Gata {k}",
                                   municipality_name="Benchby", lat=59.3, lon=18.0)
            sign = signs.add_sign(conn, actor="bench", serial=f"LIVE-{k:03d}", protocol="houston-dr500", unit="kmh")
            deployments.deploy(conn, actor="bench", sign_id=sign.id, site_id=site.id, at=now, display="display")
            out.append((sign.id, sign.serial, sign_tokens.issue_token(conn, actor="bench", sign_id=sign.id).token))
        admin = people.add_user(conn, "bench", people.UserNew(email="bench@example.se", role="admin"))
        secret = sessions.create(conn, admin.id, now=now).secret
        conn.commit()
    return out, secret


def _listen(url: str, cookie: str, seen: list[tuple[int, float]], ready: threading.Event, stop: threading.Event,
            errors: list[str]) -> None:
    try:
        with httpx.Client(timeout=httpx.Timeout(10, read=None)) as http, http.stream(
                "GET", url, headers={"accept": "text/event-stream", "cookie": f"fartkoll_session={cookie}"}) as r:
            if r.status_code != 200:
                errors.append(f"{url}: {r.status_code}")
                ready.set()
                return
            name = None
            for line in r.iter_lines():
                now_ms = time.time() * 1000
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    if name == "status":
                        ready.set()
                    elif name == "passes":
                        seen.extend((p[0], now_ms) for p in json.loads(line[6:])["passes"])
                if stop.is_set():
                    return
    except httpx.HTTPError as e:
        if not stop.is_set():
            errors.append(f"{url}: {e!r}")
    finally:
        ready.set()


def run(server_url: str, signs: int = 25, seconds: float = 120.0, every_s: float = 1.25,
        batch_age_s: float = 0.2, log=print) -> LiveFigures:
    with scratch_database(server_url, "live") as url:
        made, cookie = _setup(url, signs)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = Path(tempfile.gettempdir()) / f"fartkoll-bench-live-{os.getpid()}.log"
        server = _serve(url, port, 1, log_path)
        spool_dir = Path(tempfile.mkdtemp(prefix="fartkoll-bench-live-"))
        latencies: list[list[tuple[int, float]]] = [[] for _ in made]
        ingest: list[float] = []
        edge: list[float] = []
        sinks: list[TimedSink] = []

        def timed(sink):
            sinks.append(TimedSink(sink, ingest, edge))
            return sinks[-1]

        errors: list[str] = []
        stop = threading.Event()
        try:
            _wait_healthy("127.0.0.1", port, server, log_path)
            listeners = []
            for (sign_id, _, _), seen in zip(made, latencies, strict=True):
                ready = threading.Event()
                stream_url = f"{base}/api/v1/signs/{sign_id}/live?seconds={seconds + 10:g}"  # ends before the server stops
                t = threading.Thread(target=_listen, args=(stream_url, cookie, seen,
                                                           ready, stop, errors), daemon=True)
                t.start()
                listeners.append((t, ready))
            for _, ready in listeners:
                ready.wait(30)
            if errors:
                raise RuntimeError(f"event streams failed: {errors[:3]}")
            log(f"{signs} signs sending for {seconds:g} s ...")
            live = [LiveSign(serial, "houston-dr500", "kmh", base, token, spool_dir / f"{serial}.sqlite3",
                             every_s=every_s, seed=k, batch_age_s=batch_age_s, heartbeat_s=3600,
                             wrap_sink=timed).start()
                    for k, (_, serial, token) in enumerate(made)]
            time.sleep(seconds)
            for s in live:  # all at once: each then sends what it still holds
                s.stop_event.set()
            for s in live:
                s.stop()
            time.sleep(3)  # the last uploads' events
            stop.set()
            for t, _ in listeners:  # the streams end by themselves (?seconds=), so the server stops at once
                t.join(30)
        finally:
            server.terminate()
            try:
                server.wait(40)
            except Exception:  # noqa: BLE001 - a server that does not stop is killed
                server.kill()
                server.wait(10)
        with psycopg.connect(url) as conn:
            stored = conn.execute(QUERIES["live_bench_stored"]).fetchone()[0]
    all_ms = np.array([arrived - t for seen in latencies for t, arrived in seen])
    answered = {}
    for sink in sinks:  # signs were started in the order of ``made``, one sink each
        answered.update(sink.answered)
    after = np.array([arrived - answered[t] for seen in latencies for t, arrived in seen if t in answered])
    return LiveFigures(signs, seconds, batch_age_s, int(stored), int(all_ms.size), all_ms, np.array(ingest),
                       np.array(edge), after)
