"""Helpers for collector tests that stop things: a private TimescaleDB cluster, a collector
subprocess (`fartkoll collector run`) and a simulated sign fed in phases."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from servers import free_port

from collector.encode import ENCODERS, SimVehicle
from collector.passes import Direction


def wait_until(predicate, timeout: float = 30.0, what: str = "condition", log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tail = "" if log is None or not log.exists() else "\ncollector log:\n" + log.read_text()[-3000:]
            raise AssertionError(f"{what} not met within {timeout} s{tail}")
        time.sleep(0.05)


def count(url: str, query: str = "SELECT count(*) FROM readings") -> int:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            return conn.execute(query).fetchone()[0] or 0
    except psycopg.OperationalError:
        return -1


def spooled_ever(spool_path: Path) -> int:
    """How many passes the spool file ever took (its AUTOINCREMENT counter)."""
    if not spool_path.exists():
        return 0
    db = sqlite3.connect(f"file:{spool_path}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'spool'").fetchone()
        return row[0] if row else 0
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def write_config(path: Path, spool: Path, sources: list[dict], **collector: object) -> Path:
    """A TOML settings file with a [collector] section and its sources."""
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        return repr(v) if isinstance(v, (int, float)) else '"' + str(v).replace('"', '\\"') + '"'

    settings = dict(spool_path=str(spool), batch_size=5, max_batch_age_s=0.2, sink_backoff_min_s=0.1,
                    sink_backoff_max_s=0.5, reopen_backoff_min_s=0.05, read_timeout_s=0.05,
                    heartbeat_interval_s=0.5)
    settings.update(collector)
    lines = ["[collector]"] + [f"{k} = {value(v)}" for k, v in settings.items()]
    for src in sources:
        lines.append("[[collector.sources]]")
        lines += [f"{k} = {value(v)}" for k, v in src.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class CollectorProcess:
    """`fartkoll collector run --config FILE` as a subprocess against ``database_url``."""

    def __init__(self, config: Path, database_url: str, log: Path, *extra_args: str) -> None:
        env = {k: v for k, v in os.environ.items()
               if k not in ("FARTKOLL_CONFIG", "FARTKOLL_DATABASE_URL")}
        env["DATABASE_URL"] = database_url
        self.log = log
        self._log_file = open(log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fartkoll.cli", "collector", "run", "--config", str(config), *extra_args],
            env=env, stdout=self._log_file, stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1])

    def holds(self, path: str) -> bool:
        """True when the process has ``path`` open (the pty slave)."""
        try:
            fds = os.listdir(f"/proc/{self.proc.pid}/fd")
        except FileNotFoundError:
            return False
        for fd in fds:
            try:
                if os.readlink(f"/proc/{self.proc.pid}/fd/{fd}") == path:
                    return True
            except OSError:
                continue
        return False

    def wait_holding(self, *paths: str, timeout: float = 20.0) -> None:
        wait_until(lambda: all(self.holds(p) for p in paths) or self.proc.poll() is not None,
                   timeout, f"collector opened {paths}", self.log)
        assert self.proc.poll() is None, "collector exited:\n" + self.log.read_text()[-3000:]
        time.sleep(0.5)  # pyserial flushes its input just after opening

    def stop(self, timeout: float = 20.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL
        self.wait(10)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            self._log_file.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class PhasedFeed:
    """Chunks for ``SimulatedSign`` that the test releases when it wants; all sent at once."""

    def __init__(self) -> None:
        self._q: queue.Queue[bytes | None] = queue.Queue()

    def send(self, *chunks: bytes) -> None:
        for c in chunks:
            self._q.put(c)

    def close(self) -> None:
        self._q.put(None)

    def __iter__(self) -> Iterator[tuple[float, bytes]]:
        deadline = time.monotonic() + 120  # a test that forgot to close must not hang the sign
        while time.monotonic() < deadline:
            try:
                chunk = self._q.get(timeout=0.1)
            except queue.Empty:
                continue
            if chunk is None:
                return
            yield 0.0, chunk  # offsets all 0: written as soon as released


def ops_vehicle_lines(speeds_mps: list[float]) -> list[bytes]:
    """OPS243 vehicle-mode lines (m/s), approaching and receding in turn."""
    spec = ENCODERS["ops-vehicle"]
    out = []
    for i, v in enumerate(speeds_mps):
        d = Direction.APPROACHING if i % 2 == 0 else Direction.RECEDING
        out.append(spec.encode(v, d, SimVehicle(0.0, v * 3.6, d), "mps"))
    return out


def _skip_reason() -> str | None:
    if os.environ.get("DATABASE_URL") or os.environ.get("FARTKOLL_DATABASE_URL"):
        return "DATABASE_URL is set: the private cluster needs the embedded local TimescaleDB root"
    if os.geteuid() != 0:
        return "a private TimescaleDB cluster needs root (chroot into the local root)"
    from fartkoll import localdb
    from fartkoll.settings import Settings

    if not localdb.status(Settings.load().localdb).root_ready:
        return "the local TimescaleDB root is not installed (run `fartkoll db up`)"
    return None


@contextmanager
def private_cluster() -> Iterator[tuple[object, str]]:
    """A new, started, migrated cluster of our own (skips when one cannot be made).

    Yields the cluster (``stop()``, ``start()``) and the URL of its migrated database.
    """
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from fartkoll import localdb
    from fartkoll.settings import Settings
    from sql.migrate import migrate

    cluster = localdb.scratch_cluster(Settings.load().localdb, f"test-{os.getpid()}", free_port())
    try:
        cluster.start()
        with psycopg.connect(cluster.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE fartkoll")
        url = cluster.url("fartkoll")
        with psycopg.connect(url) as conn:
            migrate(conn)
        yield cluster, url
    finally:
        cluster.destroy()
