"""Generic per-vehicle CSV: one row per vehicle, columns named by options, into vehicle passes.

Keys: ``pass_key("csv:<sha256 of the file>", data row number)`` — the same file imported again,
or after an interruption, stores nothing twice. Rows with a bad value are rejected naming the
line, column and value; the rest are stored.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

import psycopg

from collector.passes import Direction, Display, VehiclePass, pass_key
from collector.units import to_kmh, unit_name

from . import places
from .perpass import store_passes
from .report import ImportSummary, Problem

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
    return t


def parse_rows(rows: Iterable[tuple[int, int, dict[str, str]]], opts: CsvOptions, *, namespace: str,
               sign_id: int | None, site_id: int | None, display: Display | None
               ) -> Iterator[tuple[str, VehiclePass] | Problem]:
    """``(data row number, line number, row)`` triples as passes or problems, in file order."""
    unit = unit_name(opts.unit)
    zone = ZoneInfo(opts.tz) if opts.tz else None
    for n, line, row in rows:
        record = f"line {line}"
        raw = row.get(opts.time_col) or ""
        try:
            t = _time(raw, opts, zone)
        except (ValueError, OverflowError, OSError) as e:
            yield Problem(record, opts.time_col, raw, str(e) if "--tz" in str(e) else f"not a time ({opts.time_format})")
            continue
        raw = row.get(opts.speed_col) or ""
        try:
            speed = to_kmh(_number(raw, opts.decimal_comma), unit)
        except ValueError:
            yield Problem(record, opts.speed_col, raw, f"not a number ({unit})")
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
                    length = _number(raw, opts.decimal_comma)
                except ValueError:
                    yield Problem(record, opts.length_col, raw, "not a number (metres)")
                    continue
        yield record, VehiclePass(time=t, speed_kmh=speed, direction=direction, sign_id=sign_id, site_id=site_id,
                                  display=display, length_m=length, key=pass_key(namespace, n))


def file_digest(path: str) -> tuple[str, int]:
    """SHA-256 of the file and its number of lines."""
    h, lines = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            lines += chunk.count(b"\n")
    return h.hexdigest(), lines


def import_csv(conn: psycopg.Connection, path: str, opts: CsvOptions, *, site: str | None = None,
               sign: str | None = None, display: int | None = None,
               after_batch: Callable[[ImportSummary], object] = lambda s: None) -> ImportSummary:
    """Import a per-vehicle CSV onto an existing site (``display`` default stealth) or an existing
    sign (its deployments give site and display mode). Never commits."""
    if (site is None) == (sign is None):
        raise places.ImportFailed("give exactly one of --site NAME and --sign SERIAL")
    unit_name(opts.unit)
    try:
        digest, lines = file_digest(path)
    except OSError as e:
        raise places.ImportFailed(f"{path}: {e.strerror}") from None
    summary = ImportSummary("csv", path, unit="rows", stored_unit="vehicles")
    summary.total = max(lines - 1, 0)
    summary.note(f"speeds read as {unit_name(opts.unit)}" + (f", times without offset as {opts.tz}" if opts.tz else ""))
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
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        header = reader.fieldnames or []
        wanted = [c for c in (opts.time_col, opts.speed_col, opts.direction_col, opts.length_col) if c]
        missing = [c for c in wanted if c not in header]
        if missing:
            raise places.ImportFailed(f"{path}: no column {', '.join(repr(c) for c in missing)} (delimiter {delimiter!r}); "
                                      f"the header has {', '.join(repr(h) for h in header)}: use --time-col, --speed-col, "
                                      "--direction-col, --length-col or --delimiter")

        def numbered() -> Iterator[tuple[int, int, dict[str, str]]]:
            for n, row in enumerate(reader, start=1):
                yield n, reader.line_num, row

        store_passes(conn, parse_rows(numbered(), opts, namespace=f"csv:{digest}", sign_id=sign_id,
                                      site_id=site_id, display=mode), summary, after_batch=after_batch)
    return summary
