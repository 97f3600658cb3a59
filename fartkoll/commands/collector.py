"""`fartkoll collector run | probe | decode | simulate`: radar signs on serial ports."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from ..settings import Settings

BAUDS = "9600, 19200, 1200, 115200, 57600, 38400, 4800, 2400"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collector", help="read radar signs on serial ports; probe, decode and simulate them")
    c = p.add_subparsers(dest="collector_cmd", required=True, metavar="ACTION")

    run = c.add_parser("run", help="collect from the configured serial ports until stopped (SIGINT/SIGTERM)")
    run.add_argument("--config", dest="collector_config", metavar="FILE",
                     help="TOML settings file with [collector] and [[collector.sources]]")
    run.add_argument("--port", help="one ad-hoc source instead of the configured ones: its device path")
    run.add_argument("--protocol", help="ad-hoc source: wire format (see `collector decode --help`)")
    run.add_argument("--unit", help="ad-hoc source: the unit the device is set to")
    run.add_argument("--sign", metavar="SERIAL", help="ad-hoc source: the sign's serial number")
    run.add_argument("--baud", type=int, help="ad-hoc source: baud rate (default 9600)")
    run.add_argument("--spool", metavar="PATH", help="spool file (default: settings collector.spool_path)")
    run.add_argument("--forward", metavar="URL", help="edge mode: push to this central server instead of the database")
    run.add_argument("--token", help="edge mode: the bearer token for --forward")
    run.add_argument("--heartbeat-interval", type=float, metavar="SECONDS",
                     help="seconds between heartbeats (stored, or posted to --forward's "
                          "/api/v1/ingest/heartbeat; default: settings collector.heartbeat_interval_s, 60)")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.set_defaults(handler=run_collector)

    probe = c.add_parser("probe", help="find out what a device on a serial port speaks (baud rate, format, unit)")
    probe.add_argument("port", help="device path, e.g. /dev/serial/by-id/usb-...")
    probe.add_argument("--baud", type=int, action="append",
                       help=f"baud rate to try (repeatable; default in turn {BAUDS})")
    probe.add_argument("--seconds", type=float, default=3.0, help="seconds to listen per baud rate (default 3)")
    probe.add_argument("--unit", help="decode with this unit (formats that do not send one)")
    probe.add_argument("--setup-ops", action="store_true",
                       help="first send OmniPreSense set-up (UK km/h, OJ JSON, ON vehicle mode, C=<clock>) "
                            "at the first --baud (default 19200) and show the replies")
    probe.add_argument("--json", action="store_true", help="print the report as JSON")
    probe.set_defaults(handler=run_probe)

    dec = c.add_parser("decode", help="decode a capture (file or stdin) to JSON lines: kind, speed, direction, time, raw")
    dec.add_argument("--protocol", required=True, help="wire format, e.g. hlk-ld2415h, ops-json, houston-dr500")
    dec.add_argument("--unit", help="unit the device sends: kmh, mps, mph, fps, cms")
    dec.add_argument("--group", action="store_true", help="print vehicles (grouped runs), not readings")
    dec.add_argument("--gap", type=float, default=None, help="grouping gap in seconds (default 0.8)")
    dec.add_argument("--angle", type=float, default=0.0, help="mounting angle in degrees for --group")
    dec.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                     help="parser option, VALUE as JSON or text (e.g. pattern=... for regex)")
    dec.add_argument("file", nargs="?", default="-", help="capture file with the raw bytes; - or none for stdin")
    dec.set_defaults(handler=run_decode)

    sim = c.add_parser("simulate", help="play a radar sign on a pseudo-terminal and print its path")
    sim.add_argument("--protocol", required=True,
                     help="wire format to send: any name `decode` and `run` take (e.g. ops-json, houston-dr500)")
    sim.add_argument("--form", help="ops-json only: speed (streaming OJ speeds, default), vehicle (ON) or object (OC)")
    sim.add_argument("--unit", help="unit the simulated device is set to")
    sim.add_argument("--rate", type=float, default=1.0, help="speed-up factor (2 = twice real time)")
    sim.add_argument("--seconds", type=float, help="stop after this many (wall-clock) seconds")
    sim.add_argument("--vehicles-per-minute", type=float, default=12.0, help="traffic volume (default 12)")
    sim.add_argument("--mean-kmh", type=float, default=45.0, help="mean speed (default 45)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.set_defaults(handler=run_simulate)


def _fail(what: str, message: object) -> int:
    print(f"fartkoll collector {what}: {message}", file=sys.stderr)
    return 2


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM (the previous handlers come back afterwards)."""
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def collector_settings(settings: Settings, args: argparse.Namespace):
    """The collector settings with the command line's overrides applied (validated)."""
    from collector.config import CollectorSettings

    cs = settings.collector
    values = cs.model_dump()
    adhoc = [args.port, args.protocol, args.sign]
    if any(adhoc) or args.unit or args.baud:
        if not all(adhoc):
            raise ValueError("an ad-hoc source needs --port, --protocol and --sign together "
                             f"(got --port {args.port!r}, --protocol {args.protocol!r}, --sign {args.sign!r})")
        src = {"port": args.port, "protocol": args.protocol, "sign_serial": args.sign, "unit": args.unit}
        if args.baud:
            src["baudrate"] = args.baud
        values["sources"] = [src]
    if args.spool:
        values["spool_path"] = args.spool
    if args.forward or args.token:
        values["forward_url"], values["forward_token"] = args.forward, args.token
    if args.heartbeat_interval is not None:
        values["heartbeat_interval_s"] = args.heartbeat_interval
    return CollectorSettings.model_validate(values)


