"""`fartkoll bench read`: latency of the read endpoints over HTTP beside a plain scan of readings.

The planner benchmark's generator writes ``sites`` sites with ``weeks`` weeks of hourly rollups
(raw readings for the latest ``raw_weeks`` weeks, older rollups are shifted copies). The first
``scans`` sites also get raw readings for the whole period (the same shifted copies), so the
baseline covers the same year: one plain SQL aggregate over ``readings`` (n, mean, V85 by
``percentile_disc``, share over the limit per direction × display), one site at a time. A
`fartkoll serve` process (``workers`` > 1: uvicorn with that many processes) answers ``clients``
concurrent keep-alive clients asking for random sites' statistics (``/sites/{id}/stats``) and
daily series (``/sites/{id}/series``) over the whole period, then one client alone asks for
statistics (the service time without queueing). Every client first sends ``WARM_UP`` requests
to each endpoint (each pooled connection then has its statements prepared and generically
planned). Each load also reports the CPU time the server's processes and the clients spent per
request, and the load average. The endpoint's p50 and p99 are compared with the scan's median;
the vehicle counts of the endpoint and the scan are checked to agree for every scan site.
"""

from __future__ import annotations

import asyncio
import json
import math
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

from .api import _database_pid, _exchange, _free_port, _serve, _tree_cpu_s, _wait_healthy
from .planner import END, TZ, build_data
from .scratch import scratch_database

WARM_UP = 6
"""Requests per client for each endpoint before the measured ones."""


@dataclass(frozen=True)
class Latency:
    what: str
    seconds: tuple[float, ...]
    wall_s: float
    client_cpu_s: float = 0.0
    """CPU time the load generator (this process) spent, all clients together."""
    server_cpu_s: float = math.nan
    """CPU time the server's processes spent meanwhile (NaN: not known on this system)."""
    database_cpu_s: float = math.nan
    """CPU time the database server's processes spent meanwhile (NaN: not on this machine)."""

    def cpu_ms(self) -> float:
        """Server, database and client CPU a request, ms (NaN where a part is not known)."""
        return (self.server_cpu_s + self.database_cpu_s + self.client_cpu_s) / len(self.seconds) * 1000

    def q(self, p: float) -> float:
        return float(np.percentile(np.array(self.seconds), p)) * 1000

    def line(self) -> str:
        n = len(self.seconds)
        return (f"  {self.what:<40} p50 {self.q(50):7.1f} ms  p99 {self.q(99):7.1f} ms  "
                f"({n} requests, {n / self.wall_s:.0f}/s; CPU a request: server {self.server_cpu_s / n * 1000:.1f} ms, "
                f"database {self.database_cpu_s / n * 1000:.1f} ms, client {self.client_cpu_s / n * 1000:.2f} ms)")


