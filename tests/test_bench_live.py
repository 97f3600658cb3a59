"""The live benchmark runs end to end on a small load: every stored pass reaches its sign's event
stream, and the figures' parts add up (figures are printed, not asserted against a goal)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from fartkoll.bench.live import LiveFigures, run


def test_bench_live_streams_every_stored_pass(server_url):
    logged: list[str] = []
    figures = run(server_url, signs=2, seconds=6.0, every_s=1.5, log=logged.append)
    assert isinstance(figures, LiveFigures)
    assert figures.stored > 0
    assert figures.streamed == figures.stored  # nothing stored was missing from the streams, nothing extra
    assert figures.edge_ms.size == figures.stored and figures.ingest_ms.size > 0
    # a pass cannot reach the stream before it left the edge, nor before it was read
    assert np.all(figures.end_to_end_ms > 0)
    assert np.median(figures.end_to_end_ms) >= np.median(figures.edge_ms)
    text = figures.report()
    for label in ("wire → event stream", "ingest call", "at the edge", "p99", "goal end-to-end p99 < 2,000 ms"):
        assert label in text


def test_bench_live_command_is_registered_with_help():
    env = {k: v for k, v in os.environ.items() if k != "FARTKOLL_CONFIG"}
    out = subprocess.run([sys.executable, "-m", "fartkoll.cli", "bench", "live", "--help"], capture_output=True,
                         text=True, env=env, cwd=Path(__file__).resolve().parents[1], check=True).stdout
    for flag in ("--signs", "--seconds", "--every", "--batch-age"):
        assert flag in out
