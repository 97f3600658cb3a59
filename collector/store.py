"""The one write path for vehicle passes: readings stored once each → hourly rollups.

Everything that stores passes (serial collector, HTTP ingest, importers, demo data) calls
``write_passes``, or ``write_columns`` with the passes already as columns (HTTP uploads, see
:mod:`collector.columns`), which ``write_passes`` itself calls. Its statements run in the caller's transaction, which the caller commits (on
an autocommit connection it opens and commits one of its own), so a batch is all or nothing.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Self

import numpy as np
import psycopg

from sql import QUERIES

from .checks import MAX_LENGTH_M, MAX_SPEED_KMH, BatchChecks, Rejection
from .columns import NONE, PassColumns, epoch_us
from .copy_binary import readings_copy_data
from .passes import VehiclePass, pass_key
from .plausible import TimeRule
from .rollup import hourly_rollups, tails

ROW_FIELDS = ("index", "time", "sign_id", "site_id", "direction", "speed_kmh", "display", "length_m", "idem_key")
"""A staging row's fields, in order (see ``staging_rows``)."""

_REFUSED = (psycopg.errors.IntegrityError, psycopg.errors.DataError)
"""What the database raises for a row it refuses (a CHECK, NOT NULL, a foreign key, a range)."""


@dataclass
class WriteResult:
    received: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def __iadd__(self, other: WriteResult) -> Self:
        self.received += other.received
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        return self


