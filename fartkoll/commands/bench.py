"""`fartkoll bench ingest | api | planner | read | web | live`: measured figures beside same-run baselines."""

from __future__ import annotations

import argparse
import sys

from ..settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks that print figures and ratios against same-run baselines")
    b = p.add_subparsers(dest="bench_cmd", required=True, metavar="WHAT")
    ing = b.add_parser("ingest", help="write path vs psql \\copy vs executemany (rows/s)")
    ing.add_argument("--rows", type=int, default=1_000_000, help="vehicle passes to load (default 1,000,000)")
    ing.add_argument("--batch", type=int, default=50_000, help="passes per write-path batch (default 50,000)")
    ing.add_argument("--executemany-rows", type=int, default=200_000,
                     help="rows for each executemany baseline (the first rows of the same set; default 200,000)")
    api = b.add_parser("api", help="HTTP sign uploads vs the write path direct, same batches (passes/s, latency)")
    api.add_argument("--clients", type=int, default=50, help="concurrent clients on each side (default 50)")
    api.add_argument("--batch", type=int, default=100, help="passes per request and per write (default 100)")
    api.add_argument("--seconds", type=float, default=10.0, help="seconds each side runs (default 10)")
    api.add_argument("--workers", type=int, default=None,
                     help="server processes (fartkoll serve --workers N; default: as fartkoll serve, one per core)")
    pl = b.add_parser("planner", help="ranking and a 4-week schedule on a year of rollups vs a raw-readings baseline")
    pl.add_argument("--sites", type=int, default=200, help="sites (default 200)")
    pl.add_argument("--weeks", type=int, default=52, help="weeks of hourly rollups (default 52)")
    pl.add_argument("--raw-weeks", type=int, default=2,
                    help="latest weeks that also get raw readings for the baseline (even; default 2)")
    pl.add_argument("--runs", type=int, default=3, help="timed runs of each measurement (default 3)")
    rd = b.add_parser("read", help="read endpoints over HTTP (p50/p99) vs a plain scan of readings")
    rd.add_argument("--sites", type=int, default=200, help="sites (default 200)")
    rd.add_argument("--weeks", type=int, default=52, help="weeks of hourly rollups (default 52)")
    rd.add_argument("--raw-weeks", type=int, default=2,
                    help="latest weeks that also get raw readings for the baseline (even; default 2)")
    rd.add_argument("--clients", type=int, default=20, help="concurrent HTTP clients (default 20)")
    rd.add_argument("--requests", type=int, default=25, help="requests per client and endpoint (default 25)")
    rd.add_argument("--scans", type=int, default=5,
                    help="sites that get raw readings for every week, for the plain-SQL baseline (default 5)")
    rd.add_argument("--workers", type=int, default=1,
                    help="server processes (1: fartkoll serve; more: uvicorn --workers N; default 1)")
    wb = b.add_parser("web", help="public pages' server time and weight on the demo vs the API calls they rest on")
    wb.add_argument("--weeks", type=int, default=8, help="weeks of demo traffic (default 8)")
    wb.add_argument("--rounds", type=int, default=10, help="rounds over every page of every site (default 10)")
    lv = b.add_parser("live", help="simulated signs -> collector edge -> HTTP ingest -> live event stream (p50/p99 ms)")
    lv.add_argument("--signs", type=int, default=25, help="simulated signs, each with its collector and stream (default 25)")
    lv.add_argument("--seconds", type=float, default=120.0, help="seconds the signs send (default 120)")
    lv.add_argument("--every", type=float, default=1.25, help="mean seconds between a sign's vehicles (default 1.25)")
    lv.add_argument("--batch-age", type=float, default=0.2,
                    help="seconds the collector may hold a pass before sending it (default 0.2)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.bench_cmd == "ingest":
        from ..bench.ingest import run as bench_ingest

        if not settings.database_url:
            from .. import localdb

            localdb.up(settings.localdb, log=print)
        figures = bench_ingest(settings.database_dsn(), rows=args.rows, batch=args.batch,
                               executemany_rows=args.executemany_rows)
        print(figures.report())
        return 0
    if args.bench_cmd == "api":
        from ..bench.api import run as bench_api

        if min(args.clients, args.batch, args.workers or 1) < 1 or args.seconds <= 0:
            print("fartkoll bench api: --clients, --batch, --workers and --seconds must be positive", file=sys.stderr)
            return 2
        if not settings.database_url:
            from .. import localdb

            localdb.up(settings.localdb, log=print)
        figures = bench_api(settings.database_dsn(), clients=args.clients, batch=args.batch,
                            seconds=args.seconds, workers=args.workers)
        print(figures.report())
        return 0
    if args.bench_cmd == "live":
        from ..bench.live import run as bench_live

        if args.signs < 1 or min(args.seconds, args.every) <= 0 or args.batch_age < 0:
            print("fartkoll bench live: --signs, --seconds and --every must be positive, --batch-age not negative",
                  file=sys.stderr)
            return 2
        if not settings.database_url:
            from .. import localdb

            localdb.up(settings.localdb, log=print)
        print(bench_live(settings.database_dsn(), signs=args.signs, seconds=args.seconds, every_s=args.every,
                         batch_age_s=args.batch_age).report())
        return 0
    if args.bench_cmd == "planner":
        from ..bench.planner import run as bench_planner

        if not settings.database_url:
            from .. import localdb

            localdb.up(settings.localdb, log=print)
        try:
            figures = bench_planner(settings.database_dsn(), sites=args.sites, weeks=args.weeks,
                                    raw_weeks=args.raw_weeks, runs=args.runs)
        except ValueError as e:
            print(f"fartkoll bench planner: {e}", file=sys.stderr)
            return 2
        print(figures.report())
        return 0
    if args.bench_cmd == "read":
        from ..bench.read import run as bench_read

        if not settings.database_url:
            from .. import localdb

            localdb.up(settings.localdb, log=print)
        try:
            figures = bench_read(settings.database_dsn(), sites=args.sites, weeks=args.weeks,
                                 raw_weeks=args.raw_weeks, clients=args.clients, requests=args.requests,
                                 scans=args.scans, workers=args.workers)
        except ValueError as e:
            print(f"fartkoll bench read: {e}", file=sys.stderr)
            return 2
        print(figures.report())
        return 0
    if args.bench_cmd == "web":
        from ..bench.web import run as bench_web

        if args.weeks < 1 or args.rounds < 1:
            print("fartkoll bench web: --weeks and --rounds must be positive", file=sys.stderr)
            return 2
        if not settings.database_url:
            from .. import localdb

            localdb.up(settings.localdb, log=print)
        print(bench_web(settings.database_dsn(), weeks=args.weeks, rounds=args.rounds).report())
        return 0
    return 2
