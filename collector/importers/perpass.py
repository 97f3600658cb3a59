"""Per-vehicle records into :func:`collector.store.write_passes` in batches, keyed by what each
record says, with each rejection named by its source record (e.g. ``meas_id 17`` or ``line 12``).

Keys from content: a pass's key is ``pass_key("import:<source>", site, time, speed as stored,
direction, display, occurrence)``, where *occurrence* counts the identical passes before it in
this import. Re-encoding, re-ordering, other line endings or appended rows of a file give the
same keys for the same vehicles, while equal-looking vehicles in one file stay distinct.

Rows imported before these keys (keyed by the file's hash and row number) cannot be re-keyed
in the database: their key came from bytes that are gone. So each batch is also compared by
content: for every (site, time, speed, direction, display) the rows already stored are counted,
and that many occurrences of it in this import are duplicates. This also makes an export of a
sign whose vehicles arrived over the serial line or HTTP store nothing twice. The price: two
files that each hold one of two identical vehicles (same second, same speed, same direction)
store one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable, Iterable, Sequence

import psycopg

from collector.passes import VehiclePass, pass_key
from collector.plausible import TimeRule
from collector.store import Deployments, write_passes
from sql import QUERIES

from .columns import real
from .report import ImportSummary, Problem

BATCH = 20_000

Ident = tuple[int, datetime, float, int, int]


@dataclass
class Occurrences:
    """How often each content (site, time, speed, direction, display) was seen in this import."""

    source: str
    seen: dict[Ident, int]

    @classmethod
    def of(cls, source: str) -> "Occurrences":
        return cls(source, {})

    def next(self, ident: Ident) -> int:
        k = self.seen.get(ident, 0)
        self.seen[ident] = k + 1
        return k

    def key(self, ident: Ident, occurrence: int):
        site_id, t, speed, direction, display = ident
        return pass_key(f"import:{self.source}", site_id, t.isoformat(), speed, direction, display, occurrence)


def store_passes(conn: psycopg.Connection, items: Iterable[tuple[str, VehiclePass] | Problem],
                 summary: ImportSummary, *, source: str, rule: TimeRule, received: datetime,
                 time_field: str = "time", batch: int = BATCH,
                 after_batch: Callable[[ImportSummary], object] = lambda s: None) -> None:
    """Write ``(record label, pass)`` items in batches; :class:`Problem` items and passes timed
    outside ``rule`` (for records received at ``received``, the import time) are counted as
    rejected. Passes carry speeds as stored (float32, see :mod:`.columns`) and no key: the key
    comes from their content. Updates ``summary`` (read, done, stored, duplicates, rejected)
    and calls ``after_batch`` after each batch — the caller may commit there, so an interrupted
    import keeps whole batches and a re-run adds only the rest."""
    occurrences = Occurrences.of(source)
    labels: list[str] = []
    passes: list[VehiclePass] = []

    def flush() -> None:
        n = len(passes)
        keyed, dup = _keyed(conn, passes, occurrences)
        summary.duplicates += dup
        todo = [(labels[i], p) for i, p in enumerate(keyed) if p is not None]
        _write(conn, todo, summary, rule, received)
        summary.done += n
        labels.clear()
        passes.clear()
        after_batch(summary)

    for item in items:
        summary.read += 1
        if isinstance(item, Problem):
            summary.rejected.append(item)
            summary.done += 1
            continue
        label, p = item
        why = rule.problem(p.time, received)
        if why:
            summary.rejected.append(Problem(label, time_field, p.time.isoformat(), why))
            summary.done += 1
            continue
        labels.append(label)
        passes.append(p)
        if len(passes) >= batch:
            flush()
    if passes:
        flush()


def _keyed(conn: psycopg.Connection, passes: Sequence[VehiclePass], occ: Occurrences
           ) -> tuple[list[VehiclePass | None], int]:
    """The passes with site and display resolved and a content key, None for those already
    stored by content; and how many those were."""
    sign_ids = sorted({p.sign_id for p in passes if p.sign_id is not None and (p.site_id is None or p.display is None)})
    deps = Deployments(conn.execute(QUERIES["deployments_of_signs"], {"ids": sign_ids}).fetchall()) if sign_ids else None
    resolved: list[tuple[VehiclePass, Ident | None]] = []
    for p in passes:
        site_id, display = p.site_id, p.display
        if (site_id is None or display is None) and deps is not None and p.sign_id is not None:
            found = deps.at(p.sign_id, p.time)
            if found is not None:
                site_id = found[0] if site_id is None else site_id
                display = found[1] if display is None else display
        if site_id is None or display is None:
            resolved.append((p, None))          # the write path rejects it, naming what is missing
            continue
        p = replace(p, site_id=site_id, display=int(display), speed_kmh=real(p.speed_kmh))
        resolved.append((p, (site_id, p.time, p.speed_kmh, int(p.direction), int(display))))
    idents = [i for _, i in resolved if i is not None]
    stored = _stored_alike(conn, idents)
    out: list[VehiclePass | None] = []
    dup = 0
    for p, ident in resolved:
        if ident is None:
            out.append(p)
            continue
        k = occ.next(ident)
        if k < stored.get(ident, 0):
            out.append(None)
            dup += 1
        else:
            out.append(replace(p, key=occ.key(ident, k)))
    return out, dup


def _stored_alike(conn: psycopg.Connection, idents: Sequence[Ident]) -> dict[Ident, int]:
    """How many readings equal to each content are stored already."""
    if not idents:
        return {}
    distinct = list(set(idents))
    rows = conn.execute(QUERIES["imp_readings_alike"], {
        "site_ids": [i[0] for i in distinct], "times": [i[1] for i in distinct],
        "speeds": [i[2] for i in distinct], "directions": [i[3] for i in distinct],
        "displays": [i[4] for i in distinct],
        "first": min(i[1] for i in distinct), "last": max(i[1] for i in distinct),
    }).fetchall()
    return {(site_id, t, speed, direction, display): n for site_id, t, speed, direction, display, n in rows}


def _write(conn: psycopg.Connection, todo: list[tuple[str, VehiclePass]], summary: ImportSummary,
           rule: TimeRule, received: datetime) -> None:
    """Write the passes; the write path itself reports each one the database refuses (by
    bisection), named here by its source record."""
    if not todo:
        return
    r = write_passes(conn, [p for _, p in todo], received=received, rule=rule)
    summary.stored += r.inserted
    summary.duplicates += r.duplicates
    summary.rejected.extend(Problem(todo[j.index][0], j.field, j.value, j.reason) for j in r.rejected)
