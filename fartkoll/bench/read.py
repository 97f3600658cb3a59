"""`fartkoll bench read`: latency of the read endpoints over HTTP beside a plain scan of readings.

The planner benchmark's generator writes ``sites`` sites with ``weeks`` weeks of hourly rollups
(raw readings for the latest ``raw_weeks`` weeks only, older rollups are shifted copies). A
`fartkoll serve` process answers ``clients`` concurrent keep-alive clients asking for random
sites' statistics (``/sites/{id}/stats``) and daily series (``/sites/{id}/series``) over the
whole period. The baseline computes the same figures (n, mean, V85, share over the limit per
direction × display) with one SQL aggregate over ``readings``; since only the raw weeks have
readings, the statistics endpoint is also timed over those weeks, and that like-for-like pair
gives the ratio. The vehicle counts of the two sides are checked to agree.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from psycopg.rows import dict_row

from sql import QUERIES

from .api import _free_port, _serve, _wait_healthy
from .planner import END, TZ, build_data
from .scratch import scratch_database


@dataclass(frozen=True)
class Latency:
    what: str
    seconds: tuple[float, ...]
    wall_s: float

    def q(self, p: float) -> float:
        return float(np.percentile(np.array(self.seconds), p)) * 1000

    def line(self) -> str:
        n = len(self.seconds)
        return (f"  {self.what:<40} p50 {self.q(50):7.1f} ms  p99 {self.q(99):7.1f} ms  "
                f"({n} requests, {n / self.wall_s:.0f}/s)")


@dataclass(frozen=True)
class ReadFigures:
    sites: int
    weeks: int
    raw_weeks: int
    clients: int
    readings: int
    stats_year: Latency
    series_year: Latency
    stats_raw: Latency
    scan_raw_s: tuple[float, ...]
    counts_agree: bool

    def report(self) -> str:
        scan = statistics.median(self.scan_raw_s) * 1000
        ratio = scan / self.stats_raw.q(50)
        return "\n".join([
            f"fartkoll bench read: {self.sites} sites x {self.weeks} weeks of hourly rollups "
            f"({self.readings:,} raw readings in the last {self.raw_weeks} weeks), {self.clients} HTTP clients",
            self.stats_year.line(),
            self.series_year.line(),
            self.stats_raw.line(),
            f"  {'plain SQL over readings, ' + str(self.raw_weeks) + ' weeks':<40} median {scan:7.1f} ms  "
            f"({len(self.scan_raw_s)} sites, one at a time)",
            f"  statistics endpoint vs the scan, same {self.raw_weeks} weeks: {ratio:.1f}x faster (p50 vs median)",
            f"  goals: p99 < 50 ms for a year of statistics: {'met' if self.stats_year.q(99) < 50 else 'NOT met'}; "
            f">= 50x the scan: {'met' if ratio >= 50 else 'NOT met'}",
            f"  vehicle counts of endpoint and scan agree: {'yes' if self.counts_agree else 'NO'}",
        ])


def _viewer_token(conn: psycopg.Connection) -> str:
    """An admin's personal token (admins see every site)."""
    from api import personal_tokens
    from api.people import UserNew, add_user
    from api.principal import Principal

    user = add_user(conn, "bench", UserNew(email="bench@fartkoll.example", role="admin"))
    who = Principal(user_id=user.id, email=user.email, role=user.role)
    issued = personal_tokens.issue(conn, who, personal_tokens.TokenNew(label="bench read"), now=datetime.now(UTC))
    conn.commit()
    return issued.token


