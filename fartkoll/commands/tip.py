"""`fartkoll tip add | list`: citizen tips about speeding, e.g. one taken by phone."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ..settings import Settings
from . import setup_output as out

EPILOG = """\
examples:
  fartkoll tip add --site Skolgatan --channel phone --text "Fast cars after school, 15-16"
  fartkoll tip add --lat 59.391 --lon 15.843 --text "Racing at night"
  fartkoll tip list --municipality "Ängsviks kommun" --status new
No personal data is needed: do not record the caller's name or number."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tip", help="record and list citizen tips about speeding",
                       description="Citizen tips about speeding streets; they weigh in the ranking and the "
                                   "situation picture. The public form is POST /api/v1/tips.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ps = p.add_subparsers(dest="tip_cmd", required=True, metavar="ACTION")
    a = ps.add_parser("add", help="record a tip (e.g. one taken by phone)", epilog=EPILOG,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--site", metavar="SITE", help="the site it is about (name, unique start, or id)")
    a.add_argument("--lat", type=float, help="or a position: latitude in degrees")
    a.add_argument("--lon", type=float, help="and longitude in degrees")
    a.add_argument("--text", default="", help="what the citizen said (at most 2000 characters)")
    a.add_argument("--channel", default="phone", choices=["web", "phone", "email", "letter", "meeting", "other"],
                   help="how the tip came in (default phone)")
    a.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    a.set_defaults(handler=add)

    ls = ps.add_parser("list", help="tips, newest first",
                       description="Citizen tips, newest first, with the site, street and municipality they are "
                                   "about, how they came in and their status (new, linked, closed).")
    ls.add_argument("--municipality", metavar="NAME", help="only tips about streets of this municipality")
    ls.add_argument("--status", choices=["new", "linked", "closed"], help="only tips with this status")
    ls.add_argument("--limit", type=int, default=200, help="at most this many (default 200)")
    ls.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    ls.set_defaults(handler=list_)


def add(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup import refs
    from collector.setup.tips import add_tip

    now = datetime.now(UTC)
    return out.run("tip add", settings, lambda conn: add_tip(
        conn, actor=out.actor(), now=now, text=args.text, site_id=refs.site(conn, args.site).id if args.site else None,
        lat=args.lat, lon=args.lon, channel=args.channel), as_json=args.json)


def list_(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup.places import municipality
    from collector.setup.tips import list_tips
    from core.errors import NotFound

    def use_case(conn):
        ids = None
        if args.municipality:
            m = municipality(conn, args.municipality)
            if m is None:
                raise NotFound(f"no municipality named {args.municipality!r}")
            ids = [m.id]
        return list_tips(conn, municipality_ids=ids, status=args.status, limit=args.limit)

    return out.run("tip list", settings, use_case, as_json=args.json, text=lambda rows: out.table(
        rows, ["id", "received_at", "site", "street", "municipality", "channel", "status", "text"]))
