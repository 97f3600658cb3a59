"""The write path as it was before it worked in columns: one object per pass, checked, resolved,
keyed and copied row by row. Kept as the oracle the column path is compared with
(``tests/test_ingest_columns.py``): the same answers, rows and rollups for the same batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import psycopg

from collector import store
from collector.checks import BatchChecks, Rejection
from collector.passes import VehiclePass, pass_key
from collector.plausible import TimeRule
from collector.rollup import hourly_rollups, tails
from sql import QUERIES

READINGS_TYPES = ["timestamptz", "int4", "int4", "int2", "float4", "int2", "float4", "uuid"]


def staging_rows(passes: Sequence[VehiclePass], checks: BatchChecks, deployments: store.Deployments, sites: set[int],
                 signs: set[int], rejected: list[Rejection]) -> Iterator[tuple]:
    seen: Counter = Counter()
    for i, p in enumerate(passes):
        bad = checks.check(i, p) or store._check_refs(i, p, sites, signs)
        if bad:
            rejected.append(bad)
            continue
        site_id, display = p.site_id, p.display
        if site_id is None or display is None:
            found = deployments.at(p.sign_id, p.time) if p.sign_id is not None else None
            if found is None:
                field_ = "site_id" if site_id is None else "display"
                rejected.append(Rejection(i, field_, None, f"sign {p.sign_id} has no deployment covering {p.time.isoformat()}"
                                          if p.sign_id is not None else "no site or display mode given and no sign to find them"))
                continue
            if site_id is None:
                site_id = found[0]
            if display is None:
                display = found[1]
        display = int(display)
        key = p.key
        if key is None:
            ident = (p.time.isoformat(), p.sign_id, site_id, int(p.direction), float(p.speed_kmh), display, p.length_m)
            key = pass_key("auto", *ident, seen[ident])
            seen[ident] += 1
        yield (i, p.time, p.sign_id, site_id, int(p.direction), float(p.speed_kmh), display, p.length_m, key)


def write_passes(conn: psycopg.Connection, passes: Sequence[VehiclePass], *, received: datetime | None = None,
                 rule: TimeRule | None = None) -> store.WriteResult:
    result = store.WriteResult(received=len(passes))
    if not passes:
        return result
    checks = BatchChecks(passes, received or datetime.now(UTC), rule or TimeRule())
    with conn.cursor() as cur:
        site_ids = list({p.site_id for p in passes if isinstance(p.site_id, int)})
        sign_ids = list({p.sign_id for p in passes if isinstance(p.sign_id, int)})
        sites = {r[0] for r in conn.execute(QUERIES["existing_sites"], {"ids": site_ids})}
        signs = {r[0] for r in conn.execute(QUERIES["existing_signs"], {"ids": sign_ids})}
        deployments = store.Deployments(conn.execute(QUERIES["deployments_of_signs"], {"ids": sign_ids}).fetchall())
        todo = list(staging_rows(passes, checks, deployments, sites, signs, result.rejected))
        staged = inserted = None
        try:
            with conn.transaction():
                inserted = _copy_new(cur, todo)
            staged = inserted
        except psycopg.errors.UniqueViolation:
            pass
        except store._REFUSED:
            staged, inserted = store._store_refusing(conn, cur, todo, result.rejected)
        if staged is None:
            try:
                with conn.transaction():
                    staged, inserted = len(todo), store._insert_deduplicated(cur, todo)
            except store._REFUSED:
                staged, inserted = store._store_refusing(conn, cur, todo, result.rejected)
        result.inserted, result.duplicates = inserted, staged - inserted
    result.rejected.sort(key=lambda r: r.index)
    return result


def _copy_new(cur: psycopg.Cursor, rows: list[tuple]) -> int:
    with cur.copy(QUERIES["readings_copy"]) as copy:
        copy.set_types(READINGS_TYPES)
        for r in rows:
            copy.write_row(r[1:])
    rollups = hourly_rollups([r[3] for r in rows], [r[4] for r in rows], [r[6] for r in rows],
                             [r[1].timestamp() for r in rows], [r[5] for r in rows])
    if rollups:
        site, direction, display, hour, n, s, ss, lo, counts = (list(c) for c in zip(*rollups, strict=True))
        hist, tail, tail2 = [], [], []
        for low, c in zip(lo, counts, strict=True):
            t, t2 = tails(c)
            hist.append(store._array_text(low, c))
            tail.append(store._array_text(low, t))
            tail2.append(store._array_text(low, t2))
        cur.execute(QUERIES["rollup_merge_arrays"], {
            "site_id": site, "direction": direction, "display": display, "hour": hour, "n": n, "sum_kmh": s,
            "sumsq_kmh": ss, "hist": hist, "tail": tail, "tail2": tail2})
    return len(rows)
