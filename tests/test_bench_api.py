"""The HTTP ingest benchmark runs end to end on a small load (figures are printed, not asserted)."""

import math
import os
import subprocess
import sys
from pathlib import Path

from fartkoll.bench.api import ApiFigures, _batches, _tree_cpu_s, run


def test_bench_api_stores_what_each_side_acknowledged(server_url):
    logged: list[str] = []
    figures = run(server_url, clients=4, batch=50, seconds=1.0, expected_rate=20_000, log=logged.append)
    assert isinstance(figures, ApiFigures)
    # run() itself checks that each database holds exactly the acknowledged passes and rollups
    assert figures.http.passes > 0 and figures.http.passes % 50 == 0
    assert figures.direct.passes > 0 and figures.direct.passes % 50 == 0
    assert len(figures.http.latencies_s) >= figures.http.passes // 50
    text = figures.report()
    for label in ("HTTP ingest", "write path direct", "ratio HTTP / direct", "p50 / p99", "fartkoll serve",
                  "database / clients CPU per pass", "machine CPU per pass"):
        assert label in text
    # the local database's processes and the load generator did work during the HTTP run
    assert figures.http.database_cpu_s > 0 and figures.http.client_cpu_s > 0 and figures.http.server_cpu_s > 0


def test_bench_batches_are_plausible_keyed_and_distinct():
    a, b = _batches(3, 4, 25, sign_id=7), _batches(3, 4, 25, sign_id=7)
    assert [[p.key for p in x] for x in a] == [[p.key for p in x] for x in b]
    keys = {p.key for x in a for p in x}
    assert len(keys) == 100 and all(len(x) == 25 for x in a)
    assert {p.key for x in _batches(4, 4, 25, sign_id=7) for p in x}.isdisjoint(keys)


def test_bench_api_command_is_registered_with_help():
    env = {k: v for k, v in os.environ.items() if k != "FARTKOLL_CONFIG"}
    out = subprocess.run([sys.executable, "-m", "fartkoll.cli", "bench", "api", "--help"], capture_output=True,
                         text=True, env=env, cwd=Path(__file__).resolve().parents[1], check=True).stdout
    for flag in ("--clients", "--batch", "--seconds", "--workers"):
        assert flag in out


def test_a_process_trees_cpu_keeps_the_time_of_children_that_exited():
    """A child that burns CPU and is reaped between two readings still counts (its time moves to
    the parent's cutime): the database's backends exit with their connections mid-run."""
    before = _tree_cpu_s(os.getpid())
    subprocess.run([sys.executable, "-c", "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"],
                   check=True)
    after = _tree_cpu_s(os.getpid())
    assert after - before >= 0.25
    assert math.isnan(_tree_cpu_s(2 ** 22 + 12345))  # no such process (above Linux's pid limit)
