"""`fartkoll import elancity | trafficlogix | toronto | csv`: load files and clouds, print a summary."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from typing import Callable

from ..settings import Settings

DISPLAY = {"stealth": 0, "display": 1}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", action="store_true", help="draw the progress bar even when stderr is not a terminal")
    p.add_argument("--show", type=int, default=10, metavar="N", help="list the first N skipped and rejected records (default 10)")


def _area(p: argparse.ArgumentParser, municipality: str, police_area: str) -> None:
    p.add_argument("--municipality", default=municipality,
                   help=f"municipality of sites the import creates (default {municipality!r}; created when missing)")
    p.add_argument("--police-area", default=police_area,
                   help=f"police area of a municipality the import creates (default {police_area!r})")


def _day(s: str) -> date:
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a date YYYY-MM-DD") from None


def register(sub: argparse._SubParsersAction) -> None:
    imp = sub.add_parser("import", help="import vehicle passes or binned counts from files and vendor clouds")
    kinds = imp.add_subparsers(dest="import_kind", required=True, metavar="SOURCE")

    e = kinds.add_parser("elancity", help="Elan City sign export (<MAC>-ELANCITY_RADAR__.db, SQLite)")
    e.add_argument("file", metavar="FILE.db")
    e.add_argument("--unit", required=True, help="the sign's speed unit: mph or kmh (never guessed)")
    e.add_argument("--site", metavar="NAME", help="put every vehicle on this site (created when missing) instead of one site per campaign")
    e.add_argument("--sign", metavar="SERIAL", help="the sign's serial when the file name carries no MAC address")
    e.add_argument("--display", choices=DISPLAY, default="stealth", help="whether the sign showed speeds (default stealth)")
    e.add_argument("--tz", default=None, help="time zone of sites the import creates (default: settings.default_time_zone)")
    _area(e, "Unassigned", "Unassigned")
    _common(e)

    t = kinds.add_parser("trafficlogix", help="Traffic Logix SafePace cloud: saved JSON bodies, or pull from the API")
    t.add_argument("files", nargs="*", metavar="FILE.json", help="saved statistics bodies (one body or a list per file)")
    t.add_argument("--tz", required=True, help="time zone of the cloud's timestamps, e.g. America/Toronto")
    t.add_argument("--pull", action="store_true", help="fetch from the API (one call per location and day)")
    t.add_argument("--api-key", default=None, help="API key (default: $TRAFFICLOGIX_API_KEY)")
    t.add_argument("--from", dest="first", type=_day, help="first day to pull, YYYY-MM-DD")
    t.add_argument("--to", dest="last", type=_day, help="last day to pull, YYYY-MM-DD (default: --from)")
    t.add_argument("--location", action="append", default=[], metavar="ID", help="location id to pull (repeatable; default: every sign of the account)")
    t.add_argument("--base-url", default=None, help="API base URL (default https://api.streetsoncloud.com)")
    t.add_argument("--retries", type=int, default=3, help="retries of a 502/503/504 or timeout per call (default 3)")
    t.add_argument("--display", choices=DISPLAY, default="display", help="whether the signs showed speeds (default display)")
    _area(t, "Unassigned", "Unassigned")
    _common(t)

    o = kinds.add_parser("toronto", help="Toronto Watch Your Speed mobile summaries (wys_mobile_speed_summary.csv): binned counts")
    o.add_argument("file", metavar="FILE.csv")
    o.add_argument("--limit-kmh", type=int, default=None, help="legal limit to record for the sites (default: none recorded)")
    o.add_argument("--encoding", default="utf-8", help="text encoding of the file (default utf-8; e.g. latin-1, cp1252)")
    _area(o, "Toronto", "Toronto Police Service")
    _common(o)

    c = kinds.add_parser("csv", help="generic per-vehicle CSV (one row per vehicle)")
    c.add_argument("file", metavar="FILE")
    c.add_argument("--unit", required=True, help="speed unit of the file: kmh, mph, mps, fps or cms")
    where = c.add_mutually_exclusive_group(required=True)
    where.add_argument("--site", metavar="NAME", help="existing site the vehicles passed")
    where.add_argument("--sign", metavar="SERIAL", help="existing sign whose deployments give site and display mode")
    c.add_argument("--time-col", default="time", help="column of the pass time (default 'time')")
    c.add_argument("--speed-col", default="speed", help="column of the speed (default 'speed')")
    c.add_argument("--direction-col", default=None, help="column of the direction (default: none, direction unknown)")
    c.add_argument("--length-col", default=None, help="column of the vehicle length in metres (default: none)")
    c.add_argument("--direction-map", default=None, metavar="TOKEN=DIR,...",
                   help="extra direction tokens, e.g. 'A=approaching,C=receding' (built in: approaching, receding, unknown, +, -)")
    c.add_argument("--tz", default=None, help="time zone of times without a UTC offset, e.g. Europe/Stockholm")
    c.add_argument("--time-format", default="iso", help="iso (default), unix, unix_ms or a strptime format such as '%%d.%%m.%%Y %%H:%%M:%%S'")
    c.add_argument("--decimal-comma", action="store_true", help="numbers use ',' as the decimal separator (default delimiter then ';')")
    c.add_argument("--delimiter", default=None, help="field delimiter (default ',' or ';' with --decimal-comma)")
    c.add_argument("--encoding", default="utf-8", help="text encoding of the file (default utf-8; e.g. latin-1, cp1252)")
    c.add_argument("--display", choices=DISPLAY, default=None,
                   help="whether the sign showed speeds (default: stealth with --site, the deployment's with --sign)")
    _common(c)
    imp.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one import: commit after each batch that stored something; an import that stored
    nothing keeps nothing it made on the way (sites, signs, deployments); errors exit with the
    error's code and say what was stored before them."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from collector.importers.audit import record_import
    from collector.importers.progress import Progress
    from collector.importers.report import ImportSummary
    from collector.importers.trafficlogix_api import SafePaceError
    from core.errors import FartkollError

    from ..db import connect

    name = f"fartkoll import {args.import_kind}"
    tz = getattr(args, "tz", None)
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            print(f"{name}: --tz {tz!r} is not a known IANA time zone such as America/Toronto", file=sys.stderr)
            return 2
    rule = settings.collector.time_rule()
    received = datetime.now(timezone.utc)
    progress = Progress(sys.stderr, args.import_kind, None, enabled=args.progress or sys.stderr.isatty())
    committed: list[ImportSummary] = []          # the summary as of the last commit, if any
    with connect(settings) as conn:
        def after_batch(s: ImportSummary) -> None:
            if s.stored:
                conn.commit()
                committed[:] = [ImportSummary(s.source, s.target, s.unit, s.stored_unit, stored=s.stored,
                                              vehicles_stored=s.vehicles_stored)]
            progress.total = s.total
            progress.update(s.done)

        try:
            summary = _import(args, settings, conn, after_batch, rule, received)
        except (FartkollError, SafePaceError, ValueError, OSError) as e:
            conn.rollback()
            progress.close()
            print(f"{name}: {e}", file=sys.stderr)
            if committed:
                c = committed[0]
                print(f"stored before this: {c.stored:,} {c.stored_unit or c.unit}"
                      + (f" ({c.vehicles_stored:,} vehicles)" if c.vehicles_stored else "")
                      + "; running the import again stores only the rest", file=sys.stderr)
            else:
                print("nothing was stored", file=sys.stderr)
            return getattr(e, "exit_code", 2)
        if not summary.stored:
            conn.rollback()                      # nothing stored: drop the places made for it
            if summary.created:
                summary.note("nothing was stored, so the " + ", ".join(sorted(summary.created))
                             + " it would have created were not kept")
                summary.created.clear()
        record_import(conn, summary)
        conn.commit()
    progress.close()
    print(summary.render(first=args.show))
    return 0


def _import(args: argparse.Namespace, settings: Settings, conn, after_batch: Callable, rule, received) -> "object":
    from collector.importers.places import Area, ImportFailed

    kind = args.import_kind
    if kind == "elancity":
        from collector.importers.elancity import import_elancity

        return import_elancity(conn, args.file, unit=args.unit, area=Area(args.municipality, args.police_area),
                               site=args.site, display=DISPLAY[args.display], serial=args.sign,
                               time_zone=args.tz or settings.default_time_zone, rule=rule, received=received,
                               after_batch=after_batch)
    if kind == "toronto":
        from collector.importers.toronto import import_toronto

        if args.limit_kmh is not None and not 5 <= args.limit_kmh <= 130:
            raise ImportFailed(f"--limit-kmh {args.limit_kmh} is outside 5..130 km/h")
        return import_toronto(conn, args.file, area=Area(args.municipality, args.police_area),
                              limit_kmh=args.limit_kmh, encoding=args.encoding, rule=rule, received=received,
                              after_batch=after_batch)
    if kind == "csv":
        from collector.importers.csvfile import CsvOptions, direction_map, import_csv

        opts = CsvOptions(unit=args.unit, time_col=args.time_col, speed_col=args.speed_col,
                          direction_col=args.direction_col, length_col=args.length_col, tz=args.tz,
                          decimal_comma=args.decimal_comma, delimiter=args.delimiter, time_format=args.time_format,
                          encoding=args.encoding, directions=direction_map(args.direction_map))
        return import_csv(conn, args.file, opts, site=args.site, sign=args.sign, rule=rule, received=received,
                          display=None if args.display is None else DISPLAY[args.display], after_batch=after_batch)
    return _trafficlogix(args, conn, after_batch, rule, received)


def _trafficlogix(args: argparse.Namespace, conn, after_batch: Callable, rule, received) -> "object":
    import httpx

    from collector.importers.places import Area, ImportFailed
    from collector.importers.trafficlogix import file_bodies, import_bodies, read_json
    from collector.importers.trafficlogix_api import (
        DEFAULT_BASE_URL,
        SafePaceClient,
        pull,
    )

    area = Area(args.municipality, args.police_area)
    display = DISPLAY[args.display]
    if not args.pull:
        if not args.files:
            raise ImportFailed("give saved JSON files, or --pull with --from/--to to fetch from the API")
        bodies = []
        for path in args.files:
            bodies.extend(file_bodies(path, read_json(path)))
        return import_bodies(conn, bodies, tz=args.tz, area=area, display=display, target=", ".join(args.files),
                             rule=rule, received=received, after_batch=after_batch)
    if args.files:
        raise ImportFailed("give either saved files or --pull, not both")
    if args.first is None:
        raise ImportFailed("--pull needs --from YYYY-MM-DD (and --to, default the same day)")
    last = args.last or args.first
    if last < args.first:
        raise ImportFailed(f"--to {last} is before --from {args.first}")
    key = args.api_key or os.environ.get("TRAFFICLOGIX_API_KEY", "")
    with httpx.Client(timeout=60) as http:
        client = SafePaceClient(http, key, base_url=args.base_url or DEFAULT_BASE_URL, retries=args.retries)
        locations = args.location or [s.location_id for s in client.signs()]
        return import_bodies(conn, pull(client, locations, args.first, last), tz=args.tz, area=area, display=display,
                             target=f"{client.base_url} locations {','.join(locations)} {args.first}..{last}",
                             rule=rule, received=received, after_batch=after_batch)