def _get(host: str, port: int, token: str, path: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n").encode()


async def _client(host: str, port: int, requests: list[bytes], latencies: list[float],
                  bodies: dict[bytes, bytes] | None) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for req in requests:
            t = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            if not head.startswith(b"HTTP/1.1 200"):
                status = head.split(b"\r\n", 1)[0]
                raise RuntimeError(f"{req.split(b' ')[1]!r} was answered {status!r}: {body[:300]!r}")
            if bodies is not None:
                bodies[req] = body
    finally:
        writer.close()


def _load(what: str, host: str, port: int, per_client: list[list[bytes]],
          bodies: dict[bytes, bytes] | None = None) -> Latency:
    latencies: list[float] = []

    async def all_clients() -> None:
        await asyncio.gather(*(_client(host, port, reqs, latencies, bodies) for reqs in per_client))

    t0 = time.perf_counter()
    asyncio.run(all_clients())
    return Latency(what, tuple(latencies), time.perf_counter() - t0)


def run(server_url: str, *, sites: int = 200, weeks: int = 52, raw_weeks: int = 2, clients: int = 20,
        requests: int = 25, scans: int = 5, log: Callable[[str], object] = print) -> ReadFigures:
    """``requests`` per client for each endpoint; ``scans`` sites for the baseline."""
    if min(sites, weeks, clients, requests, scans) < 1:
        raise ValueError("--sites, --weeks, --clients, --requests and --scans must be positive")
    host = "127.0.0.1"
    rnd = random.Random(7)
    zone = ZoneInfo(TZ)
    year_from = (END - timedelta(weeks=weeks)).astimezone(zone).date()
    # the first whole local day with raw readings (the hour before it holds copied rollups only)
    raw_from = (END - timedelta(weeks=raw_weeks)).astimezone(zone).date() + timedelta(days=1)
    last_day = (END - timedelta(hours=1)).astimezone(zone).date()
    with scratch_database(server_url, "read") as url:
        with psycopg.connect(url) as conn:
            log(f"generating {sites} sites x {weeks} weeks ...")
            build_data(conn, sites=sites, weeks=weeks, raw_weeks=raw_weeks, log=log)
            token = _viewer_token(conn)
            ids = [r[0] for r in conn.execute("SELECT id FROM sites ORDER BY id")]
            readings = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        port = _free_port()

        def reqs(path: str) -> list[list[bytes]]:
            return [[_get(host, port, token, path.format(site=rnd.choice(ids))) for _ in range(requests)]
                    for _ in range(clients)]

        log_path = Path(tempfile.gettempdir()) / f"fartkoll-bench-read-{os.getpid()}.log"
        server = _serve(url, port, 1, log_path)
        try:
            _wait_healthy(host, port, server, log_path)
            _load("warm-up", host, port, reqs(f"/api/v1/sites/{{site}}/stats?from={raw_from}")[:2])
            log(f"HTTP: {clients} clients x {requests} requests per endpoint ...")
            stats_year = _load(f"stats, {weeks} weeks", host, port,
                               reqs(f"/api/v1/sites/{{site}}/stats?from={year_from}&to={last_day}"))
            series_year = _load(f"series (daily), {weeks} weeks", host, port,
                                reqs(f"/api/v1/sites/{{site}}/series?from={year_from}&to={last_day}&step=day"))
            bodies: dict[bytes, bytes] = {}
            stats_raw = _load(f"stats, {raw_weeks} weeks", host, port,
                              reqs(f"/api/v1/sites/{{site}}/stats?from={raw_from}&to={last_day}"), bodies)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
        log("baseline: plain SQL over readings ...")
        scan_s = []
        agree = True
        with psycopg.connect(url, row_factory=dict_row) as conn:
            for req, body in list(bodies.items())[:scans]:
                site_id = int(req.split(b"/")[4])
                answer = json.loads(body)
                period = {k: datetime.fromisoformat(v) for k, v in answer["period"].items()}
                t = time.perf_counter()
                rows = conn.execute(QUERIES["figures_bench_scan"],
                                    {"site_id": site_id, "start": period["from"], "end": period["to"]}).fetchall()
                scan_s.append(time.perf_counter() - t)
                api_n = sum(g["n"] for g in answer["groups"])
                agree = agree and api_n == sum(r["n"] for r in rows)
    return ReadFigures(sites, weeks, raw_weeks, clients, readings, stats_year, series_year, stats_raw,
                       tuple(scan_s), agree)
