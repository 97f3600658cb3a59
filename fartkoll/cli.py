"""The ``fartkoll`` command: thin subcommands that build settings, call one function, map errors."""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from .settings import Settings, SettingsError

Handler = Callable[[argparse.Namespace, Settings], int]


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from . import localdb

    if args.db_cmd == "migrate":
        from sql.migrate import migrate

        from .db import connect

        with connect(settings) as conn:
            done = migrate(conn)
        print("applied: " + ", ".join(done) if done else "schema is up to date")
        return 0
    if settings.database_url:
        print(
            "DATABASE_URL is set: Fartkoll uses that server and does not manage a local one. "
            "Unset DATABASE_URL to use the embedded TimescaleDB.",
            file=sys.stderr,
        )
        return 2
    action = {"up": localdb.up, "down": localdb.down, "status": localdb.status}[args.db_cmd]
    st = action(settings.localdb)
    print(st.describe())
    if args.db_cmd == "status":
        return 0 if st.running else 3
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from .serve import serve

    return serve(settings, host=args.host, port=args.port)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from .demo_job import run_demo, seed_only

    if args.demo_cmd == "seed":
        return seed_only(settings, weeks=args.weeks, seed=args.seed)
    return run_demo(settings, weeks=args.weeks, seed=args.seed, host=args.host, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fartkoll",
        description="Traffic-speed monitoring and enforcement planning from radar speed signs.",
    )
    p.add_argument("--config", help="TOML settings file (default: $FARTKOLL_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", help="the database: local TimescaleDB and schema migrations")
    db_sub = db.add_subparsers(dest="db_cmd", required=True, metavar="ACTION")
    db_sub.add_parser("up", help="install (once) and start the local TimescaleDB; a no-op when running")
    db_sub.add_parser("down", help="stop the local TimescaleDB")
    db_sub.add_parser("status", help="say whether the local TimescaleDB is installed and running")
    db_sub.add_parser("migrate", help="apply pending schema migrations (re-runnable)")
    db.set_defaults(handler=_db)

    serve = sub.add_parser("serve", help="serve the HTTP API and dashboards")
    serve.add_argument("--host", default=None, help="address to listen on (default: settings api.host)")
    serve.add_argument("--port", type=int, default=None, help="port (default: settings api.port)")
    serve.set_defaults(handler=_serve)

    demo = sub.add_parser("demo", help="start everything with demo data: db up, migrate, seed if empty, serve")
    demo.add_argument("--weeks", type=int, default=8, help="weeks of demo traffic (default 8)")
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument("--host", default=None)
    demo.add_argument("--port", type=int, default=None)
    demo_sub = demo.add_subparsers(dest="demo_cmd", metavar="ACTION")
    seed = demo_sub.add_parser("seed", help="write the deterministic demo data set through the write path")
    seed.add_argument("--weeks", type=int, default=8, help="weeks of demo traffic (default 8)")
    seed.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.set_defaults(handler=_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from .db import DatabaseUnavailable
    from .localdb import LocalDbError

    args = build_parser().parse_args(argv)
    try:
        settings = Settings.load(args.config)
        return args.handler(args, settings)
    except (SettingsError, LocalDbError, DatabaseUnavailable) as e:
        print(f"fartkoll: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
