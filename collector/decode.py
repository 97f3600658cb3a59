"""Decoding captured or piped sensor bytes into readings: the body of ``collector decode``.

A technician pipes a serial port or a capture file through it to see, line by line, what
the collector makes of a sign: ``kind``, speed in km/h, direction, errors naming the field.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, BinaryIO, TextIO

from collector.grouping import DEFAULT_GAP_S, ENDS_ON_IDLE, Grouper
from collector.heartbeat import MAX_AHEAD_S, UNIX_FROM
from collector.passes import VehiclePass
from collector.protocols import PROTOCOLS, Parser, make_parser
from collector.reading import Reading

CHUNK = 4096
Stamp = datetime | Callable[[], datetime]


def decode(
    protocol: str,
    data: bytes | Iterable[bytes],
    /,
    *,
    received_at: Stamp,
    unit: str | None = None,
    **options: Any,
) -> Iterator[Reading]:
    """Readings for ``data`` (all bytes, or chunks as they arrived) in ``protocol``.

    ``received_at`` is a UTC datetime for every chunk, or a function called once per chunk
    (e.g. a clock, at the I/O edge). ``unit`` and ``options`` configure the parser (see
    ``collector.protocols``); a bad name or option raises ``ValueError`` before any output.
    """
    if unit is not None:
        options["unit"] = unit
    parser = make_parser(protocol, **options)  # raises now, not at the first next()
    chunks = [bytes(data)] if isinstance(data, bytes | bytearray) else data
    return _readings(parser, chunks, received_at)


def _readings(parser: Parser, chunks: Iterable[bytes], received_at: Stamp) -> Iterator[Reading]:
    def stamp() -> datetime:
        return received_at if isinstance(received_at, datetime) else received_at()

    last: datetime | None = None
    for chunk in chunks:
        last = stamp()
        yield from parser.feed(chunk, last)
    yield from parser.flush(last or stamp())


class OwnTimes:
    """Readings re-timed by their own clock, so that vehicles grouped from a capture keep the
    times the sign gave its readings, not the moment the file was read.

    A device time in Unix seconds (see ``collector.heartbeat.UNIX_FROM``) is that instant; one
    counted from power-on is placed after the receive time of the first such reading by its
    distance from it (a count that goes backwards, a restart, starts over); a reading without
    one keeps its receive time.
    """

    def __init__(self) -> None:
        self._anchor: tuple[float, datetime] | None = None

    def __call__(self, r: Reading) -> Reading:
        t = r.device_time
        if t is None or not math.isfinite(t):
            return r
        if UNIX_FROM <= t <= r.received_at.timestamp() + MAX_AHEAD_S:
            return replace(r, received_at=datetime.fromtimestamp(t, timezone.utc))
        if self._anchor is None or t < self._anchor[0]:
            self._anchor = (t, r.received_at)
        d0, r0 = self._anchor
        return replace(r, received_at=r0 + timedelta(seconds=t - d0))


def pass_json(p: VehiclePass) -> dict[str, Any]:
    """The JSON shape of a grouped vehicle in ``decode --group`` output."""
    out: dict[str, Any] = {
        "kind": "vehicle",
        "time": p.time.isoformat(),
        "speed_kmh": round(p.speed_kmh, 4),
        "direction": p.direction.name.lower(),
    }
    if p.length_m is not None:
        out["length_m"] = round(p.length_m, 4)
    return out


def _chunks(source: BinaryIO, size: int) -> Iterator[bytes]:
    read = getattr(source, "read1", None) or source.read  # read1: don't wait for a full chunk
    while chunk := read(size):
        yield chunk


def run_decode(
    protocol: str,
    unit: str | None,
    source: BinaryIO,
    out: TextIO,
    group: bool = False,
    *,
    options: Mapping[str, Any] | None = None,
    gap_s: float = DEFAULT_GAP_S,
    angle_deg: float = 0.0,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> int:
    """Decode ``source`` and print one JSON object a line to ``out``; returns an exit code.

    Prints every reading (``Reading.to_json_dict``), or with ``group`` only the vehicles
    (``pass_json``) found by grouping with ``gap_s`` and ``angle_deg`` (and, for a protocol
    whose idle line marks the end of a vehicle, at that line, as ``collector run`` does). Chunks are stamped by
    ``now`` as they are read, so grouping a live pipe works; vehicles are timed by the
    readings' own device times where the protocol has them (``OwnTimes``), so a capture
    file's vehicles keep their times. Returns 0, or 1 when there was input and every
    reading of it was malformed (most likely the wrong protocol, unit or baud rate). Raises
    ``ValueError`` for an unknown protocol, unit or option.
    """
    opts = dict(options or {})
    if "unit" in opts:  # `-o unit=kmh`: the same as --unit
        given = opts.pop("unit")
        if unit is not None and given != unit:
            raise ValueError(f"--unit {unit!r} and -o unit={given!r} disagree: give the unit once")
        unit = given
    if unit is not None and not isinstance(unit, str):
        raise ValueError(f"unit {unit!r} is not a unit name: use kmh, mps, mph, fps or cms")
    parser = make_parser(protocol, **({"unit": unit} if unit is not None else {}), **opts)
    readings = _readings(parser, _chunks(source, CHUNK), now)
    grouper = (Grouper(gap_s=gap_s, angle_deg=angle_deg, ends_on_idle=protocol in ENDS_ON_IDLE)
               if group else None)
    own_time = OwnTimes()
    seen = understood = 0
    for reading in readings:
        seen += 1
        understood += reading.kind != "malformed"
        if grouper is None:
            _print(out, reading.to_json_dict())
        else:
            for p in grouper.push(own_time(reading)):
                _print(out, pass_json(p))
    if grouper is not None:
        for p in grouper.flush():
            _print(out, pass_json(p))
    return 1 if seen and not understood else 0


def _print(out: TextIO, obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()


def _option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"option {text!r} is not KEY=VALUE")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def main(
    argv: Sequence[str] | None = None,
    stdin: BinaryIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``decode --protocol P [--unit U] [--group] [-o KEY=VALUE ...] [FILE]``; exit code."""
    stderr = stderr or sys.stderr
    parser = argparse.ArgumentParser(prog="decode", description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", required=True, help="one of " + ", ".join(PROTOCOLS))
    parser.add_argument("--unit", help="unit the device sends: kmh, mps, mph, fps, cms")
    parser.add_argument("--group", action="store_true", help="print vehicles, not readings")
    parser.add_argument("--gap", type=float, default=DEFAULT_GAP_S, help="grouping gap, s")
    parser.add_argument("--angle", type=float, default=0.0, help="mounting angle, degrees")
    parser.add_argument("-o", "--option", type=_option, action="append", default=[],
                        help="parser option KEY=VALUE (VALUE as JSON, else text)")
    parser.add_argument("file", nargs="?", default="-", help="capture file; - for stdin")
    args = parser.parse_args(argv)
    try:
        if args.file == "-":
            source = stdin or sys.stdin.buffer
            return run_decode(args.protocol, args.unit, source, stdout or sys.stdout,
                              args.group, options=dict(args.option), gap_s=args.gap,
                              angle_deg=args.angle)
        with open(args.file, "rb") as source:
            return run_decode(args.protocol, args.unit, source, stdout or sys.stdout,
                              args.group, options=dict(args.option), gap_s=args.gap,
                              angle_deg=args.angle)
    except (ValueError, OSError) as exc:
        stderr.write(f"decode: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
