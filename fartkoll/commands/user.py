"""`fartkoll user add | list | disable | password`: people who log in, from the command line.

Changes made here are audited with the actor ``cli`` (whoever holds the database credentials;
never the operating-system account). Passwords are prompted for twice on the terminal, or read
from the first line of standard input with ``--password-stdin``; they are never arguments.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime

from core.errors import FartkollError, InvalidInput

from ..settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("user", help="people who log in: add, list, disable, set a password")
    s = p.add_subparsers(dest="user_cmd", required=True, metavar="ACTION")
    add = s.add_parser("add", help="add a person with a role (the first admin too)",
                       description="Roles and their scope: viewer (municipality staff: --municipality), "
                                   "officer (police: --police-area), technician (--municipality or "
                                   "--police-area), admin (everything, no scope).")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=["viewer", "officer", "technician", "admin"])
    scope = add.add_mutually_exclusive_group()
    scope.add_argument("--municipality", metavar="M", help="municipality name, code or id")
    scope.add_argument("--police-area", metavar="P", help="police area name or id")
    add.add_argument("--name", default="", help="the person's name")
    _password_options(add)
    ls = s.add_parser("list", help="list people with role, scope and whether they may log in")
    ls.add_argument("--json", action="store_true", help="print JSON (the API's shape)")
    dis = s.add_parser("disable", help="stop a person logging in; ends their sessions and tokens at once")
    dis.add_argument("email")
    pw = s.add_parser("password", help="set a person's password; their sessions end")
    pw.add_argument("email")
    _password_options(pw)
    p.set_defaults(handler=run)


def _password_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input instead of prompting")
    if p.prog.endswith(" add"):
        p.add_argument("--no-password", action="store_true",
                       help="add without a password (set one later with `fartkoll user password`)")


def _read_password(args: argparse.Namespace) -> str | None:
    if getattr(args, "no_password", False):
        return None
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InvalidInput("--password-stdin: standard input is empty")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidInput("no terminal to ask for the password on: use --password-stdin")
    first = getpass.getpass(f"Password for {args.email}: ")
    if getpass.getpass("Again: ") != first:
        raise InvalidInput("the two passwords differ; nothing was changed")
    return first


def run(args: argparse.Namespace, settings: Settings) -> int:
    from api import people

    from ..db import connect

    try:
        now = datetime.now(UTC)
        with connect(settings) as conn:
            if args.user_cmd == "list":
                users = people.list_users(conn)
                if args.json:
                    print(json.dumps([u.model_dump(mode="json") for u in users], indent=2, ensure_ascii=False))
                else:
                    _print_table(users)
                return 0
            if args.user_cmd == "add":
                mun = people.municipality_id(conn, args.municipality) if args.municipality else None
                area = people.police_area_id(conn, args.police_area) if args.police_area else None
                password = _read_password(args)
                user = people.add_user(conn, "cli", people.UserNew(
                    email=args.email, role=args.role, name=args.name, municipality_id=mun,
                    police_area_id=area, password=password))
                conn.commit()
                print(f"added {user.email} ({user.role}{_scope(user)})"
                      + ("" if user.has_password else "; no password yet: `fartkoll user password " + user.email + "`"))
                return 0
            if args.user_cmd == "disable":
                user = people.disable_user(conn, "cli", args.email, now=now)
                conn.commit()
                print(f"disabled {user.email}: sessions ended and personal tokens revoked")
                return 0
            user = people.user_by_email(conn, args.email)
            password = _read_password(args)
            people.set_password(conn, "cli", user.id, password, now=now)
            conn.commit()
            print(f"password set for {user.email}; their sessions ended")
            return 0
    except FartkollError as e:
        print(f"fartkoll user {args.user_cmd}: {e}", file=sys.stderr)
        return e.exit_code


def _scope(u) -> str:
    if u.municipality:
        return f", municipality {u.municipality}"
    if u.police_area:
        return f", police area {u.police_area}"
    return ""


def _print_table(users) -> None:
    if not users:
        print("no users yet: add the first admin with `fartkoll user add EMAIL --role admin`")
        return
    width = max(len(u.email) for u in users)
    for u in users:
        state = "active" if u.active else "disabled"
        pw = "" if u.has_password else ", no password"
        print(f"{u.email:<{width}}  {u.role:<10}  {state}{pw}{_scope(u)}")
