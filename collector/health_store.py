"""Storing sign heartbeats and hourly coverage in the database: the collector's health hook.

``HealthStore`` is a ``HeartbeatHook``: it logs each heartbeat, then writes it to
``sign_heartbeats`` (with the device's clock offset in ``clock_offset_s``) and the minutes with
data of each hour it covers to ``coverage_hourly``.

Coverage must survive restarts without counting twice. A run only knows the minutes *it*
saw, and two runs never read the same minute of a port (one collector per sign). So the
first time a run writes an hour it reads what earlier runs stored (its *base*) and from then
on writes ``base + its own minutes`` (at most 60), with an upsert that never lowers a stored
value. Re-sending is harmless; a restart adds only the new run's minutes (the minute of the
restart itself may count once more). What cannot be written while the database is down stays
pending and goes with the next heartbeat.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from collector.drain import lookup_signs
from collector.heartbeat import Heartbeat, log_heartbeat

log = logging.getLogger(__name__)

MAX_PENDING_BEATS = 1000
KEEP_BASE = timedelta(hours=3)  # longer than the longest heartbeat interval (1 h)


def heartbeat_detail(hb: Heartbeat) -> dict[str, Any]:
    """What a heartbeat row keeps in ``sign_heartbeats.detail``."""
    return {
        "connected": hb.connected,
        "last_data_at": None if hb.last_data_at is None else hb.last_data_at.isoformat(),
        "bytes": hb.bytes,
        "readings": dict(hb.readings),
        "passes": hb.passes,
        "minutes_this_hour": hb.current_hour.minutes_with_data,
    }


class HealthStore:
    """Heartbeat hook writing to the database; an outage is logged and retried, never raised."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._conn: Any = None
        self._beats: list[Heartbeat] = []
        self._minutes: dict[tuple[str, datetime], int] = {}  # (serial, hour) -> this run's minutes
        self._base: dict[tuple[str, datetime], int] = {}  # what earlier runs stored, read once
        self._ids: dict[str, int] = {}
        self._warned: set[str] = set()

    def __call__(self, hb: Heartbeat) -> None:
        log_heartbeat(hb)
        self._beats = (self._beats + [hb])[-MAX_PENDING_BEATS:]
        for h in (*hb.closed_hours, hb.current_hour):
            key = (hb.sign, h.hour)
            self._minutes[key] = max(self._minutes.get(key, 0), h.minutes_with_data)
        self.flush()

    def flush(self) -> bool:
        """Write what is pending; False (and everything kept) when the database is down."""
        import psycopg

        if not self._beats and not self._minutes:
            return True
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            with self._conn.transaction():
                self._write(self._conn)
        except psycopg.OperationalError as e:
            self.close()
            log.warning("cannot store %d heartbeats (%s); kept for the next one",
                        len(self._beats), str(e).strip())
            return False
        latest = max(hb.current_hour.hour for hb in self._beats) if self._beats else None
        self._beats.clear()
        self._minutes.clear()  # the next heartbeat brings the current hour's count again
        if latest is not None:  # a closed hour comes with the first heartbeat after it ended
            self._base = {k: v for k, v in self._base.items() if k[1] >= latest - KEEP_BASE}
        return True

    def _write(self, conn: Any) -> None:
        from sql import QUERIES

        serials = {hb.sign for hb in self._beats} | {s for s, _ in self._minutes}
        unknown = serials - self._ids.keys()
        if unknown:
            at = max(hb.at for hb in self._beats) if self._beats else max(h for _, h in self._minutes)
            self._ids.update({s: i.sign_id for s, i in lookup_signs(conn, unknown, at).items()})
        for serial in sorted(serials - self._ids.keys() - self._warned):
            self._warned.add(serial)
            log.warning("sign %s is not in the database: its heartbeats are not stored", serial)
        with conn.cursor() as cur:
            for hb in self._beats:
                if hb.sign in self._ids:
                    cur.execute(QUERIES["collector_heartbeat_insert"], {
                        "sign_id": self._ids[hb.sign], "time": hb.at,
                        "clock_offset_s": hb.clock_offset_s,
                        "detail": json.dumps(heartbeat_detail(hb))})
            for (serial, hour), minutes in sorted(self._minutes.items(), key=lambda kv: kv[0][1]):
                sign_id = self._ids.get(serial)
                if sign_id is None:
                    continue
                if (serial, hour) not in self._base:
                    row = cur.execute(QUERIES["collector_coverage_get"],
                                      {"sign_id": sign_id, "hour": hour}).fetchone()
                    self._base[(serial, hour)] = 0 if row is None else row[0]
                cur.execute(QUERIES["collector_coverage_upsert"], {
                    "sign_id": sign_id, "hour": hour,
                    "minutes": min(60, self._base[(serial, hour)] + minutes)})

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
