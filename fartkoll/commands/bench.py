"""`fartkoll bench ingest | planner`: measured figures beside same-run baselines."""

from __future__ import annotations

import argparse

from ..settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks that print figures and ratios against same-run baselines")
    b = p.add_subparsers(dest="bench_cmd", required=True, metavar="WHAT")
    ing = b.add_parser("ingest", help="write path vs psql \\copy vs executemany (rows/s)")
    ing.add_argument("--rows", type=int, default=1_000_000, help="vehicle passes to load (default 1,000,000)")
    ing.add_argument("--batch", type=int, default=50_000, help="passes per write-path batch (default 50,000)")
    ing.add_argument("--executemany-rows", type=int, default=200_000,
                     help="rows for each executemany baseline (the first rows of the same set; default 200,000)")
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
    return 2
