"""Per-vehicle records into :func:`collector.store.write_passes` in batches, with each rejection
named by its source record (e.g. ``meas_id 17`` or ``line 12``) instead of a batch index."""

from __future__ import annotations

from typing import Callable, Iterable

import psycopg

from collector.passes import VehiclePass
from collector.store import write_passes

from .report import ImportSummary, Problem

BATCH = 20_000


def store_passes(conn: psycopg.Connection, items: Iterable[tuple[str, VehiclePass] | Problem],
                 summary: ImportSummary, *, batch: int = BATCH,
                 after_batch: Callable[[ImportSummary], object] = lambda s: None) -> None:
    """Write ``(record label, pass)`` items in batches; :class:`Problem` items are counted as
    rejected. Updates ``summary`` (read, done, stored, duplicates, rejected) and calls
    ``after_batch`` after each batch — the caller may commit there, so an interrupted import
    keeps whole batches and a re-run (same keys) adds only the rest."""
    labels: list[str] = []
    passes: list[VehiclePass] = []

    def flush() -> None:
        r = write_passes(conn, passes)
        summary.stored += r.inserted
        summary.duplicates += r.duplicates
        summary.rejected.extend(Problem(labels[j.index], j.field, j.value, j.reason) for j in r.rejected)
        summary.done += len(passes)
        labels.clear()
        passes.clear()
        after_batch(summary)

    for item in items:
        summary.read += 1
        if isinstance(item, Problem):
            summary.rejected.append(item)
            summary.done += 1
            continue
        labels.append(item[0])
        passes.append(item[1])
        if len(passes) >= batch:
            flush()
    if passes:
        flush()
