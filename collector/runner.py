"""The serial collector: sources → parser → grouper → keyed passes → spool → sink.

One reader thread per serial source moves bytes into a ``SourcePipeline``, which parses,
groups, keys and spools them. The calling thread runs the ``Drainer`` (``collector.drain``),
which sends spooled batches to the sink: it sleeps until a reader thread spools a pass (or a
part-filled batch is due, or a retry) rather than looking at the spool on a timer. Every
``heartbeat_interval_s`` a ``Heartbeat`` per sign goes to a hook.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from collector import protocols
from collector.config import CollectorSettings, SerialSource
from collector.drain import Drainer, DrainStats, Sink
from collector.grouping import ENDS_ON_IDLE, Grouper
from collector.heartbeat import Heartbeat, HeartbeatHook, SignMonitor, log_heartbeat
from collector.passes import VehiclePass, pass_key
from collector.protocols import Parser
from collector.reading import Reading
from collector.serialport import Clock, SerialReader, utc_now
from collector.spool import Spool

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)


ParserFactory = Callable[[SerialSource], Parser]
GrouperFactory = Callable[[SerialSource], Grouper]


def default_parser(source: SerialSource) -> Parser:
    options = dict(source.parser_options)
    if source.unit is not None:
        options["unit"] = source.unit
    return protocols.make_parser(source.protocol, **options)


def default_grouper(source: SerialSource, **extra: Any) -> Grouper:
    """The source's grouper; a protocol whose idle line means "target gone" ends runs on it
    (``grouping_options`` may say otherwise with ``ends_on_idle``). ``extra`` are more
    ``Grouper`` options (``on_end``)."""
    options = {"ends_on_idle": source.protocol in ENDS_ON_IDLE, **source.grouping_options, **extra}
    return Grouper(
        gap_s=source.grouping_gap_s, angle_deg=source.mounting_angle_deg,
        sign_id=source.sign_id, **options,
    )


class SourcePipeline:
    """Bytes from one sign → keyed passes in the spool. Called from one reader thread only.

    Keys are ``pass_key("serial:<sign serial>", time in µs, run id, sequence)``: the run id
    (new each start) and the per-source sequence make them unique, and they are fixed once
    the pass is spooled. The grouper corrects speeds for the mounting angle.
    """

    def __init__(
        self,
        source: SerialSource,
        spool: Spool,
        monitor: SignMonitor,
        *,
        make_parser: ParserFactory = default_parser,
        make_grouper: GrouperFactory = default_grouper,
    ) -> None:
        self.source = source
        self._spool = spool
        self._monitor = monitor
        self._make_parser = make_parser
        self._parser = make_parser(source)
        self._grouper = make_grouper(source)
        self._run_id = uuid.uuid4().hex
        self._seq = 0

    def on_data(self, chunk: bytes, received_at: datetime) -> None:
        self._monitor.data(len(chunk), received_at)
        try:
            readings = self._parser.feed(chunk, received_at)
        except Exception:  # a parser bug must not stop the sign; start a fresh parser
            log.exception(
                "sign %s: parser %r failed on %r; counted as malformed, parser restarted",
                self.source.sign_serial, self.source.protocol, chunk,
            )
            self._monitor.reading("malformed")
            self._parser = self._make_parser(self.source)
            readings = []
        self._handle(readings, received_at)

    def on_tick(self, now: datetime) -> None:
        self._spool_passes(self._grouper.flush(now))

    def on_disconnect(self, now: datetime) -> None:
        """The device is gone: its half line is flushed (not glued to the first bytes after
        the reopen) and the vehicle in progress, if any, is over."""
        self.close(now)

    def close(self, now: datetime) -> None:
        """End of input: everything buffered becomes readings and passes."""
        self._handle(self._parser.flush(now), now)
        self._spool_passes(self._grouper.flush(None))

    def _handle(self, readings: Iterable[Reading], received_at: datetime) -> None:
        passes: list[VehiclePass] = []
        for r in readings:
            self._monitor.reading(r.kind, r.device_time, r.received_at)
            passes.extend(self._grouper.push(r))  # every kind moves the grouper's time on
            if r.kind == "malformed":
                n = self._monitor.readings["malformed"]
                if n <= 20 or n % 100 == 0:
                    log.warning(
                        "sign %s: malformed %s input %r: %s (%d malformed so far)",
                        self.source.sign_serial, self.source.protocol, r.raw, r.error, n,
                    )
            elif r.kind == "reply":
                log.info("sign %s: device reply %r", self.source.sign_serial, r.raw)
            elif r.kind == "bin":
                log.warning(
                    "sign %s: binned counts %r are not vehicle passes and are not stored; "
                    "switch the device to per-vehicle output", self.source.sign_serial, r.raw,
                )
        self._spool_passes(passes)

    def _spool_passes(self, passes: list[VehiclePass]) -> None:
        if not passes:
            return
        keyed = []
        for p in passes:
            keyed.append(replace(
                p,
                sign_id=self.source.sign_id if p.sign_id is None else p.sign_id,
                key=pass_key(self.source.namespace, (p.time - _EPOCH) // _US, self._run_id, self._seq),
            ))
            self._seq += 1
        self._monitor.spooled(self._spool.append(self.source.sign_serial, keyed))


@dataclass
class RunResult:
    """What a run did: drain counts and the last heartbeat of each sign."""

    drained: DrainStats
    heartbeats: dict[str, Heartbeat] = field(default_factory=dict)
    pending: int = 0


def run(
    settings: CollectorSettings,
    sink: Sink,
    stop: threading.Event,
    *,
    clock: Clock = utc_now,
    make_parser: ParserFactory = default_parser,
    make_grouper: GrouperFactory = default_grouper,
    on_heartbeat: HeartbeatHook = log_heartbeat,
    open_port: Callable[..., Any] | None = None,
) -> RunResult:
    """Collect from every serial source into the spool and drain it to ``sink`` until ``stop``.

    Returns after ``stop`` is set (or a source thread failed, which is re-raised) with the
    readers stopped, buffered readings flushed into the spool and one last drain attempt made.
    """
    pipelines: list[SourcePipeline] = []
    readers: list[SerialReader] = []
    monitors: list[SignMonitor] = []
    started = clock()
    with Spool(settings.spool_path) as spool:
        for i, source in enumerate(settings.sources):
            monitor = SignMonitor(source.sign_serial, started)
            try:
                pipeline = SourcePipeline(
                    source, spool, monitor, make_parser=make_parser, make_grouper=make_grouper
                )
            except ValueError as e:
                raise ValueError(f"sources[{i}] (sign {source.sign_serial!r}): {e}") from e
            extra = {} if open_port is None else {"open_port": open_port}
            readers.append(SerialReader(
                source.port, pipeline.on_data, baudrate=source.baudrate,
                bytesize=source.bytesize, parity=source.parity, stopbits=source.stopbits,
                read_timeout=settings.read_timeout_s, backoff_min=settings.reopen_backoff_min_s,
                backoff_max=settings.reopen_backoff_max_s, on_tick=pipeline.on_tick,
                on_disconnect=pipeline.on_disconnect, clock=clock, **extra,
            ))
            if not source.port.startswith("/dev/serial/by-id/"):
                log.info("sign %s: port %s is not a /dev/serial/by-id/ path; it may get another "
                         "name after an unplug", source.sign_serial, source.port)
            pipelines.append(pipeline)
            monitors.append(monitor)
        drainer = Drainer(
            spool, sink, batch_size=settings.batch_size,
            max_batch_age_s=settings.max_batch_age_s, backoff_min=settings.sink_backoff_min_s,
            backoff_max=settings.sink_backoff_max_s, clock=clock,
        )
        result = RunResult(drained=drainer.stats)

        def beat() -> None:
            now = clock()
            for monitor, reader in zip(monitors, readers, strict=False):
                hb = monitor.heartbeat(now, reader.connected.is_set())
                result.heartbeats[hb.sign] = hb
                try:
                    on_heartbeat(hb)
                except Exception:
                    log.exception("heartbeat hook failed for sign %s", hb.sign)

        halt = threading.Event()  # stops the readers: on stop, or when a reader thread fails
        failures: list[BaseException] = []
        threads = [
            threading.Thread(target=_guarded, args=(r, halt, failures), name=f"serial {r.port}",
                             daemon=True)
            for r in readers
        ]
        try:
            for t in threads:
                t.start()
            next_beat = time.monotonic() + settings.heartbeat_interval_s
            while not stop.is_set() and not halt.is_set():
                wait = drainer.step()
                if time.monotonic() >= next_beat:
                    beat()
                    next_beat = time.monotonic() + settings.heartbeat_interval_s
                # an append wakes this at once; the 0.5 s cap is only how soon ``stop`` is seen
                spool.wait_appended(min(wait, max(0.0, next_beat - time.monotonic()), 0.5))
        finally:
            halt.set()
            for t in threads:
                t.join(settings.read_timeout_s + 5)
                if t.is_alive():
                    log.error("%s did not stop in time", t.name)
        now = clock()
        for pipeline in pipelines:
            pipeline.close(now)
        if not drainer.finish():
            log.warning("stopping with %d passes still spooled; they are sent on the next start",
                        spool.pending())
        beat()
        result.pending = spool.pending()
    if failures:
        raise RuntimeError(f"a serial reader failed: {failures[0]!r}") from failures[0]
    return result


def _guarded(reader: SerialReader, halt: threading.Event, failures: list[BaseException]) -> None:
    try:
        reader.run(halt)
    except BaseException as e:
        log.exception("reader of %s failed; stopping the collector", reader.port)
        failures.append(e)
        halt.set()