@dataclass(frozen=True)
class ReadFigures:
    sites: int
    weeks: int
    raw_weeks: int
    clients: int
    workers: int
    readings: int
    day_rows: int
    stats_year: Latency
    series_year: Latency
    stats_alone: Latency
    floor: Latency
    """``/api/v1/me`` under the same clients: an authenticated request that reads no figures."""
    scan_year_s: tuple[float, ...]
    counts_agree: bool
    build_s: float
    fast_year_s: tuple[float, ...]
    plain_year_s: tuple[float, ...]
    fast_equals_plain: bool
    load: tuple[float, float] = (math.nan, math.nan)
    """The machine's 1-minute load average as the HTTP clients started and as they stopped."""

    def report(self) -> str:
        scan = statistics.median(self.scan_year_s) * 1000
        fast = statistics.median(self.fast_year_s) * 1000
        plain = statistics.median(self.plain_year_s) * 1000
        p50, p99 = self.stats_year.q(50), self.stats_year.q(99)
        server = "1 server process" if self.workers == 1 else f"{self.workers} server processes"
        return "\n".join([
            f"fartkoll bench read: {self.sites} sites x {self.weeks} weeks of hourly rollups, "
            f"{self.readings:,} raw readings ({self.raw_weeks} weeks of every site, {self.weeks} weeks of "
            f"{len(self.scan_year_s)} scan sites), {self.day_rows:,} day rows; {self.clients} HTTP clients, {server}; "
            f"load average (1 min) {self.load[0]:.1f} as the clients started, {self.load[1]:.1f} as they stopped",
            self.stats_year.line(),
            self.series_year.line(),
            self.stats_alone.line(),
            self.floor.line(),
            f"  {'plain SQL over readings, ' + str(self.weeks) + ' weeks':<40} median {scan:7.1f} ms  "
            f"(min {min(self.scan_year_s) * 1000:.1f}, max {max(self.scan_year_s) * 1000:.1f}; "
            f"{len(self.scan_year_s)} sites, one at a time)",
            f"  statistics endpoint vs the scan, same {self.weeks} weeks: {scan / p50:.1f}x faster at p50, "
            f"{scan / p99:.1f}x at p99 (against the scan's median); one request at a time: "
            f"{scan / self.stats_alone.q(50):.1f}x at p50",
            f"  goals: p99 < 50 ms for a year of statistics: {'met' if p99 < 50 else 'NOT met'}; "
            f">= 50x the scan (p50): {'met' if scan / p50 >= 50 else 'NOT met'}",
            self._ceiling(),
            f"  vehicle counts of endpoint and scan agree: {'yes' if self.counts_agree else 'NO'}",
            f"  the cells job's first build of running totals and daily sums: {self.build_s:.1f} s",
            f"  in process, {self.weeks} weeks of one site's statistics: running totals {fast:.1f} ms, every hourly rollup "
            f"summed {plain:.1f} ms ({plain / fast:.0f}x; medians of {len(self.fast_year_s)} sites); figures equal: "
            f"{'yes' if self.fast_equals_plain else 'NO'}",
        ])


    def _ceiling(self) -> str:
        """What the machine's cores allow: with every core busy, ``clients`` requests in flight
        wait at least clients × CPU a request / cores each (Little's law)."""
        cores = os.cpu_count() or 1
        stats, floor = self.stats_year.cpu_ms(), self.floor.cpu_ms()
        if math.isnan(stats) or math.isnan(floor):
            return "  CPU ceiling: not known (the server or the database is not a process on this machine)"
        return (f"  CPU a request, server + database + client: statistics {stats:.1f} ms, /me {floor:.1f} ms; "
                f"on {cores} cores {self.clients} clients wait at least {self.clients * stats / cores:.0f} ms "
                f"a statistics request and {self.clients * floor / cores:.0f} ms a /me request; p99 < 50 ms "
                f"needs at most {50 * cores / self.clients:.1f} ms of CPU a request")


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
          bodies: dict[bytes, bytes] | None = None, server_pid: int | None = None,
          database_pid: int | None = None) -> Latency:
    latencies: list[float] = []

    async def all_clients() -> None:
        await asyncio.gather(*(_client(host, port, reqs, latencies, bodies) for reqs in per_client))

    server0 = _tree_cpu_s(server_pid) if server_pid else math.nan
    database0 = _tree_cpu_s(database_pid) if database_pid else math.nan
    t0, cpu0 = time.perf_counter(), time.process_time()
    asyncio.run(all_clients())
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    server = _tree_cpu_s(server_pid) - server0 if server_pid else math.nan
    database = _tree_cpu_s(database_pid) - database0 if database_pid else math.nan
    return Latency(what, tuple(latencies), wall, cpu, server, database)


