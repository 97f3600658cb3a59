"""`fartkoll bench live`: how fresh the live page is, from the wire to the event stream.

Simulated signs on pseudo-terminals, each read by the real collector in edge mode (the grouping
of readings into passes, the spool, the forwarder posting to ``POST /api/v1/ingest/passes``) of a
separate ``fartkoll serve`` process; one server-sent-event client per sign on
``GET /api/v1/signs/{id}/live`` (as the live page's ``EventSource``). For every pass the latency is
the time its ``passes`` event arrived minus the pass's own time (the receive time of its peak
reading at the edge, on the same clock), and beside it the same from the receipt of the pass's
last reading (the earliest moment any system could know the pass). The edge's part is split into
the rest of the run after its peak, the run's closing (the sign's idle line, or the grouping gap)
and the way from the made pass to the forwarder's POST (spool, drain loop, batch age); beside them,
in the same run, the latency of the ingest calls themselves (the forwarder's POST, until the group
commit answered). The passes the streams saw are checked against what the database stored.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import numpy as np
import psycopg

from collector.grouping import DEFAULT_GAP_S
from collector.runner import default_grouper
from sql import QUERIES

from ..demo_live import LiveSign
from .api import _free_port, _serve, _wait_healthy
from .scratch import scratch_database

GROUPING_GAP_S = DEFAULT_GAP_S


def _q(a: np.ndarray, p: float) -> str:
    return f"{np.percentile(a, p):,.0f}" if a.size else "–"


@dataclass
class LiveFigures:
    """Milliseconds per pass (or per ingest call), and how many passes were stored and streamed."""

    signs: int
    seconds: float
    batch_age_s: float
    stored: int
    streamed: int
    end_to_end_ms: np.ndarray
    """The pass's time (its peak reading's receipt) to its ``passes`` event: the goal's figure."""
    ingest_ms: np.ndarray
    edge_ms: np.ndarray
    """Pass time to the forwarder's call: the rest of the run, its closing, the spool, the batch age."""
    answer_to_event_ms: np.ndarray
    """The ingest call's answer to the pass's event on the stream (negative: the event came first)."""
    from_last_ms: np.ndarray = field(default_factory=lambda: np.array([]))
    """The receipt of the pass's last reading (the earliest any system could know it) to its event."""
    in_beam_ms: np.ndarray = field(default_factory=lambda: np.array([]))
    """Peak reading to the run's last reading: the vehicle still being read."""
    closing_ms: np.ndarray = field(default_factory=lambda: np.array([]))
    """Last reading to the pass being made (the idle line that ends the run, or the gap)."""
    spooled_to_post_ms: np.ndarray = field(default_factory=lambda: np.array([]))
    """The pass made to the forwarder's call (spool, drain loop's wake-up, batch age)."""
    sent: int = 0
    load: tuple[float, float] = (float("nan"), float("nan"))
    """The machine's 1-minute load average as the signs started and as they stopped."""

    def report(self) -> str:
        e2e = self.end_to_end_ms
        ratio = (np.percentile(e2e, 99) / np.percentile(self.ingest_ms, 99)
                 if e2e.size and self.ingest_ms.size else float("nan"))
        goal = "met" if e2e.size and np.percentile(e2e, 99) < 2000 else "NOT met"

        def row(label: str, a: np.ndarray) -> str:
            return f"| {label} | {a.size:,} | {_q(a, 50)} | {_q(a, 99)} | {_q(a, 100)} |"

        return "\n".join([
            f"fartkoll bench live: {self.signs} simulated signs for {self.seconds:g} s, collector batches sent "
            f"after {self.batch_age_s:g} s at most, grouping gap {GROUPING_GAP_S:g} s (houston-dr500: a run "
            "ends at its idle line)",
            f"passes sent by the edge: {self.sent:,}; stored: {self.stored:,}; seen on the event streams: "
            f"{self.streamed:,}; load average (1 min) at the start / end: {self.load[0]:.2f} / {self.load[1]:.2f}",
            "",
            "| measurement | n | p50 ms | p99 ms | max ms |",
            "|---|---:|---:|---:|---:|",
            row("wire → event stream, from the pass's time (its peak reading) — the goal", e2e),
            row("wire → event stream, from the pass's last reading", self.from_last_ms),
            row("of which at the edge (pass time to the forwarder's POST)", self.edge_ms),
            row("· peak reading → the run's last reading (vehicle still read)", self.in_beam_ms),
            row("· last reading → pass made (idle line or gap)", self.closing_ms),
            row("· pass made → forwarder's POST (spool, drain wake-up, batch age)", self.spooled_to_post_ms),
            row("ingest call (forwarder POST until answered)", self.ingest_ms),
            row("the call's answer to the pass's event (NOTIFY, stream)", self.answer_to_event_ms),
            "",
            f"end-to-end p99 / ingest-call p99 = {ratio:.1f}; goal end-to-end p99 < 2,000 ms: {goal}",
        ])


