"""Synthetic hourly rollups written straight into rollup_hourly (no readings), for planner tests."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import psycopg


def hist_literal(speeds: np.ndarray) -> tuple[str, int, float, float]:
    """('[lo:hi]={…}', n, Σv, Σv²) of whole-km/h (truncated) speeds."""
    b = np.floor(speeds).astype(int)
    lo, hi = int(b.min()), int(b.max())
    counts = np.bincount(b - lo, minlength=hi - lo + 1)
    return f"[{lo}:{hi}]={{{','.join(map(str, counts))}}}", len(b), float(b.sum()), float((b.astype(float) ** 2).sum())


def write_hours(conn: psycopg.Connection, site_id: int, start: datetime, hours: int, rng: np.random.Generator, *,
                per_hour: float, mean_kmh: float, sd_kmh: float = 7.0, direction: int = 1, display: int = 0,
                only_hour: int | None = None) -> int:
    """Rollup rows for ``hours`` UTC hours from ``start`` (optionally only one UTC hour of day);
    returns vehicles written."""
    rows = []
    total = 0
    for k in range(hours):
        t = start + timedelta(hours=k)
        if only_hour is not None and t.hour != only_hour:
            continue
        n = int(rng.poisson(per_hour))
        if n == 0:
            continue
        v = np.clip(rng.normal(mean_kmh, sd_kmh, n), 5, 200)
        lit, n, s1, s2 = hist_literal(v)
        rows.append((site_id, direction, display, t, n, s1, s2, lit))
        total += n
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO rollup_hourly (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s::int[])", rows)
    return total
