"""`fartkoll limit set SITE KMH|--mph N --from D [--to D]`, `fartkoll limit list SITE`: the legal
speed limit of a site over time."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from ..settings import Settings
from . import setup_output as out

EPILOG = """\
examples:
  fartkoll limit set Skolgatan 30 --from 2026-08-15          30 km/h from that local day on
  fartkoll limit set "High Street 4" --mph 30 --from 2025-01-01
  fartkoll limit set Skolgatan 40 --from 2026-06-20 --to 2026-08-15   (--to: the first day it no longer applies)
  fartkoll limit set Skolgatan 30 --hours "mon-fri 07-17" --from 2026-08-15   school hours; 50 stands otherwise
Setting a limit closes the one of its kind (standing, or timed with --hours) in force on its first
day; dates and hours are local to the site."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("limit", help="set and list the legal speed limit of a site (km/h or mph, with dates)",
                       description="The legal speed limit of a site over time, as posted (km/h or mph).",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ps = p.add_subparsers(dest="limit_cmd", required=True, metavar="ACTION")
    s = ps.add_parser("set", help="set the limit from a local date", epilog=EPILOG,
                      formatter_class=argparse.RawDescriptionHelpFormatter,
                      description="Set the posted limit of a site from a local date (and to one), closing the "
                                  "limit in force on that day. Give KMH, or --mph N for a site posted in mph.")
    s.add_argument("site", metavar="SITE", help="site name, a unique start of it, or its id")
    s.add_argument("kmh", metavar="KMH", nargs="?", type=int, help="the posted limit in km/h (5–130)")
    s.add_argument("--mph", type=int, metavar="N", help="the posted limit in mph (5–80), instead of KMH")
    s.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD",
                   help="the local day the limit takes effect")
    s.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD",
                   help="the local day it no longer applies (default: open, until the next limit is set)")
    s.add_argument("--hours", metavar="DAYS HH-HH",
                   help='weekdays and local hours the limit holds, e.g. "mon-fri 07-17" (to 17:00); it then '
                        "overrides the standing limit in those hours (default: a standing limit, every hour)")
    s.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    s.set_defaults(handler=set_)

    ls = ps.add_parser("list", help="a site's limit history",
                       description="The legal-limit history of a site, oldest first: posted value and unit, the "
                                   "km/h value used by the statistics (rounded down), and the local dates.")
    ls.add_argument("site", metavar="SITE", help="site name, a unique start of it, or its id")
    ls.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    ls.set_defaults(handler=list_)


def _date(option: str, text: str | None) -> date | None:
    from collector.setup.checks import invalid

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid(option, text, "is not a date (YYYY-MM-DD)") from None


def set_(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup import refs
    from collector.setup.limits import set_limit

    if (args.kmh is None) == (args.mph is None):
        print("fartkoll limit set: give the limit either as KMH or as --mph N (not both, not neither)", file=sys.stderr)
        return 2
    value, unit = (args.kmh, "kmh") if args.kmh is not None else (args.mph, "mph")

    def use_case(conn):
        site = refs.site(conn, args.site)
        return set_limit(conn, actor=out.actor(), site_id=site.id, value=value, unit=unit,
                         from_date=_date("--from", args.date_from), to_date=_date("--to", args.date_to),
                         hours=args.hours)

    return out.run("limit set", settings, use_case, as_json=args.json)


def list_(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup import refs
    from collector.setup.limits import list_limits

    return out.run("limit list", settings, lambda conn: list_limits(conn, refs.site(conn, args.site).id),
                   as_json=args.json, text=lambda rows: out.table(
                       rows, ["site", "posted_value", "posted_unit", "limit_kmh", "hours", "from_date", "to_date"]))
