"""`fartkoll bench api`: sign uploads over HTTP beside the same batches through the write path.

Both sides get the same batches of keyed passes from the same number of concurrent clients, in
throw-away databases on the same server in the same run. The HTTP side runs `fartkoll serve` as
a separate process and loads it with a raw asyncio client that sends pre-encoded HTTP/1.1
requests over keep-alive connections (an HTTP library would cost more CPU than the server, on a
machine that the clients, the server and the database share). The direct side writes each batch
with ``write_passes`` and a commit from one thread per client.

During the HTTP run the CPU time of the server's processes, of the database's (when it runs on
this machine: every process of its cluster, so other work on the same cluster counts too) and of
the load generator are summed per pass: the machine's CPU a pass, and what the cores could carry
at that cost.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from psycopg.rows import dict_row

from collector.forward import INGEST_PATH, ingest_body
from collector.passes import Direction, VehiclePass, pass_key
from collector.store import write_passes
from collector.tokens import SIGN_PREFIX, hash_token, new_token
from sql import QUERIES

from ..serve import default_workers
from .scratch import scratch_database


@dataclass(frozen=True)
class Side:
    """One side's run: passes stored, seconds, request latencies (HTTP only)."""

    passes: int
    seconds: float
    latencies_s: tuple[float, ...] = ()
    transactions: int = 0
    server_cpu_s: float = float("nan")  # CPU seconds of the server's processes during the run (HTTP only)
    database_cpu_s: float = float("nan")  # CPU seconds of the database's processes meanwhile (NaN: not local)
    client_cpu_s: float = float("nan")  # CPU seconds of the load generator (this process) meanwhile

    @property
    def rate(self) -> float:
        return self.passes / self.seconds

    @property
    def per_transaction(self) -> float:
        return self.passes / self.transactions if self.transactions else float("nan")

    @property
    def cpu_us_per_pass(self) -> float:
        return self.server_cpu_s / self.passes * 1e6 if self.passes else float("nan")

    def us_per_pass(self, cpu_s: float) -> float:
        return cpu_s / self.passes * 1e6 if self.passes else float("nan")

    @property
    def machine_us_per_pass(self) -> float:
        """Server, database and clients together: the machine's CPU a pass."""
        return self.us_per_pass(self.server_cpu_s + self.database_cpu_s + self.client_cpu_s)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_s, q)) * 1000 if self.latencies_s else float("nan")


@dataclass(frozen=True)
class ApiFigures:
    clients: int
    batch: int
    server: str
    http: Side
    direct: Side
    load: float = float("nan")  # the 1-minute load average before the run (the machine may be shared)

    def report(self) -> str:
        ratio = self.http.rate / self.direct.rate
        http, direct = self.http, self.direct
        return "\n".join([
            f"{self.clients} clients, batches of {self.batch} passes; server: {self.server}",
            (f"HTTP ingest (POST {INGEST_PATH}):  {http.rate:>10,.0f} passes/s  "
             f"({http.passes:,} in {http.seconds:.1f} s; goal >= 50,000)"),
            (f"write path direct ({self.clients} threads):          {direct.rate:>10,.0f} passes/s  "
             f"({direct.passes:,} in {direct.seconds:.1f} s)"),
            f"ratio HTTP / direct:                      {ratio:>10.2f}  (goal >= 0.5)",
            f"HTTP request latency p50 / p99:           {http.percentile(50):>7.1f} / {http.percentile(99):.1f} ms",
            f"passes per transaction (HTTP / direct):   {http.per_transaction:>7.0f} / {direct.per_transaction:.0f}",
            (f"server CPU per pass:                      {http.cpu_us_per_pass:>7.1f} µs  "
             f"({http.server_cpu_s:.1f} CPU s in {http.seconds:.1f} s; load average {self.load:.2f} before)"),
            (f"database / clients CPU per pass:          {http.us_per_pass(http.database_cpu_s):>7.1f} / "
             f"{http.us_per_pass(http.client_cpu_s):.1f} µs  (the database's processes, this load generator)"),
            (f"machine CPU per pass (all three):         {http.machine_us_per_pass:>7.1f} µs  "
             f"(on {os.cpu_count()} cores at most {os.cpu_count() * 1e6 / http.machine_us_per_pass:,.0f} passes/s "
             f"at this cost)"),
        ])


