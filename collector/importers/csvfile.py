"""Generic per-vehicle CSV: one row per vehicle, columns named by options, into vehicle passes.

Keys come from each row's content (see :mod:`.perpass`): the same vehicles imported again in
another encoding, order, line ending or with rows appended store nothing twice. Rows with a bad
value are rejected naming the line, column and value; the rest are stored. Lines are read in
bounded memory (see :mod:`.textfile`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

import psycopg

from collector.passes import Direction, Display, VehiclePass
from collector.plausible import TimeRule
from collector.units import to_kmh, unit_name

from . import columns, places
from .perpass import store_passes
from .report import ImportSummary, Problem
from .textfile import Lines, check_encoding, csv_rows, header

DEFAULT_DIRECTIONS = {
    "approaching": Direction.APPROACHING, "receding": Direction.RECEDING, "unknown": Direction.UNKNOWN,
    "+": Direction.APPROACHING, "-": Direction.RECEDING, "": Direction.UNKNOWN,
}


def direction_map(spec: str | None) -> dict[str, Direction]:
    """The default tokens plus ``TOKEN=approaching|receding|unknown`` pairs, comma-separated
    (e.g. ``"A=approaching,C=receding,1=approaching,0=receding"``); tokens compare case-insensitively."""
    out = dict(DEFAULT_DIRECTIONS)
    for pair in (spec or "").split(","):
        if not pair.strip():
            continue
        token, sep, name = pair.partition("=")
        if not sep:
            raise places.ImportFailed(f"--direction-map entry {pair!r} is not TOKEN=approaching|receding|unknown")
        try:
            out[token.strip().lower()] = Direction.from_name(name)
        except ValueError as e:
            raise places.ImportFailed(f"--direction-map entry {pair!r}: {e}") from None
    return out


@dataclass(frozen=True)
class CsvOptions:
    """How to read the file. ``time_format``: ``iso`` (ISO 8601), ``unix`` (seconds), ``unix_ms``
    or a ``strptime`` format. ``tz`` applies to times without a UTC offset."""

    unit: str
    time_col: str = "time"
    speed_col: str = "speed"
    direction_col: str | None = None
    length_col: str | None = None
    tz: str | None = None
    decimal_comma: bool = False
    delimiter: str | None = None      # None: ';' with a decimal comma, else ','
    time_format: str = "iso"
    encoding: str = "utf-8"
    directions: dict[str, Direction] = field(default_factory=lambda: dict(DEFAULT_DIRECTIONS))


def _number(raw: str, decimal_comma: bool) -> float:
    s = raw.strip().replace(" ", "")
    if decimal_comma:
        s = s.replace(".", "").replace(",", ".") if "," in s else s
    return float(s)


def _time(raw: str, opts: CsvOptions, zone: ZoneInfo | None) -> datetime:
    s = raw.strip()
    if opts.time_format == "unix":
        return datetime.fromtimestamp(_number(s, opts.decimal_comma), timezone.utc)
    if opts.time_format == "unix_ms":
        return datetime.fromtimestamp(_number(s, opts.decimal_comma) / 1000, timezone.utc)
    t = datetime.fromisoformat(s) if opts.time_format == "iso" else datetime.strptime(s, opts.time_format)
    if t.tzinfo is None:
        if zone is None:
            raise ValueError("has no UTC offset: give --tz")
        t = t.replace(tzinfo=zone)
    return t.astimezone(timezone.utc)


def parse_rows(rows: Iterable[tuple[int, dict[str, str]] | Problem], opts: CsvOptions, *,
               sign_id: int | None, site_id: int | None, display: Display | None
               ) -> Iterator[tuple[str, VehiclePass] | Problem]:
    """``(line number, row)`` pairs as passes (speeds as stored, no key) or problems, in file order."""
    unit = unit_name(opts.unit)
    zone = ZoneInfo(opts.tz) if opts.tz else None
    for item in rows:
        if isinstance(item, Problem):
            yield item
            continue
        line, row = item
        record = f"line {line}"
        raw = row.get(opts.time_col) or ""
        try:
            t = _time(raw, opts, zone)
        except (ValueError, OverflowError, OSError) as e:
            yield Problem(record, opts.time_col, raw, str(e) if "--tz" in str(e) else f"not a time ({opts.time_format})")
            continue
        raw = row.get(opts.speed_col) or ""
        try:
            speed = columns.speed_kmh(to_kmh(_number(raw, opts.decimal_comma), unit))
        except (ValueError, OverflowError):
            yield Problem(record, opts.speed_col, raw, f"not a number ({unit})")
            continue
        if isinstance(speed, str):
            yield Problem(record, opts.speed_col, raw, f"{speed} ({unit} in the file)")
            continue
        direction = Direction.UNKNOWN
        if opts.direction_col:
            raw = (row.get(opts.direction_col) or "").strip()
            if raw.lower() not in opts.directions:
                yield Problem(record, opts.direction_col, raw,
                              f"not a known direction token ({', '.join(repr(k) for k in opts.directions if k)}); "
                              "map it with --direction-map")
                continue
            direction = opts.directions[raw.lower()]
        length = None
        if opts.length_col:
            raw = (row.get(opts.length_col) or "").strip()
            if raw:
                try:
                    length = columns.length_m(_number(raw, opts.decimal_comma))
                except ValueError:
                    yield Problem(record, opts.length_col, raw, "not a number (metres)")
                    continue
                if isinstance(length, str):
                    yield Problem(record, opts.length_col, raw, length)
                    continue
        yield record, VehiclePass(time=t, speed_kmh=speed, direction=direction, sign_id=sign_id, site_id=site_id,
                                  display=display, length_m=length)


def count_lines(path: str) -> int:
    """The file's number of lines (read in chunks)."""
    lines = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            lines += chunk.count(b"\n")
    return lines


