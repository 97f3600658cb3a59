"""Group commit: concurrent uploads share one write-path transaction.

Uploads queue a :class:`Job`; a writer thread (one of a few, each with its own connection) takes
everything queued, writes it with one ``write_passes`` call, records the batches, commits once and only
then answers each job with its own accepted / duplicate / rejected figures. The per-batch cost
of the write path (look-ups, savepoint, rollup merge, commit) is then paid once per group instead
of once per request. Jobs whose keys overlap a job already in the group wait for the next group,
so every pass of a group is either new or already stored before the group began; when any is
already stored the group is written again job by job in the same transaction, which gives each
job its exact duplicates. A job that carries its upload token's hash is written only if the
token is still live when the group's transaction checks it (one statement for the group, see
:mod:`.upload_sign`); otherwise it is answered 401 and its token forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import psycopg

from collector.columns import PassColumns
from collector.passes import VehiclePass
from collector.plausible import TimeRule
from collector.store import WriteResult, write_columns
from core.errors import FartkollError, Unauthenticated, Unavailable
from sql import QUERIES

from ..live.announce import CHANNEL, MAX_PASSES, message
from .body import jsonable
from .upload_sign import CHECK_QUERY, REVOKED, KnownTokens

log = logging.getLogger(__name__)

RETRIES = 3  # attempts of a group that meets a deadlock with another writer
_RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


@dataclass
class Job:
    """One upload's passes for the write path (as columns, or objects turned into columns), and
    what was refused before it."""

    sign_id: int
    batch_id: uuid.UUID
    kind: str
    records: int
    passes: PassColumns | Sequence[VehiclePass]
    indices: Sequence[int]                  # record index of each pass in the upload
    rejected: list[dict[str, Any]] = field(default_factory=list)  # refused before the write path
    future: Future = field(default_factory=Future)
    token_hash: bytes | None = None         # the upload token's, checked in the group's transaction
    waiter: asyncio.Future | None = None    # answered on its event loop too (see ``submit_async``)

    def __post_init__(self) -> None:
        self.columns = self.passes if isinstance(self.passes, PassColumns) else PassColumns.from_passes(self.passes)
        self.keys = self.columns.key_set()

    def __len__(self) -> int:
        return len(self.columns)

    def answer(self, accepted: int, duplicates: int, rejected: list[dict[str, Any]]) -> dict[str, Any]:
        problems = sorted(self.rejected + rejected, key=lambda r: r["record"])
        return {"batch_id": str(self.batch_id), "accepted": accepted, "duplicates": duplicates,
                "rejected": problems}


def store_passes(conn: psycopg.Connection, passes: PassColumns, rule: TimeRule) -> WriteResult:
    """The one call of the write path for uploads (the caller's transaction), received now."""
    return write_columns(conn, passes, received=datetime.now(timezone.utc), rule=rule)


class GroupCommit:
    """A writer thread that stores queued jobs in shared transactions."""

    def __init__(self, connect: Callable[[], psycopg.Connection], *, rule: TimeRule | None = None,
                 writers: int = 3, max_passes: int = 20_000, known_tokens: KnownTokens | None = None) -> None:
        self._connect = connect
        self.known_tokens = known_tokens
        self.rule = rule or TimeRule()
        self._max = max_passes
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self.groups = self.jobs = self.passes = 0
        self._writers = [_Writer(self, i) for i in range(writers)]

    def submit(self, job: Job) -> Future:
        if self._closed:
            raise Unavailable("the server is shutting down: send the batch again")
        self._queue.put(job)
        return job.future

    def submit_async(self, job: Job) -> asyncio.Future:
        """``submit`` for a caller on an event loop: the answer comes as an asyncio future, all the
        jobs of a group on one loop answered by one call into it (measured: a wrapped concurrent
        future per upload cost the event loop a tenth of its time)."""
        job.waiter = asyncio.get_running_loop().create_future()
        self.submit(job)
        return job.waiter

    def close(self, timeout: float = 30.0) -> None:
        """Finish the jobs already queued, then stop."""
        self._closed = True
        for _ in self._writers:
            self._queue.put(None)
        for w in self._writers:
            w.thread.join(timeout)
        if self.groups:
            log.info("group commit: %d uploads (%d passes) in %d transactions, %.1f uploads each",
                     self.jobs, self.passes, self.groups, self.jobs / self.groups)

    def _done(self, group: list[Job]) -> None:
        with self._lock:
            self.groups += 1
            self.jobs += len(group)
            self.passes += sum(len(j) for j in group)


class _Writer:
    """One writer thread with its own connection. Several let one group be built and written
    while another waits for its commit: in one server process 3 writers gave ~8 % more passes/s
    than one; with a process per core, one writer each gathers the largest groups and is best
    (``api.ingest.group_writers``, measured there); jobs that overlap in keys and land in concurrent
    groups are kept apart by the unique key index (the later one waits, then finds them stored)."""

    def __init__(self, owner: GroupCommit, number: int) -> None:
        self._owner = owner
        self._queue = owner._queue
        self._max = owner._max
        self._connect = owner._connect
        self.rule = owner.rule
        self._known = owner.known_tokens
        self._conn: psycopg.Connection | None = None
        self._held: deque[Job] = deque()
        self.thread = threading.Thread(target=self._run, name=f"ingest-group-commit-{number}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        stop = False
        while not stop or self._held:
            first = self._held.popleft() if self._held else self._queue.get()
            if first is None:
                stop = True
                continue
            group, keys, n = [first], set(first.keys), len(first)
            while n < self._max:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                if keys.isdisjoint(job.keys):
                    group.append(job)
                    keys |= job.keys
                    n += len(job)
                else:
                    self._held.append(job)
            try:
                self._write(group)
            except Exception as e:  # a bug must not leave uploads waiting for an answer that never comes
                log.exception("group commit failed for %d uploads", len(group))
                self._rollback()
                _settle([(job, FartkollError(f"batch {job.batch_id} was not stored: {e!r}"))
                         for job in group if not job.future.done()])
        if self._conn is not None:
            self._conn.close()

    def _write(self, group: list[Job]) -> None:
        for attempt in range(RETRIES):
            try:
                answers = self._store(group)
            except _RETRYABLE as e:
                self._rollback()
                if attempt + 1 < RETRIES:
                    continue
                return self._fail(group, Unavailable(f"the database kept refusing the batch ({e.sqlstate}): send it again"))
            except psycopg.OperationalError as e:
                self._drop_connection()
                return self._fail(group, Unavailable(f"the database is unreachable ({str(e).strip()[:200]}): send the batch again"))
            except psycopg.Error as e:
                self._rollback()
                if len(group) > 1:  # find the job the database refuses; the others are stored
                    for job in group:
                        self._write([job])
                    return None
                log.error("database refused batch %s of sign %s: %s", group[0].batch_id, group[0].sign_id, e)
                return self._fail(group, FartkollError(f"the database refused batch {group[0].batch_id}: {e}"))
            self._owner._done(group)
            _settle(list(zip(group, answers, strict=True)))
            return None
        return None

    def _store(self, everyone: list[Job]) -> list[dict[str, Any] | Exception]:
        """Each job's answer (an exception for a job whose token is no longer live), once committed."""
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        conn = self._conn
        refused = self._refused_tokens(conn, everyone)
        group = [j for j in everyone if j.token_hash not in refused] if refused else everyone
        if not group:
            conn.rollback()
            return [Unauthenticated(REVOKED) for _ in everyone]
        results = self._one_call(conn, group)
        if results is None:  # some passes were already stored: exact figures job by job
            conn.rollback()
            results = [_figures(job, store_passes(conn, job.columns, self.rule), 0) for job in group]
        answers = [job.answer(*r) for job, r in zip(group, results, strict=True)]
        conn.execute(QUERIES["ingest_batches_record"], {
            "sign_ids": [j.sign_id for j in group], "batch_ids": [j.batch_id for j in group],
            "kinds": [j.kind for j in group], "records": [j.records for j in group],
            "accepted": [a["accepted"] for a in answers], "rejected": [len(a["rejected"]) for a in answers]})
        messages = _live_messages(group, answers)  # NOTIFY, delivered to the live pages on this commit
        if messages:
            conn.execute(QUERIES["ingest_live_notify"], {"channel": CHANNEL, "payloads": messages})
        conn.commit()
        if not refused:
            return answers
        stored = iter(answers)
        return [Unauthenticated(REVOKED) if j.token_hash in refused else next(stored) for j in everyone]

    def _refused_tokens(self, conn: psycopg.Connection, group: list[Job]) -> set[bytes]:
        """The upload-token hashes of ``group`` that are no longer live (forgotten by the memory)."""
        hashes = list({j.token_hash for j in group if j.token_hash is not None})
        if not hashes:
            return set()
        live_ = {bytes(r[0]) for r in conn.execute(QUERIES[CHECK_QUERY], {"hashes": hashes})}
        refused = set(hashes) - live_
        for h in refused:
            if self._known is not None:
                self._known.forget(h)
        return refused

    def _one_call(self, conn: psycopg.Connection, group: list[Job]) -> list[tuple] | None:
        if len(group) == 1:
            return [_figures(group[0], store_passes(conn, group[0].columns, self.rule), 0)]
        result = store_passes(conn, PassColumns.concat([job.columns for job in group]), self.rule)
        if result.duplicates:
            return None
        out, offset = [], 0
        for job in group:
            out.append(_figures(job, result, offset))
            offset += len(job)
        return out

    def _rollback(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.rollback()
            except psycopg.OperationalError:
                self._drop_connection()

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    @staticmethod
    def _fail(group: list[Job], error: Exception) -> None:
        _settle([(job, error) for job in group])


def _settle(outcomes: list[tuple[Job, Any]]) -> None:
    """Answer each job (an exception or its answer): its future here, its waiter on its loop."""
    loops: dict[asyncio.AbstractEventLoop, list[tuple[Job, Any]]] = {}
    for job, outcome in outcomes:
        if isinstance(outcome, BaseException):
            job.future.set_exception(outcome)
        else:
            job.future.set_result(outcome)
        if job.waiter is not None:
            loops.setdefault(job.waiter.get_loop(), []).append((job, outcome))
    for loop, waiting in loops.items():
        try:
            loop.call_soon_threadsafe(_wake, waiting)
        except RuntimeError:  # the loop has closed: nobody waits any more
            pass


def _wake(waiting: list[tuple[Job, Any]]) -> None:
    for job, outcome in waiting:
        if job.waiter is None or job.waiter.done():  # given up waiting (timed out)
            continue
        if isinstance(outcome, BaseException):
            job.waiter.set_exception(outcome)
        else:
            job.waiter.set_result(outcome)


def _figures(job: Job, result: WriteResult, offset: int) -> tuple[int, int, list[dict[str, Any]]]:
    """(accepted, duplicates, rejected) of ``job``, whose passes start at ``offset`` of ``result``'s batch.

    For a shared call (no duplicates in it) every pass of the job not rejected was stored.
    """
    end = offset + len(job)
    mine = [r for r in result.rejected if offset <= r.index < end]
    rejected = [{"record": job.indices[r.index - offset], "field": r.field, "value": jsonable(r.value),
                 "reason": r.reason} for r in mine]
    if offset == 0 and end == result.received:  # the job had the call to itself
        return result.inserted, result.duplicates, rejected
    return len(job) - len(mine), 0, rejected


def _live_messages(group: list[Job], answers: list[dict[str, Any]]) -> list[str]:
    """``live.payloads`` from the jobs' columns: each upload's newest stored passes."""
    out = []
    for job, answer in zip(group, answers, strict=True):
        if not answer["accepted"]:
            continue
        cols = job.columns
        order = np.argsort(cols.time_us, kind="stable")
        if answer["rejected"]:
            refused = np.array([r["record"] for r in answer["rejected"]])
            order = order[~np.isin(np.asarray(job.indices)[order], refused)]
        shown = order[-MAX_PASSES:]
        out.append(message(job.sign_id, int(answer["accepted"]), (cols.time_us[shown] / 1e6).tolist(),
                                cols.speed_kmh[shown].tolist(), cols.direction[shown].tolist()))
    return out
