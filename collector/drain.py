"""Draining the spool into a sink: the drain loop, the database sink and sign look-up.

The ``Drainer`` sends the oldest spooled batch to the sink (the database write path or the
edge ``Forwarder``) and acks it only after the sink returned; while the sink raises it
retries with a bounded backoff and the spool keeps growing on disk. The database sink
finds each pass's sign by the serial number it was spooled under when the source had no
``sign_id``, so a collector can start (and spool) while the database is down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collector.config import CollectorSettings
from collector.plausible import TimeRule
from collector.serialport import Clock, next_backoff, utc_now
from collector.spool import Spool, SpoolBatch

log = logging.getLogger(__name__)

Sink = Callable[[SpoolBatch], object]
"""Stores a batch durably or raises; its return value is only logged."""

REGISTER_HINT = (
    "register the sign and deploy it at a site first: "
    "`fartkoll sign add {serial} --protocol {protocol} --unit {unit}`, then "
    "`fartkoll sign deploy {serial} SITE` (`fartkoll site list` shows the sites, `fartkoll sign add --help` "
    "the protocols)"
)
DEPLOY_HINT = "deploy it at a site first: `fartkoll sign deploy {serial} SITE`"


@dataclass
class DrainStats:
    batches: int = 0
    passes: int = 0
    failures: int = 0


class Drainer:
    """Send spooled batches to the sink, oldest first; ack after the sink returned.

    ``step()`` does at most one send and returns how many seconds it wants to sleep. A
    part-filled batch waits until its oldest pass is ``max_batch_age_s`` old (by pass time,
    or by how long the drainer has seen it pending, whichever is first).
    """

    def __init__(
        self,
        spool: Spool,
        sink: Sink,
        *,
        batch_size: int = 500,
        max_batch_age_s: float = 5.0,
        backoff_min: float = 1.0,
        backoff_max: float = 300.0,
        poll_s: float = 0.5,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._spool = spool
        self._sink = sink
        self._batch_size = batch_size
        self._max_age = max_batch_age_s
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._poll = poll_s
        self._clock = clock
        self._mono = monotonic
        self._wait = backoff_min
        self._retry_at = 0.0
        self._pending_since: float | None = None
        self.stats = DrainStats()

    def step(self, *, final: bool = False) -> float:
        now = self._mono()
        if not final and now < self._retry_at:
            return self._retry_at - now
        batch = self._spool.peek(self._batch_size)
        if batch is None:
            self._pending_since = None
            return self._poll
        if not final and len(batch) < self._batch_size:
            if self._pending_since is None:
                self._pending_since = now
            age = max(
                now - self._pending_since,
                (self._clock() - batch.entries[0].vehicle.time).total_seconds(),
            )
            if age < self._max_age:
                return min(self._poll, self._max_age - age)
        try:
            result = self._sink(batch)
        except Exception as e:
            self.stats.failures += 1
            self._retry_at = now + self._wait
            outage = looks_like_outage(e)  # expected: one line; else an error with traceback
            log.log(
                logging.WARNING if outage else logging.ERROR,
                "sink failed for batch %s (%d passes, %d pending): %s; retrying in %.1f s",
                batch.batch_id, len(batch), self._spool.pending(), e, self._wait,
                exc_info=not outage and not isinstance(e, SignLookupError),
            )
            wait, self._wait = self._wait, next_backoff(self._wait, self._backoff_min, self._backoff_max)
            return wait
        self._spool.ack(batch.up_to)
        self._wait = self._backoff_min
        self._pending_since = None
        self.stats.batches += 1
        self.stats.passes += len(batch)
        log.debug("sent batch %s (%d passes): %r", batch.batch_id, len(batch), result)
        return 0.0

    def finish(self) -> bool:
        """Send everything pending, one attempt per batch; True when the spool is empty."""
        failures = self.stats.failures
        while self._spool.pending():
            self.step(final=True)
            if self.stats.failures > failures:
                return False
        return True


def looks_like_outage(e: Exception) -> bool:
    """A sink that is down (retrying is the fix), not one that refuses or has a bug."""
    import psycopg

    from collector.forward import ForwardUnavailable

    return isinstance(e, (ForwardUnavailable, ConnectionError, TimeoutError, psycopg.OperationalError))


# --- signs by serial number -------------------------------------------------------------------


class SignLookupError(ValueError):
    """A configured sign is not registered (or not deployed); the message names it and the fix."""


@dataclass(frozen=True, slots=True)
class SignInfo:
    """A registered sign and its deployment at the time asked about (``site_id`` None: none)."""

    serial: str
    sign_id: int
    site_id: int | None
    mount_angle_deg: float | None


def lookup_signs(conn: Any, serials: Iterable[str], at: datetime) -> dict[str, SignInfo]:
    """The registered signs among ``serials``, with their deployment at ``at``."""
    from sql import QUERIES

    rows = conn.execute(QUERIES["collector_signs_by_serial"],
                        {"serials": sorted(set(serials)), "at": at}).fetchall()
    return {serial: SignInfo(serial, sign_id, site_id, angle) for serial, sign_id, site_id, angle in rows}


def resolve_sources(settings: CollectorSettings, connect: Callable[[], Any],
                    now: datetime) -> CollectorSettings:
    """``settings`` with every source's ``sign_id`` looked up by its serial number.

    Raises ``SignLookupError`` for a serial that is not registered or has no deployment at
    ``now`` (its passes would be refused). When the database cannot be reached the settings
    come back unchanged: the collector spools and the sink looks the signs up later.
    """
    import psycopg

    try:
        with connect() as conn:
            found = lookup_signs(conn, (s.sign_serial for s in settings.sources), now)
    except psycopg.OperationalError as e:
        log.warning("database unreachable at start (%s); collecting into the spool, signs are "
                    "looked up by serial number when it is back", str(e).strip())
        return settings
    sources = []
    for i, src in enumerate(settings.sources):
        where = f"sources[{i}] (port {src.port})"
        info = found.get(src.sign_serial)
        if info is None:
            raise SignLookupError(f"sign serial {src.sign_serial!r} of {where} is not in the "
                                  "database; " + REGISTER_HINT.format(
                                      serial=src.sign_serial, protocol=src.protocol, unit=src.unit or "kmh"))
        if src.sign_id is not None and src.sign_id != info.sign_id:
            raise SignLookupError(f"{where} gives sign_id {src.sign_id} but sign "
                                  f"{src.sign_serial!r} has id {info.sign_id}; remove sign_id "
                                  "from the configuration")
        if info.site_id is None:
            raise SignLookupError(f"sign {src.sign_serial!r} of {where} has no deployment covering "
                                  f"{now.isoformat(timespec='seconds')}, so its passes would be "
                                  "refused; " + DEPLOY_HINT.format(serial=src.sign_serial))
        if info.mount_angle_deg and abs(info.mount_angle_deg - src.mounting_angle_deg) > 0.01:
            log.warning("sign %s: deployment says mounting angle %.1f° but %s has "
                        "mounting_angle_deg %.1f; speeds are corrected with the configured one",
                        src.sign_serial, info.mount_angle_deg, where, src.mounting_angle_deg)
        sources.append(src.model_copy(update={"sign_id": info.sign_id}))
    return settings.model_copy(update={"sources": sources})


# --- sinks ------------------------------------------------------------------------------------


class StoreSink:
    """Write batches straight to the database with ``collector.store.write_passes``.

    Opens a connection on first use and after an outage; each batch is one transaction,
    committed before returning, so the drain loop acks only what the database holds. With
    ``resolve_serials`` a pass spooled without a ``sign_id`` gets the id of the sign whose
    serial number it was spooled under (``SignLookupError`` if that sign is unknown).
    """

    def __init__(self, connect: Callable[[], Any], *, resolve_serials: bool = False,
                 clock: Clock = utc_now, rule: TimeRule | None = None) -> None:
        self._connect = connect
        self._conn: Any = None
        self._resolve = resolve_serials
        self._clock = clock
        self._rule = rule or TimeRule()
        self._ids: dict[str, int] = {}

    def __call__(self, batch: SpoolBatch) -> object:
        import psycopg

        from collector.store import write_passes

        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            with self._conn.transaction():
                passes = self._with_sign_ids(batch) if self._resolve else batch.passes
                # the spool keeps no receive time: a pass is judged against the moment it is written
                result = write_passes(self._conn, passes, received=self._clock(), rule=self._rule)
        except psycopg.OperationalError:
            self.close()  # reconnect on the next batch
            raise
        for r in result.rejected:
            log.warning("database rejected pass %s of batch %s: %s",
                        batch.passes[r.index].key, batch.batch_id, r)
        return result

    def _with_sign_ids(self, batch: SpoolBatch) -> list:
        from dataclasses import replace

        missing = {e.sign for e in batch.entries if e.vehicle.sign_id is None} - self._ids.keys()
        if missing:
            found = lookup_signs(self._conn, missing, self._clock())
            self._ids.update({serial: info.sign_id for serial, info in found.items()})
            unknown = sorted(missing - found.keys())
            if unknown:
                raise SignLookupError(
                    f"sign serial {unknown[0]!r} of batch {batch.batch_id} is not in the database; "
                    "its passes stay spooled until it is; " + REGISTER_HINT.format(
                        serial=unknown[0], protocol="PROTOCOL", unit="UNIT"))
        return [e.vehicle if e.vehicle.sign_id is not None
                else replace(e.vehicle, sign_id=self._ids[e.sign]) for e in batch.entries]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def make_sink(settings: CollectorSettings, connect: Callable[[], Any] | None = None, *,
              resolve_serials: bool = False) -> Sink:
    """The forwarder when ``forward_url`` is set (edge mode), else the database write path.

    Without ``resolve_serials`` every source must carry its ``sign_id``.
    """
    if settings.forward_url is not None and settings.forward_token is not None:
        from collector.forward import Forwarder

        return Forwarder(
            str(settings.forward_url), settings.forward_token.get_secret_value(),
            timeout=settings.forward_timeout_s,
        )
    if connect is None:
        raise ValueError("no forward_url and no database connection given; set forward_url "
                         "and forward_token for edge mode, or pass a connect function")
    missing = [s.sign_serial for s in settings.sources if s.sign_id is None]
    if missing and not resolve_serials:
        raise ValueError(f"sources {missing!r} have no sign_id; writing to the database needs "
                         "each sign's database id (or use forward_url)")
    return StoreSink(connect, resolve_serials=resolve_serials, rule=settings.time_rule())
