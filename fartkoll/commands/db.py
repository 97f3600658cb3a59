"""`fartkoll db up | down | status | migrate | shell`."""

from __future__ import annotations

import argparse
import sys

from ..settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="the database: local TimescaleDB and schema migrations")
    db_sub = db.add_subparsers(dest="db_cmd", required=True, metavar="ACTION")
    db_sub.add_parser("up", help="install (once) and start the local TimescaleDB; a no-op when running")
    db_sub.add_parser("down", help="stop the local TimescaleDB")
    db_sub.add_parser("status", help="say whether the local TimescaleDB is installed and running")
    db_sub.add_parser("migrate", help="apply pending schema migrations (re-runnable)")
    shell = db_sub.add_parser(
        "shell", help="psql on the configured database with its credentials (operators, technicians)")
    shell.add_argument("-c", "--command", dest="sql", metavar="SQL",
                       help="run this SQL and exit (psql -c; stops at the first error)")
    db.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from .. import localdb

    if args.db_cmd == "migrate":
        from sql.migrate import migrate

        from ..db import connect

        with connect(settings) as conn:
            done = migrate(conn)
        print("applied: " + ", ".join(done) if done else "schema is up to date")
        return 0
    if args.db_cmd == "shell":
        import subprocess

        from ..db import psql_command

        argv, env = psql_command(settings, args.sql)
        return subprocess.run(argv, env=env, check=False).returncode
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
