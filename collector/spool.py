"""A durable, ordered, on-disk queue of vehicle passes between the sources and the sink.

SQLite in WAL mode with ``synchronous=FULL``. WAL lets the drain loop read while a reader
thread appends. FULL rather than NORMAL because the spool lives on roadside computers whose
power gets cut: with NORMAL a WAL commit survives a killed process but not a power loss (the
last transactions may roll back), with FULL every committed ``append`` is fsynced before it
returns. The cost is one fsync per append, i.e. per serial chunk that completed a vehicle —
a handful a second at most.

Every ``append`` that stored something wakes a drain loop waiting in :meth:`Spool.wait_appended`,
so a pass leaves as soon as it is durable instead of at the drain loop's next look.

Delivery is at least once, counted exactly once: the drain loop writes a batch downstream
*first* and acks it *after*; a crash between the two re-sends the batch, which the sink
absorbs because every pass carries its idempotency key from before it was spooled.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from collector.passes import Direction, Display, VehiclePass

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS spool (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order, never reused
    sign      TEXT    NOT NULL,                   -- sign serial number of the source
    time_us   INTEGER NOT NULL,                   -- UTC microseconds since 1970
    speed_kmh REAL    NOT NULL,
    direction INTEGER NOT NULL,
    sign_id   INTEGER,
    site_id   INTEGER,
    display   INTEGER,
    length_m  REAL,
    key       TEXT    NOT NULL UNIQUE
);
"""


class SpoolError(Exception):
    """The spool cannot be used as asked; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class SpooledPass:
    """A pass as it sits in the spool: its arrival number and the sign it came from."""

    seq: int
    sign: str
    vehicle: VehiclePass


@dataclass(frozen=True, slots=True)
class SpoolBatch:
    """The oldest pending passes, in arrival order. Ack with ``spool.ack(batch.up_to)``.

    ``batch_id`` is stable for the same rows of the same spool file, so a batch re-sent after
    a crash carries the id it had the first time.
    """

    batch_id: uuid.UUID
    entries: tuple[SpooledPass, ...]
    up_to: int

    @property
    def passes(self) -> list[VehiclePass]:
        return [e.vehicle for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)


def _to_us(t: datetime) -> int:
    if t.tzinfo is None or t.utcoffset() is None:
        raise SpoolError(f"pass time {t.isoformat()} has no time zone; stamp passes in UTC")
    return (t - _EPOCH) // _US


class Spool:
    """Append passes, peek the oldest batch, ack what the sink has stored.

    Thread-safe (one connection behind a lock). One process at a time: a second ``Spool`` on
    the same file raises ``SpoolError`` instead of double-sending.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lockfile = open(self.path.with_name(self.path.name + ".lock"), "a+b")
        except OSError as e:
            raise SpoolError(
                f"cannot create spool at {str(self.path)!r}: {e.strerror}; "
                "choose a writable spool_path"
            ) from e
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lockfile.close()
            raise SpoolError(
                f"spool {str(self.path)!r} is in use by another process; "
                "run one collector per spool file"
            ) from None
        self._lock = threading.Lock()
        self._appended = threading.Event()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._db.execute(
            "INSERT OR IGNORE INTO spool_meta (name, value) VALUES ('spool_id', ?)",
            (str(uuid.uuid4()),),
        )
        (spool_id,) = self._db.execute(
            "SELECT value FROM spool_meta WHERE name = 'spool_id'"
        ).fetchone()
        self.spool_id = uuid.UUID(spool_id)

    def append(self, sign: str, passes: Sequence[VehiclePass]) -> int:
        """Store passes from one sign durably, in order; returns how many were new.

        Every pass must carry its ``key``; a key already pending is skipped (idempotent).
        """
        rows = []
        for p in passes:
            if p.key is None:
                raise SpoolError(
                    f"pass at {p.time.isoformat()} ({p.speed_kmh} km/h) from sign {sign!r} has "
                    "no key; assign one with passes.pass_key before spooling"
                )
            rows.append((
                sign, _to_us(p.time), float(p.speed_kmh), int(p.direction), p.sign_id,
                p.site_id, None if p.display is None else int(p.display), p.length_m, str(p.key),
            ))
        if not rows:
            return 0
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO spool (sign, time_us, speed_kmh, direction, sign_id,"
                    " site_id, display, length_m, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            added = self._db.total_changes - before
        if added:
            self._appended.set()  # after the commit: a woken drain loop's peek sees the rows
        return added

    def wait_appended(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for an ``append`` that stored something since the last call.

        True when one came. The signal is cleared before returning, and set only after an
        append's commit, so a ``peek`` after this call sees every pass that woke it.
        """
        woken = self._appended.wait(max(0.0, timeout))
        self._appended.clear()
        return woken

    def peek(self, limit: int) -> SpoolBatch | None:
        """The oldest ``limit`` pending passes, or ``None`` when nothing is pending."""
        if limit < 1:
            raise SpoolError(f"peek limit {limit} must be at least 1")
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, sign, time_us, speed_kmh, direction, sign_id, site_id, display,"
                " length_m, key FROM spool ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        if not rows:
            return None
        entries = tuple(
            SpooledPass(
                seq=seq,
                sign=sign,
                vehicle=VehiclePass(
                    time=_EPOCH + time_us * _US,
                    speed_kmh=speed,
                    direction=Direction(direction),
                    sign_id=sign_id,
                    site_id=site_id,
                    display=None if display is None else Display(display),
                    length_m=length_m,
                    key=uuid.UUID(key),
                ),
            )
            for seq, sign, time_us, speed, direction, sign_id, site_id, display, length_m, key
            in rows
        )
        first, last = entries[0].seq, entries[-1].seq
        return SpoolBatch(
            batch_id=uuid.uuid5(self.spool_id, f"{first}:{last}"), entries=entries, up_to=last
        )

    def ack(self, up_to: int) -> int:
        """Forget every pass up to and including arrival number ``up_to``; returns how many."""
        with self._lock:
            return self._db.execute("DELETE FROM spool WHERE seq <= ?", (up_to,)).rowcount

    def pending(self) -> int:
        """How many passes wait to be sent."""
        with self._lock:
            return self._db.execute("SELECT count(*) FROM spool").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._lockfile.close()

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