def _signs(conn: psycopg.Connection, clients: int) -> list[tuple[str, int, str]]:
    """(serial, sign id, token) of one sign per client, each deployed at a site of its own (as 50
    signs in a town are: one site's rollup rows are then written by one client, not by all)."""
    site = conn.execute(QUERIES["bench_site"]).fetchone()[0]
    out = []
    for c in range(clients):
        serial, token = f"BENCH-{c:03d}", new_token(SIGN_PREFIX)
        sign_id = conn.execute(QUERIES["bench_api_sign"], {"serial": serial, "site_id": site,
                                                           "token_hash": hash_token(token)}).fetchone()[0]
        out.append((serial, sign_id, token))
    conn.commit()
    return out


def _batches(client: int, n: int, size: int, sign_id: int | None) -> list[list[VehiclePass]]:
    """``n`` batches of ``size`` keyed passes of one client over the last 28 days."""
    rng = np.random.default_rng(client)
    total = n * size
    now = datetime.now(UTC) - timedelta(minutes=5)
    secs = np.sort(rng.uniform(0, 28 * 86400, total))[::-1]
    speeds = np.round(rng.lognormal(np.log(45), 0.18, total), 1)
    dirs = rng.integers(1, 3, total)
    passes = [VehiclePass(now - timedelta(seconds=float(s)), float(v), Direction(int(d)), sign_id=sign_id,
                          key=pass_key("bench-api", client, i))
              for i, (s, v, d) in enumerate(zip(secs, speeds, dirs, strict=True))]
    return [passes[i:i + size] for i in range(0, total, size)]