def import_csv(conn: psycopg.Connection, path: str, opts: CsvOptions, *, rule: TimeRule, received: datetime,
               site: str | None = None, sign: str | None = None, display: int | None = None,
               after_batch: Callable[[ImportSummary], object] = lambda s: None) -> ImportSummary:
    """Import a per-vehicle CSV onto an existing site (``display`` default stealth) or an existing
    sign (its deployments give site and display mode). Times outside ``rule`` for an import at
    ``received`` are rejected. Never commits."""
    if (site is None) == (sign is None):
        raise places.ImportFailed("give exactly one of --site NAME and --sign SERIAL")
    try:
        unit_name(opts.unit)
    except ValueError as e:
        raise places.ImportFailed(f"--unit: {e}") from None
    encoding = check_encoding(opts.encoding)
    try:
        lines = count_lines(path)
    except OSError as e:
        raise places.ImportFailed(f"{path}: {e.strerror}") from None
    summary = ImportSummary("csv", path, unit="rows", stored_unit="vehicles")
    summary.total = max(lines - 1, 0)
    summary.note(f"speeds read as {unit_name(opts.unit)}" + (f", times without offset as {opts.tz}" if opts.tz else ""))
    if encoding != "utf-8":
        summary.note(f"text read as {encoding}")
    site_id = sign_id = None
    mode: Display | None = None
    if site is not None:
        site_id = places.existing_site(conn, site)
        mode = Display(display or 0)
        summary.note(f"display mode: {'display' if mode else 'stealth'}"
                     + ("" if display is not None else " (the default; give --display display if the sign showed speeds)"))
    else:
        sign_id = places.existing_sign(conn, sign)
        if display is not None:
            mode = Display(display)
        summary.note("site and display mode from the sign's deployments" if display is None else
                     f"site from the sign's deployments, display mode: {'display' if display else 'stealth'}")
    delimiter = opts.delimiter or (";" if opts.decimal_comma else ",")
    if len(delimiter) != 1:
        raise places.ImportFailed(f"--delimiter {delimiter!r} must be one character")
    with open(path, "rb") as f:
        text = Lines(f, path, encoding)
        names = header(text, delimiter)
        wanted = [c for c in (opts.time_col, opts.speed_col, opts.direction_col, opts.length_col) if c]
        missing = [c for c in wanted if c not in names]
        if missing:
            raise places.ImportFailed(f"{path}: no column {', '.join(repr(c) for c in missing)} (delimiter {delimiter!r}); "
                                      f"the header has {', '.join(repr(h) for h in names[:20])}: use --time-col, --speed-col, "
                                      "--direction-col, --length-col or --delimiter")
        store_passes(conn, parse_rows(csv_rows(text, names, delimiter), opts, sign_id=sign_id, site_id=site_id,
                                      display=mode), summary, source="csv", rule=rule, received=received,
                     time_field=opts.time_col, after_batch=after_batch)
    return summary