class Deployments:
    """Where each sign stood and in which display mode, for resolving passes that name only a sign."""

    def __init__(self, rows: Sequence[tuple[int, datetime, datetime | None, int, int]]):
        self._by_sign: dict[int, list[tuple[datetime, datetime | None, int, int]]] = {}
        for sign_id, start, end, site_id, display in rows:
            self._by_sign.setdefault(sign_id, []).append((start, end, site_id, display))

    def at(self, sign_id: int, t: datetime) -> tuple[int, int] | None:
        """(site_id, display) of the deployment covering ``t``, or None."""
        for start, end, site_id, display in self._by_sign.get(sign_id, ()):
            if start <= t and (end is None or t < end):
                return site_id, display
        return None

    def cover(self, sign_id: np.ndarray, time_us: np.ndarray, need: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``at`` for whole columns: (site_id, display) of the rows in ``need``, NONE where no
        deployment covers the row's time (the first deployment that covers it wins, as in ``at``)."""
        site, display = np.full(len(need), NONE, dtype=np.int64), np.full(len(need), NONE, dtype=np.int64)
        todo = need.copy()
        for s in np.unique(sign_id[need]).tolist():
            of_sign = todo & (sign_id == s)
            for start, end, site_id, shown in self._by_sign.get(s, ()):
                m = of_sign & (time_us >= epoch_us(start))
                if end is not None:
                    m &= time_us < epoch_us(end)
                site[m], display[m] = site_id, shown
                of_sign &= ~m
            todo &= sign_id != s
        return site, display


@dataclass
class Staged:
    """The passes to store, resolved and keyed, as columns: batch index ``index`` of each."""

    index: np.ndarray
    times: list[datetime]
    time_us: np.ndarray
    sign_id: np.ndarray
    site_id: np.ndarray
    direction: np.ndarray
    speed_kmh: np.ndarray
    display: np.ndarray
    length_m: np.ndarray
    key: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    def rows(self) -> list[tuple]:
        """The staging rows (fields ``ROW_FIELDS``) for the deduplicating statement."""
        lengths = self.length_m.tolist()
        return [(i, t, None if sign == NONE else sign, site, d, v, disp, None if ln != ln else ln, uuid.UUID(bytes=k))
                for i, t, sign, site, d, v, disp, ln, k in zip(
                    self.index.tolist(), self.times, self.sign_id.tolist(), self.site_id.tolist(),
                    self.direction.tolist(), self.speed_kmh.tolist(), self.display.tolist(), lengths,
                    (k.tobytes() for k in self.key), strict=True)]

    def copy_data(self) -> bytes:
        return readings_copy_data(self.time_us, self.sign_id, self.sign_id != NONE, self.site_id, self.direction,
                                  self.speed_kmh, self.display, self.length_m, self.key)


def stage(cols: PassColumns, checks: BatchChecks, deployments: Deployments, sites: set[int], signs: set[int],
          rejected: list[Rejection]) -> Staged:
    """The passes that can be stored, resolved and keyed; the others appended to ``rejected``.

    The columns are checked at once; a pass they do not let through (or whose values they cannot
    hold as given) is judged by ``checks.check`` on its object, which names the field and value.
    A pass naming only its sign takes site and display mode from the sign's deployment at its
    time. A pass without a key gets one from its fields and its ordinal among identical passes in
    the batch, so equal-looking vehicles stay distinct while a re-sent batch maps onto the same
    keys.
    """
    n = len(cols)
    with np.errstate(over="ignore", invalid="ignore"):
        speed = cols.speed_kmh.astype(np.float32)
        length = cols.length_m.astype(np.float32)
    ok = ((cols.time_us >= epoch_us(checks.earliest)) & (cols.time_us <= epoch_us(checks.latest))
          & (speed > 0) & (speed < np.float32(MAX_SPEED_KMH))
          & (np.isnan(length) | ((length > 0) & (length < np.float32(MAX_LENGTH_M))))
          & (cols.direction >= 0) & (cols.direction <= 2)
          & ((cols.display == NONE) | (cols.display == 0) | (cols.display == 1))
          & ((cols.site_id != NONE) | (cols.sign_id != NONE)))
    if cols.doubt is not None:
        ok &= ~cols.doubt
    unknown_sign = ok & (cols.sign_id != NONE) & ~np.isin(cols.sign_id, np.fromiter(signs, np.int64, len(signs)))
    unknown_site = ok & (cols.site_id != NONE) & ~np.isin(cols.site_id, np.fromiter(sites, np.int64, len(sites)))
    for i in np.flatnonzero(unknown_sign | unknown_site).tolist():
        rejected.append(_check_refs(i, cols.pass_at(i), sites, signs))
    ok &= ~(unknown_sign | unknown_site)
    doubtful = np.flatnonzero(~ok & ~unknown_sign & ~unknown_site).tolist()
    if doubtful:
        ok = _judge(cols, doubtful, checks, sites, signs, ok, rejected)
    need = ok & ((cols.site_id == NONE) | (cols.display == NONE))
    site_id, display = cols.site_id, cols.display
    if need.any():
        found_site, found_display = deployments.cover(cols.sign_id, cols.time_us, need)
        for i in np.flatnonzero(need & (found_site == NONE)).tolist():
            p = cols.pass_at(i)
            field_ = "site_id" if p.site_id is None else "display"
            rejected.append(Rejection(i, field_, None, f"sign {p.sign_id} has no deployment covering {p.time.isoformat()}"
                                      if p.sign_id is not None else "no site or display mode given and no sign to find them"))
        ok &= ~(need & (found_site == NONE))
        site_id = np.where(site_id == NONE, found_site, site_id)
        display = np.where(display == NONE, found_display, display)
    key = cols.key
    unkeyed = np.flatnonzero(ok & ~cols.keyed).tolist()
    if unkeyed:
        key = key.copy()
        seen: Counter = Counter()
        for i in unkeyed:
            p = cols.pass_at(i)
            ident = (p.time.isoformat(), p.sign_id, p.site_id if p.site_id is not None else int(site_id[i]),
                     int(p.direction), float(p.speed_kmh), int(display[i]), p.length_m)
            key[i] = pass_key("auto", *ident, seen[ident]).bytes
            seen[ident] += 1
    index = np.flatnonzero(ok) if not ok.all() else np.arange(n)
    times = list(cols.times) if len(index) == n else [cols.times[i] for i in index.tolist()]
    return Staged(index, times, cols.time_us[index], cols.sign_id[index], site_id[index], cols.direction[index],
                  cols.speed_kmh[index], display[index], cols.length_m[index], key[index])


def _judge(cols: PassColumns, rows: list[int], checks: BatchChecks, sites: set[int], signs: set[int],
           ok: np.ndarray, rejected: list[Rejection]) -> np.ndarray:
    """``ok`` with the passes in ``rows`` judged one by one on their objects; a pass that passes
    has its values put into the columns as the database will take them."""
    ok = ok.copy()
    passes = [cols.pass_at(i) for i in rows]
    each = BatchChecks(passes, checks.received, checks.rule)
    for j, (i, p) in enumerate(zip(rows, passes, strict=True)):
        bad = each.check(j, p)
        bad = replace(bad, index=i) if bad else _check_refs(i, p, sites, signs)
        if bad is None and p.key is not None and not isinstance(p.key, uuid.UUID):
            bad = Rejection(i, "key", p.key, "must be a UUID")
        if bad:
            rejected.append(bad)
            continue
        ok[i] = True
        cols.time_us[i], cols.speed_kmh[i], cols.direction[i] = epoch_us(p.time), float(p.speed_kmh), int(p.direction)
        cols.sign_id[i] = NONE if p.sign_id is None else int(p.sign_id)
        cols.site_id[i] = NONE if p.site_id is None else int(p.site_id)
        cols.display[i] = NONE if p.display is None else int(p.display)
        cols.length_m[i] = np.nan if p.length_m is None else float(p.length_m)
        if p.key is not None:
            cols.key[i], cols.keyed[i] = p.key.bytes, True
    return ok


def _check_refs(i: int, p: VehiclePass, sites: set[int], signs: set[int]) -> Rejection | None:
    if p.sign_id is not None and p.sign_id not in signs:
        return Rejection(i, "sign_id", p.sign_id, "no sign with this id: register the sign first")
    if p.site_id is not None and p.site_id not in sites:
        return Rejection(i, "site_id", p.site_id, "no site with this id")
    return None


def write_passes(conn: psycopg.Connection, passes: Sequence[VehiclePass], *, received: datetime | None = None,
                 rule: TimeRule | None = None) -> WriteResult:
    """Store a batch of passes once each and add the new ones to ``rollup_hourly``.

    ``received`` is when the batch arrived (default: now; importers give the import time) and
    ``rule`` the plausible-time rule (default: ``TimeRule()``, the settings' defaults): a pass
    timed before ``rule.earliest`` or more than ``rule.future_margin`` after ``received`` is
    rejected. Returns counts: inserted (new), duplicates (already stored, or repeated in the
    batch) and rejected passes with the field, value and reason. Raises
    ``psycopg.OperationalError`` when the database is unreachable (nothing of the batch is then
    stored). The passes are converted to columns and stored by :func:`write_columns`.
    """
    return write_columns(conn, PassColumns.from_passes(passes), received=received, rule=rule)


def write_columns(conn: psycopg.Connection, cols: PassColumns, *, received: datetime | None = None,
                  rule: TimeRule | None = None) -> WriteResult:
    """``write_passes`` for a batch given as columns (an upload decoded straight into them).

    The batch is checked, resolved, keyed and binned as columns and, when its passes are new
    (the common case), copied straight into ``readings`` as one binary COPY stream encoded from
    the columns, its rollups computed in the client and merged from arrays; if any key is
    already stored, that attempt is rolled back to a savepoint and the batch goes through one
    statement (``readings_store``) that inserts the passes whose key is new and adds exactly
    those to the rollups. COPY is the faster of the two even for 100 passes (measured: 23
    against 32 ms; 49 against 79 ms for 500), the insert with ON CONFLICT paying per row on the
    hypertable. Should the database refuse a pass the checks let through (a constraint they do
    not know), the batch is stored half by half down to the refused passes, which are reported
    as rejected. No temporary tables: their truncation and their clearing at commit cost more
    than the statements themselves (measured: ~20 ms a call). ``cols`` may be changed (the
    values of passes judged one by one).
    """
    result = WriteResult(received=len(cols))
    if not len(cols):
        return result
    checks = BatchChecks((), received or datetime.now(UTC), rule or TimeRule())
    # Autocommit connections get a transaction of their own; otherwise the statements join the
    # caller's transaction (begun implicitly) and the caller commits or rolls back.
    with conn.transaction() if conn.autocommit else nullcontext(), conn.cursor() as cur:
        sites, signs, deployments = _references(conn, cols)
        staged = stage(cols, checks, deployments, sites, signs, result.rejected)
        n, inserted = _store(conn, cur, staged, result.rejected)
        result.inserted = inserted
        result.duplicates = n - inserted
    result.rejected.sort(key=lambda r: r.index)
    return result


def _references(conn: psycopg.Connection, cols: PassColumns) -> tuple[set[int], set[int], Deployments]:
    """Which sites and signs the passes name exist, and the signs' deployments (one round trip)."""
    site_ids = set(np.unique(cols.site_id[cols.site_id != NONE]).tolist())
    sign_ids = set(np.unique(cols.sign_id[cols.sign_id != NONE]).tolist())
    if cols.doubt is not None:  # their columns hold placeholders: the objects name the ids
        for i in np.flatnonzero(cols.doubt).tolist():
            p = cols.pass_at(i)
            if isinstance(p.site_id, int):
                site_ids.add(p.site_id)
            if isinstance(p.sign_id, int):
                sign_ids.add(p.sign_id)
    with conn.pipeline(), conn.cursor() as c1, conn.cursor() as c2, conn.cursor() as c3:
        c1.execute(QUERIES["existing_sites"], {"ids": list(site_ids)})
        c2.execute(QUERIES["existing_signs"], {"ids": list(sign_ids)})
        c3.execute(QUERIES["deployments_of_signs"], {"ids": list(sign_ids)})
        sites = {r[0] for r in c1.fetchall()}
        signs = {r[0] for r in c2.fetchall()}
        deployments = Deployments(c3.fetchall())
    return sites, signs, deployments


def _store(conn: psycopg.Connection, cur: psycopg.Cursor, staged: Staged,
           rejected: list[Rejection]) -> tuple[int, int]:
    """Store the staged passes by the fastest path that works: (staged, inserted).

    Each attempt runs in a savepoint: a stored key undoes the direct COPY and takes the
    deduplicating statement; a refused row undoes either and takes ``_store_refusing``.
    """
    if not len(staged):
        return 0, 0
    try:
        with conn.transaction():
            inserted = _copy_new(cur, staged)
        return inserted, inserted
    except psycopg.errors.UniqueViolation:
        pass
    except _REFUSED:
        return _store_refusing(conn, cur, staged.rows(), rejected)
    todo = staged.rows()
    try:
        with conn.transaction():
            return len(todo), _insert_deduplicated(cur, todo)
    except _REFUSED:
        return _store_refusing(conn, cur, todo, rejected)


def _store_refusing(conn: psycopg.Connection, cur: psycopg.Cursor, rows: list[tuple],
                    rejected: list[Rejection]) -> tuple[int, int]:
    """Store what the database accepts of ``rows``, each refused row reported in ``rejected``.

    Bisection: a part that the database refuses is split in halves until the refused rows stand
    alone, so k refused rows among n cost about 2n + k log n rows written. Every other row is
    stored exactly once (deduplicating path), its rollup with it.
    """
    staged = inserted = 0
    todo = [rows]
    while todo:
        part = todo.pop()
        try:
            with conn.transaction():
                n = _insert_deduplicated(cur, part)
        except _REFUSED as e:
            if len(part) == 1:
                rejected.append(_refused(part[0], e))
            else:
                half = len(part) // 2
                todo += [part[half:], part[:half]]  # the first half first
            continue
        staged += len(part)
        inserted += n
    return staged, inserted


def _refused(row: tuple, e: psycopg.Error) -> Rejection:
    """The rejection of one staging row the database refused, the field named by its constraint."""
    names = f"{e.diag.column_name or ''} {e.diag.constraint_name or ''}"
    field_ = next((f for f in ROW_FIELDS[1:] if f in names), "time" if "hour" in names else "pass")
    value = row[ROW_FIELDS.index(field_)] if field_ in ROW_FIELDS else None
    return Rejection(row[0], field_, value, f"refused by the database: {e.diag.message_primary}")


def _insert_deduplicated(cur: psycopg.Cursor, rows: list[tuple]) -> int:
    """Insert the rows whose key is new and add them to the rollups, in one statement: how many were new."""
    if not rows:
        return 0
    _, time, sign_id, site_id, direction, speed, display, length, key = (list(c) for c in zip(*rows, strict=True))
    return cur.execute(QUERIES["readings_store"], {
        "time": time, "site_id": site_id, "sign_id": sign_id, "direction": direction, "speed_kmh": speed,
        "display": display, "length_m": length, "idem_key": key}).fetchone()[0]


def _copy_new(cur: psycopg.Cursor, staged: Staged) -> int:
    """COPY the staged passes into readings (one binary stream encoded from the columns) and merge
    their rollups; raises UniqueViolation on a stored key."""
    with cur.copy(QUERIES["readings_copy"]) as copy:
        copy.write(staged.copy_data())
    rollups = hourly_rollups(staged.site_id, staged.direction, staged.display, staged.time_us / 1e6,
                             staged.speed_kmh)
    if rollups:
        site, direction, display, hour, n, s, ss, lo, counts = (list(c) for c in zip(*rollups, strict=True))
        hist, tail, tail2 = [], [], []
        for low, c in zip(lo, counts, strict=True):
            t, t2 = tails(c)
            hist.append(_array_text(low, c))
            tail.append(_array_text(low, t))
            tail2.append(_array_text(low, t2))
        cur.execute(QUERIES["rollup_merge_arrays"], {
            "site_id": site, "direction": direction, "display": display, "hour": hour, "n": n, "sum_kmh": s,
            "sumsq_kmh": ss, "hist": hist, "tail": tail, "tail2": tail2})
    return len(staged)


def _array_text(lo: int, counts: list[int]) -> str:
    """A histogram's counts from bin ``lo`` as an integer array literal with its bounds: '[45:47]={3,0,1}'."""
    return f"[{lo}:{lo + len(counts) - 1}]={{{','.join(map(str, counts))}}}"