def run_collector(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg
    import pydantic

    from collector.drain import SignLookupError, make_sink, resolve_sources
    from collector.forward_heartbeats import HeartbeatForwarder
    from collector.health_store import HealthStore
    from collector.runner import run
    from collector.spool import SpoolError

    if args.collector_config:
        settings = Settings.load(args.collector_config)
    try:
        cs = collector_settings(settings, args)
    except (ValueError, pydantic.ValidationError) as e:
        return _fail("run", e)
    if not cs.sources:
        return _fail("run", "no serial sources: add [[collector.sources]] to the settings file "
                            "(or FARTKOLL_COLLECTOR__SOURCES) or give --port, --protocol and --sign")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=args.log_level, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sink = hook = None
    try:
        if cs.forward_url is not None:
            sink = make_sink(cs)
            hook = HeartbeatForwarder(str(cs.forward_url), cs.forward_token.get_secret_value(),
                                      timeout=min(cs.forward_timeout_s, 10.0))
        else:
            dsn = settings.database_dsn()

            def connect() -> psycopg.Connection:
                return psycopg.connect(dsn, connect_timeout=5)

            cs = resolve_sources(cs, connect, datetime.now(timezone.utc))
            sink, hook = make_sink(cs, connect, resolve_serials=True), HealthStore(connect)
        with _stop_on_signals() as stop:
            result = run(cs, sink, stop, on_heartbeat=hook)
    except (SignLookupError, SpoolError, ValueError) as e:
        return _fail("run", e)
    finally:
        for used in (sink, hook):
            getattr(used, "close", lambda: None)()
    print(f"stopped: {result.drained.passes} passes stored in {result.drained.batches} batches, "
          f"{result.pending} still spooled in {cs.spool_path}", file=sys.stderr)
    return 0


def run_probe(args: argparse.Namespace, settings: Settings) -> int:
    import json

    import serial

    from collector.probe import BAUD_RATES, ops_setup_commands, probe, send_commands

    bauds = args.baud or list(BAUD_RATES)
    if args.seconds <= 0 or any(b <= 0 for b in bauds):
        return _fail("probe", f"--seconds {args.seconds} and --baud {bauds} must be positive")
    try:
        replies = []
        if args.setup_ops:
            commands = ops_setup_commands(datetime.now(timezone.utc))
            replies = send_commands(args.port, args.baud[0] if args.baud else 19200, commands)
        progress = _ProbeProgress()
        try:
            report = probe(args.port, bauds, args.seconds, unit=args.unit, progress=progress)
        finally:
            progress.finish()
    except (serial.SerialException, OSError) as e:
        return _fail("probe", f"cannot read {args.port}: {e}; check the path (ls /dev/serial/by-id/) "
                              "and that no collector holds the port")
    except ValueError as e:
        return _fail("probe", e)
    report.replies = replies
    print(json.dumps(report.to_json_dict(), indent=2) if args.json else report.to_text())
    return 0 if report.best is not None else 1


class _ProbeProgress:
    """Progress on stderr: one line rewritten in place on a terminal, a line per baud rate otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.baud: int | None = None
        self.open_line = False

    def __call__(self, p) -> None:
        if self.tty:
            print(f"\r\x1b[K{p.to_text()}", end="\n" if p.confident else "", file=sys.stderr, flush=True)
            self.open_line = not p.confident
        elif p.confident or self.baud != p.baud:
            print(p.to_text(), file=sys.stderr, flush=True)
        self.baud = p.baud

    def finish(self) -> None:
        if self.open_line:
            print(file=sys.stderr, flush=True)


def run_decode(args: argparse.Namespace, settings: Settings) -> int:
    import argparse as _argparse

    from collector.decode import _option
    from collector.decode import run_decode as decode
    from collector.grouping import DEFAULT_GAP_S

    try:
        options = dict(_option(o) for o in args.option)
    except _argparse.ArgumentTypeError as e:
        return _fail("decode", e)
    gap = DEFAULT_GAP_S if args.gap is None else args.gap
    try:
        if args.file == "-":
            rc = decode(args.protocol, args.unit, sys.stdin.buffer, sys.stdout, args.group,
                        options=options, gap_s=gap, angle_deg=args.angle)
        else:
            with open(args.file, "rb") as source:
                rc = decode(args.protocol, args.unit, source, sys.stdout, args.group,
                            options=options, gap_s=gap, angle_deg=args.angle)
        if rc == 1:
            print(f"fartkoll collector decode: no reading of the input was understood as {args.protocol}: "
                  "check --protocol, --unit and the baud rate (`fartkoll collector probe PORT`)",
                  file=sys.stderr)
        return rc
    except ValueError as e:
        return _fail("decode", e)
    except OSError as e:
        return _fail("decode", f"cannot read {args.file}: {e.strerror or e}")


def run_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from collector.encode import REGEX_PATTERN, encoder_for
    from collector.simulate_pty import open_simulated_sign, random_traffic

    try:
        encoder = encoder_for(args.protocol, args.form)
    except ValueError as e:
        return _fail("simulate", e)
    if not (args.rate > 0 and args.vehicles_per_minute > 0 and args.mean_kmh > 0):
        return _fail("simulate", "--rate, --vehicles-per-minute and --mean-kmh must be above 0")
    try:  # the first vehicle now, so a bad unit fails before the path is printed
        next(iter(random_traffic(encoder, args.unit, 1.0, args.mean_kmh, args.seed)))
    except ValueError as e:
        return _fail("simulate", e)
    chunks = random_traffic(encoder, args.unit, 60.0 / args.vehicles_per_minute,
                            args.mean_kmh, args.seed)
    if args.protocol == "regex":
        print(f"read it with --protocol regex --unit kmh -o 'pattern={REGEX_PATTERN}'", file=sys.stderr)
    with _stop_on_signals() as stop:
        path, sign = open_simulated_sign(chunks, args.rate)
        print(path, flush=True)
        stop.wait(args.seconds)
        sign.stop()
        sign.join(2)
    return 0