@dataclass
class SignTimes:
    """Wall-clock ms per pass of one sign, keyed by the pass's own time in ms."""

    last: dict[int, float] = field(default_factory=dict)
    made: dict[int, float] = field(default_factory=dict)
    posted: dict[int, float] = field(default_factory=dict)
    answered: dict[int, float] = field(default_factory=dict)

    def on_end(self, vehicle, last_at: datetime) -> None:
        """``Grouper(on_end=...)``: a pass was made from a run whose last reading came at ``last_at``."""
        t = int(vehicle.time.timestamp() * 1000)
        self.made[t] = time.time() * 1000
        self.last[t] = last_at.timestamp() * 1000


class TimedSink:
    """The forwarder, with each call's duration kept, how long its passes waited at the edge
    before it (pass time to the call), and when each pass was posted and answered."""

    def __init__(self, sink, durations: list[float], edge: list[float], times: SignTimes) -> None:
        self._sink, self._durations, self._edge, self._times = sink, durations, edge, times

    def __call__(self, batch):
        t0, wall0 = time.perf_counter(), time.time() * 1000
        times = [int(p.time.timestamp() * 1000) for p in batch.passes]
        result = self._sink(batch)
        self._durations.append((time.perf_counter() - t0) * 1000)
        done = time.time() * 1000
        self._edge.extend(wall0 - t for t in times)
        for t in times:
            self._times.posted.setdefault(t, wall0)  # the first try, should a batch be re-sent
        self._times.answered.update(dict.fromkeys(times, done))
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
        times = [SignTimes() for _ in made]

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
            load_start = os.getloadavg()[0]
            live = [LiveSign(serial, "houston-dr500", "kmh", base, token, spool_dir / f"{serial}.sqlite3",
                             every_s=every_s, seed=k, batch_age_s=batch_age_s, heartbeat_s=3600,
                             wrap_sink=partial(TimedSink, durations=ingest, edge=edge, times=times[k]),
                             make_grouper=partial(default_grouper, on_end=times[k].on_end)).start()
                    for k, (_, serial, token) in enumerate(made)]
            time.sleep(seconds)
            load_end = os.getloadavg()[0]
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
    out = figures(signs, seconds, batch_age_s, int(stored), latencies, times, ingest, edge)
    out.load = (load_start, load_end)
    return out


def figures(signs: int, seconds: float, batch_age_s: float, stored: int, latencies: list[list[tuple[int, float]]],
            times: list[SignTimes], ingest: list[float], edge: list[float]) -> LiveFigures:
    """The figures from each sign's streamed ``(pass time, arrival)`` pairs and its edge times."""
    def per_pass(value) -> np.ndarray:
        return np.array([v for seen, st in zip(latencies, times, strict=True) for t, arrived in seen
                         if (v := value(st, t, arrived)) is not None])

    def made_part(st: SignTimes, t: int, then: dict[int, float], now: dict[int, float]) -> float | None:
        return now[t] - then[t] if t in then and t in now else None

    return LiveFigures(
        signs, seconds, batch_age_s, stored, sum(len(seen) for seen in latencies),
        end_to_end_ms=per_pass(lambda st, t, arrived: arrived - t),
        ingest_ms=np.array(ingest), edge_ms=np.array(edge),
        answer_to_event_ms=per_pass(lambda st, t, arrived: arrived - st.answered[t] if t in st.answered else None),
        from_last_ms=per_pass(lambda st, t, arrived: arrived - st.last[t] if t in st.last else None),
        in_beam_ms=per_pass(lambda st, t, arrived: st.last[t] - t if t in st.last else None),
        closing_ms=per_pass(lambda st, t, arrived: made_part(st, t, st.last, st.made)),
        spooled_to_post_ms=per_pass(lambda st, t, arrived: made_part(st, t, st.made, st.posted)),
        sent=sum(len(st.posted) for st in times),
    )