def _request(host: str, port: int, token: str, serial: str, passes: list[VehiclePass]) -> bytes:
    body = json.dumps(ingest_body(uuid.uuid4(), serial, passes), separators=(",", ":")).encode()
    head = (f"POST {INGEST_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[bytes, bytes]:
    """One pre-encoded HTTP/1.1 request on a keep-alive connection: the answer's head and body
    (read by its Content-Length)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return head, await reader.readexactly(length)


async def _client(host: str, port: int, requests: list[bytes], size: int, until: float,
                  latencies: list[float]) -> int:
    """Send ``requests`` one after another on one keep-alive connection until ``until``."""
    reader, writer = await asyncio.open_connection(host, port)
    stored = 0
    try:
        for req in requests:
            if time.perf_counter() >= until:
                break
            t = time.perf_counter()
            head, body = await _exchange(reader, writer, req)
            latencies.append(time.perf_counter() - t)
            if not head.startswith(b"HTTP/1.1 200"):
                status = head.split(b"\r\n", 1)[0]
                raise RuntimeError(f"the server answered {status!r}: {body[:300]!r}")
            answer = json.loads(body)
            if answer["accepted"] != size:
                raise RuntimeError(f"a batch of {size} new passes was answered {answer}")
            stored += answer["accepted"]
    finally:
        writer.close()
    return stored


async def _load(host: str, port: int, per_client: list[list[bytes]], size: int, seconds: float) -> Side:
    latencies: list[float] = []
    t0 = time.perf_counter()
    counts = await asyncio.gather(*(_client(host, port, reqs, size, t0 + seconds, latencies) for reqs in per_client))
    return Side(sum(counts), time.perf_counter() - t0, tuple(latencies))


def _serve(url: str, port: int, workers: int, log_path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("FARTKOLL_CONFIG", "FARTKOLL_DATABASE_URL")}
    env["DATABASE_URL"] = url
    cmd = [sys.executable, "-m", "fartkoll.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers)]
    return subprocess.Popen(cmd, env=env, stdout=log_path.open("ab"), stderr=subprocess.STDOUT)


def _wait_healthy(host: str, port: int, proc: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not become healthy within {timeout:g} s:\n{log_path.read_text()[-2000:]}")


def _direct(url: str, clients: list[list[list[VehiclePass]]], seconds: float) -> Side:
    stored = [0] * len(clients)
    errors: list[Exception] = []
    start = threading.Barrier(len(clients) + 1)
    until = [0.0]

    def work(c: int) -> None:
        try:
            with psycopg.connect(url) as conn:
                start.wait()
                for batch in clients[c]:
                    if time.perf_counter() >= until[0]:
                        break
                    stored[c] += write_passes(conn, batch).inserted
                    conn.commit()
        except Exception as e:  # noqa: BLE001 - re-raised after the run, in the calling thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c,)) for c in range(len(clients))]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    until[0] = t0 + seconds
    start.wait()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"the direct write path failed: {errors[0]!r}") from errors[0]
    return Side(sum(stored), time.perf_counter() - t0)


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants (Linux /proc; NaN
    where the process cannot be read). Each process counts its own time and that of the children
    it has reaped (``cutime``, ``cstime``), so a backend that exits between two readings (its time
    passes to the database's main process) is neither lost nor read as a fall; a descendant that
    vanishes while the tree is walked is skipped."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo, root = 0.0, [pid], True
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / tick  # utime, stime, cutime, cstime
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            if root:
                return math.nan
        root = False
    return total


def _database_pid(url: str) -> int | None:
    """The database server's main process (whose children are its backends), if it runs on this
    machine; None otherwise."""
    with psycopg.connect(url) as conn:  # read /proc while the backend lives (it exits with the connection)
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        try:
            parent = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
            return parent if "postgres" in Path(f"/proc/{parent}/comm").read_text() else None
        except (FileNotFoundError, ProcessLookupError, ValueError):
            return None


def _own_cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _checked(url: str, side: Side, what: str) -> Side:
    """``side`` with the transactions that stored it, once the database holds exactly what it acknowledged."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        row = conn.execute(QUERIES["bench_api_counts"]).fetchone()
    if row["readings"] != side.passes or row["rolled"] != side.passes:
        raise RuntimeError(f"{what}: {row['readings']:,} readings and {row['rolled']:,} in rollups, "
                           f"but {side.passes:,} passes were acknowledged: the figures would be wrong")
    return replace(side, transactions=row["transactions"])


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(server_url: str, clients: int = 50, batch: int = 100, seconds: float = 10.0, workers: int | None = None,
        expected_rate: float = 100_000, log=print) -> ApiFigures:
    """Run both sides for ``seconds`` each; ``expected_rate`` (passes/s) sizes the pre-made batches;
    ``workers``: server processes (default: as ``fartkoll serve``, one per core)."""
    workers = workers or default_workers()
    load = os.getloadavg()[0]
    per_client = max(2, int(expected_rate * seconds / clients / batch) + 1)
    host = "127.0.0.1"
    with scratch_database(server_url, "api_direct") as direct_url:
        with psycopg.connect(direct_url) as conn:
            signs = _signs(conn, clients)
        log(f"direct: {clients} threads, {per_client} batches of {batch} each at most ...")
        work = [_batches(c, per_client, batch, sign_id) for c, (_, sign_id, _) in enumerate(signs)]
        direct = _checked(direct_url, _direct(direct_url, work, seconds), "direct write path")
    del work
    with scratch_database(server_url, "api_http") as http_url:
        with psycopg.connect(http_url) as conn:
            signs = _signs(conn, clients)
        port = _free_port()
        log(f"encoding {clients} x {per_client} requests of {batch} passes ...")
        requests = [[_request(host, port, token, serial, b) for b in _batches(c, per_client, batch, None)]
                    for c, (serial, _, token) in enumerate(signs)]
        log_path = Path(tempfile.gettempdir()) / f"fartkoll-bench-api-{os.getpid()}.log"
        server = _serve(http_url, port, workers, log_path)
        try:
            _wait_healthy(host, port, server, log_path)
            log(f"HTTP: {clients} clients ...")
            db_pid = _database_pid(http_url)
            cpu0, db0, own0 = _tree_cpu_s(server.pid), _tree_cpu_s(db_pid) if db_pid else float("nan"), _own_cpu_s()
            http = asyncio.run(_load(host, port, requests, batch, seconds))
            http = replace(http, server_cpu_s=_tree_cpu_s(server.pid) - cpu0, client_cpu_s=_own_cpu_s() - own0,
                           database_cpu_s=(_tree_cpu_s(db_pid) - db0) if db_pid else float("nan"))
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
        http = _checked(http_url, http, "HTTP ingest")
    what = "fartkoll serve (1 process)" if workers == 1 else f"fartkoll serve --workers {workers}"
    return ApiFigures(clients, batch, what, http, direct, load)