def run(server_url: str, *, sites: int = 200, weeks: int = 52, raw_weeks: int = 2, clients: int = 20,
        requests: int = 25, scans: int = 5, workers: int = 1, log: Callable[[str], object] = print) -> ReadFigures:
    """``requests`` per client for each endpoint; ``scans`` sites get a year of raw readings for
    the baseline; ``workers`` server processes."""
    if min(sites, weeks, clients, requests, scans, workers) < 1:
        raise ValueError("--sites, --weeks, --clients, --requests, --scans and --workers must be positive")
    if scans > sites:
        raise ValueError(f"--scans ({scans}) must not exceed --sites ({sites})")
    host = "127.0.0.1"
    rnd = random.Random(7)
    zone = ZoneInfo(TZ)
    year_from = (END - timedelta(weeks=weeks)).astimezone(zone).date()
    last_day = (END - timedelta(hours=1)).astimezone(zone).date()
    raw_start = END - timedelta(weeks=raw_weeks)
    with scratch_database(server_url, "read") as url:
        with psycopg.connect(url) as conn:
            log(f"generating {sites} sites x {weeks} weeks ...")
            build_data(conn, sites=sites, weeks=weeks, raw_weeks=raw_weeks, log=log)
            ids = ids_of(conn)
            scan_ids = ids[:scans]
            t = time.perf_counter()
            for k in range(1, weeks // raw_weeks):
                conn.execute(QUERIES["figures_bench_year_readings"],
                             {"k": k * raw_weeks // 2, "site_ids": scan_ids, "start": raw_start, "end": END})
                conn.commit()
            conn.execute("ANALYZE readings")
            conn.commit()
            log(f"  {weeks} weeks of raw readings for {scans} scan sites: {time.perf_counter() - t:.0f} s")
            t = time.perf_counter()
            built = refresh(conn, PlannerSettings(), until=END)
            build_s = time.perf_counter() - t
            log(f"  running totals and daily sums (the cells job): {build_s:.1f} s, {built.days.day_rows:,} day rows")
            plain_s, fast_s, same = _in_process(conn, scan_ids, END - timedelta(weeks=weeks), END)
            token = _viewer_token(conn)
            readings = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        port = _free_port()

        def reqs(path: str) -> list[list[bytes]]:
            return [[_get(host, port, token, path.format(site=rnd.choice(ids))) for _ in range(requests)]
                    for _ in range(clients)]

        year = f"from={year_from}&to={last_day}"
        log_path = Path(tempfile.gettempdir()) / f"fartkoll-bench-read-{os.getpid()}.log"
        db_pid = _database_pid(url)
        server = _serve(url, port, workers, log_path)
        try:
            _wait_healthy(host, port, server, log_path)
            # every client a few requests first, so that each pooled connection of each server
            # process has its statements prepared with generic plans (PostgreSQL plans a prepared
            # statement anew for its first 5 executions): the measured figures are a running
            # server's, not its first minute's
            warm = [r[:WARM_UP] for r in reqs(f"/api/v1/sites/{{site}}/stats?{year}")]
            _load("warm-up", host, port, warm)
            _load("warm-up", host, port, [r[:WARM_UP] for r in reqs(f"/api/v1/sites/{{site}}/series?{year}&step=day")])
            log(f"HTTP: {clients} clients x {requests} requests per endpoint ...")
            load_start = os.getloadavg()[0]
            pids = {"server_pid": server.pid, "database_pid": db_pid}
            stats_year = _load(f"stats, {weeks} weeks", host, port, reqs(f"/api/v1/sites/{{site}}/stats?{year}"), **pids)
            series_year = _load(f"series (daily), {weeks} weeks", host, port,
                                reqs(f"/api/v1/sites/{{site}}/series?{year}&step=day"), **pids)
            stats_alone = _load(f"stats, {weeks} weeks, 1 client", host, port,
                                reqs(f"/api/v1/sites/{{site}}/stats?{year}")[:1], **pids)
            _load("warm-up", host, port, [r[:WARM_UP] for r in reqs("/api/v1/me")])
            floor = _load("/me (reads no figures)", host, port, reqs("/api/v1/me"), **pids)
            load_end = os.getloadavg()[0]
            bodies: dict[bytes, bytes] = {}
            _load("scan sites", host, port,
                  [[_get(host, port, token, f"/api/v1/sites/{s}/stats?{year}") for s in scan_ids]], bodies)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
        log(f"baseline: plain SQL over {weeks} weeks of readings, {scans} sites one at a time ...")
        scan_s = []
        agree = True
        with psycopg.connect(url, row_factory=dict_row) as conn:
            for req, body in bodies.items():
                site_id = int(req.split(b"/")[4])
                answer = json.loads(body)
                period = {k: datetime.fromisoformat(v) for k, v in answer["period"].items()}
                t = time.perf_counter()
                rows = conn.execute(QUERIES["figures_bench_scan"],
                                    {"site_id": site_id, "start": period["from"], "end": period["to"]}).fetchall()
                scan_s.append(time.perf_counter() - t)
                api_n = sum(g["n"] for g in answer["groups"])
                agree = agree and api_n == sum(r["n"] for r in rows) > 0
    return ReadFigures(sites, weeks, raw_weeks, clients, workers, readings, built.days.day_rows, stats_year,
                       series_year, stats_alone, floor, tuple(scan_s), agree, build_s, tuple(fast_s), tuple(plain_s), same,
                       (load_start, load_end))


def ids_of(conn: psycopg.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM sites ORDER BY id")]


def _in_process(conn: psycopg.Connection, site_ids: list[int], start: datetime, end: datetime
                ) -> tuple[list[float], list[float], bool]:
    """A year of each site's statistics in this process (no HTTP), from the running totals and by
    the plain summation of every hourly rollup: seconds of each, and whether the figures agree."""
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
