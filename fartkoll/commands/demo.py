"""`fartkoll demo [seed]`."""

from __future__ import annotations

import argparse
import sys

from ..settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="start everything with demo data: db up, migrate, seed if empty, serve")
    demo.add_argument("--weeks", type=int, default=8, help="weeks of demo traffic (default 8)")
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument("--host", default=None)
    demo.add_argument("--port", type=int, default=None)
    demo_sub = demo.add_subparsers(dest="demo_cmd", metavar="ACTION")
    seed = demo_sub.add_parser("seed", help="write the deterministic demo data set through the write path")
    seed.add_argument("--weeks", type=int, default=8, help="weeks of demo traffic (default 8)")
    seed.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ..demo_job import run_demo, seed_only

    if args.weeks < 1 or args.weeks > 104:
        print(f"fartkoll demo: --weeks {args.weeks} must be between 1 and 104", file=sys.stderr)
        return 2
    if args.demo_cmd == "seed":
        return seed_only(settings, weeks=args.weeks, seed=args.seed)
    return run_demo(settings, weeks=args.weeks, seed=args.seed, host=args.host, port=args.port)
