"""`fartkoll bench ingest`: the write path (with rollups) against `psql \\copy` and `executemany`.

All three load the same rows into the same server in one run, so the ratios hold on a noisy,
shared machine even when the absolute rates move.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import psycopg

from collector.passes import Direction, Display, VehiclePass, pass_key
from collector.store import write_passes
from sql import QUERIES

from .scratch import scratch_database

T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
DAYS = 28


@dataclass(frozen=True)
class IngestFigures:
    rows: int
    write_path_s: float
    copy_s: float
    executemany_rows: int
    executemany_s: float
    executemany_dedup_s: float
    resend_rows: int = 0
    resend_s: float = float("nan")

    @property
    def write_path_rate(self) -> float:
        return self.rows / self.write_path_s

    @property
    def copy_rate(self) -> float:
        return self.rows / self.copy_s

    @property
    def executemany_rate(self) -> float:
        return self.executemany_rows / self.executemany_s

    @property
    def executemany_dedup_rate(self) -> float:
        return self.executemany_rows / self.executemany_dedup_s

    def report(self) -> str:
        wp, cp, em, ed = self.write_path_rate, self.copy_rate, self.executemany_rate, self.executemany_dedup_rate
        return "\n".join([
            f"rows: {self.rows:,} vehicle passes (executemany baselines: {self.executemany_rows:,})",
            f"write path (checks, keys, COPY, hourly rollups):    {wp:>10,.0f} rows/s  ({self.write_path_s:.2f} s)",
            f"write path, batches re-sent (all duplicates):       {self.resend_rows / self.resend_s:>10,.0f} rows/s  ({self.resend_s:.2f} s for {self.resend_rows:,})",
            f"psql \\copy (CSV) into a bare hypertable:           {cp:>10,.0f} rows/s  ({self.copy_s:.2f} s)",
            f"executemany INSERT into a bare hypertable:          {em:>10,.0f} rows/s  ({self.executemany_s:.2f} s)",
            f"executemany INSERT .. ON CONFLICT into readings copy: {ed:>8,.0f} rows/s  ({self.executemany_dedup_s:.2f} s)",
            f"ratio write path / \\copy:                            {wp / cp:.2f}  (goal >= 0.5)",
            f"ratio write path / executemany (bare):               {wp / em:.1f}  (goal >= 5)",
            f"ratio write path / executemany (dedup, like readings): {wp / ed:.1f}",
        ])


def make_passes(n: int, site_id: int, seed: int = 1) -> list[VehiclePass]:
    """n keyed passes spread over DAYS (28) days, speeds around 45 km/h."""
    rng = np.random.default_rng(seed)
    secs = np.sort(rng.uniform(0, DAYS * 86400, n))
    speeds = np.round(rng.lognormal(np.log(45), 0.18, n), 1)
    dirs = rng.integers(1, 3, n)
    return [
        VehiclePass(T0 + timedelta(seconds=float(s)), float(v), Direction(int(d)), site_id=site_id,
                    display=Display.STEALTH, key=pass_key("bench", i))
        for i, (s, v, d) in enumerate(zip(secs, speeds, dirs, strict=False))
    ]


def run(server_url: str, rows: int = 1_000_000, batch: int = 50_000, executemany_rows: int = 200_000,
        log=print) -> IngestFigures:
    psql = shutil.which("psql")
    if psql is None:
        raise RuntimeError("psql is needed for the \\copy baseline: apt-get install postgresql-client")
    with scratch_database(server_url, "ingest") as url, psycopg.connect(url) as conn:
        site = conn.execute(QUERIES["bench_site"]).fetchone()[0]
        conn.execute(QUERIES["bench_bare_create"])
        conn.commit()
        log(f"generating {rows:,} passes ...")
        passes = make_passes(rows, site)

        # made, not received: the passes count as received at the end of their period if that is
        # later than now, so the plausible-time rule accepts all of them
        received = max(datetime.now(UTC), T0 + timedelta(days=DAYS))
        log("write path ...")
        t = time.perf_counter()
        stored = 0
        for i in range(0, rows, batch):
            res = write_passes(conn, passes[i:i + batch], received=received)
            conn.commit()
            stored += res.inserted
        write_s = time.perf_counter() - t
        if stored != rows:
            raise RuntimeError(f"write path stored {stored:,} of {rows:,} rows")
        log("write path, re-sent batches ...")
        resend = passes[:executemany_rows]
        t = time.perf_counter()
        for i in range(0, len(resend), batch):
            res = write_passes(conn, resend[i:i + batch], received=received)
            conn.commit()
            if res.inserted:
                raise RuntimeError(f"a re-sent batch stored {res.inserted:,} passes again")
        resend_s = time.perf_counter() - t

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "rows.csv"
            with path.open("w", newline="") as f:
                w = csv.writer(f)
                for p in passes:
                    w.writerow((p.time.isoformat(), p.site_id, int(p.direction), p.speed_kmh, int(p.display), p.key))
            log("psql \\copy ...")
            t = time.perf_counter()
            subprocess.run(
                [psql, url, "-q", "-v", "ON_ERROR_STOP=1", "-c",
                 f"\\copy bench_bare (time, site_id, direction, speed_kmh, display, idem_key) FROM '{path}' CSV"],
                check=True, capture_output=True,
            )
            copy_s = time.perf_counter() - t
        _expect_rows(conn, "bench_bare", rows)

        conn.execute(QUERIES["bench_bare_truncate"])
        conn.execute(QUERIES["bench_like_create"])
        conn.commit()
        sample = [(p.time, p.site_id, int(p.direction), p.speed_kmh, int(p.display), p.key)
                  for p in passes[:executemany_rows]]
        log("executemany ...")
        em_s = _timed_executemany(conn, "bench_bare", QUERIES["bench_bare_insert"], sample)
        ed_s = _timed_executemany(conn, "bench_like", QUERIES["bench_like_insert"], sample)
        return IngestFigures(rows, write_s, copy_s, len(sample), em_s, ed_s, len(resend), resend_s)


def _timed_executemany(conn: psycopg.Connection, table: str, query: str, rows: list[tuple]) -> float:
    """Seconds to insert ``rows`` with one executemany and commit; checks they all arrived."""
    t = time.perf_counter()
    with conn.cursor() as cur:
        cur.executemany(query, rows)
    conn.commit()
    seconds = time.perf_counter() - t
    _expect_rows(conn, table, len(rows))
    return seconds


def _expect_rows(conn: psycopg.Connection, table: str, n: int) -> None:
    from psycopg import sql

    got = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
    if got != n:
        raise RuntimeError(f"baseline table {table} holds {got:,} rows, expected {n:,}: the figures would be wrong")
