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

from planner.cellcache import refresh
from planner.load import Period
from planner.settings import PlannerSettings
from sql import QUERIES

from .api import _exchange, _free_port, _serve, _wait_healthy
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
    build_s: float
    fast_year_s: tuple[float, ...]
    plain_year_s: tuple[float, ...]
    fast_equals_plain: bool

    def report(self) -> str:
        scan = statistics.median(self.scan_raw_s) * 1000
        ratio = scan / self.stats_raw.q(50)
        fast = statistics.median(self.fast_year_s) * 1000
        plain = statistics.median(self.plain_year_s) * 1000
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
            f"  the cells job's first build of running totals and daily sums: {self.build_s:.1f} s",
            f"  in process, {self.weeks} weeks of one site's statistics: daily sums {fast:.1f} ms, every hourly rollup "
            f"summed {plain:.1f} ms ({plain / fast:.0f}x; medians of {len(self.fast_year_s)} sites); figures equal: "
            f"{'yes' if self.fast_equals_plain else 'NO'}",
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
            head, body = await _exchange(reader, writer, req)
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
            t = time.perf_counter()
            built = refresh(conn, PlannerSettings(), until=END)
            build_s = time.perf_counter() - t
            log(f"  running totals and daily sums (the cells job): {build_s:.1f} s, {built.days.day_rows:,} day rows")
            plain_s, fast_s, same = _in_process(conn, ids_of(conn)[:scans], END - timedelta(weeks=weeks), END)
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
                       tuple(scan_s), agree, build_s, tuple(fast_s), tuple(plain_s), same)


def ids_of(conn: psycopg.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM sites ORDER BY id")]


def _in_process(conn: psycopg.Connection, site_ids: list[int], start: datetime, end: datetime
                ) -> tuple[list[float], list[float], bool]:
    """A year of each site's statistics in this process (no HTTP), from the daily sums and by the
    plain summation of every hourly rollup: seconds of each, and whether the figures agree."""
    from planner.load import load_sites
    from planner.sitestats import figures, site_stats

    planner = PlannerSettings()
    sites = load_sites(conn)
    period = Period(start, end)
    plain, fast, same = [], [], True
    for sid in site_ids:
        t = time.perf_counter()
        a = figures(site_stats(conn, sites[sid], period, planner)).model_dump(mode="json")
        fast.append(time.perf_counter() - t)
        t = time.perf_counter()
        b = figures(site_stats(conn, sites[sid], period, planner, use_days=False)).model_dump(mode="json")
        plain.append(time.perf_counter() - t)
        same = same and _close(a, b)
    conn.rollback()
    return plain, fast, same


def _close(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b
