"""`fartkoll site add | list | show`: measuring sites, their streets and municipalities."""

from __future__ import annotations

import argparse

from ..settings import Settings
from . import setup_output as out

EPILOG = """\
examples:
  fartkoll site add "Skolgatan 12" --street Skolgatan --municipality "Ängsviks kommun" \\
      --lat 59.39 --lon 15.84 --tag school
  fartkoll site add "High Street 4" --street "High Street" --municipality Oxford \\
      --police-area "Thames Valley" --time-zone Europe/London
  fartkoll site show Skolgatan        (a unique start of the name, or the id)
then: fartkoll limit set SITE 30 --from 2026-01-01, fartkoll sign deploy SERIAL SITE"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("site", help="add, list and show measuring sites (street, municipality, position, time zone)",
                       description="Measuring sites: where a sign stands. A site lies on a street of a "
                                   "municipality; its legal limit is set with `fartkoll limit set`.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ps = p.add_subparsers(dest="site_cmd", required=True, metavar="ACTION")

    a = ps.add_parser("add", help="add a site", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                      description="Add a site. The street is created in the municipality when it has none of that "
                                  "name; an unknown municipality is created only with --police-area.")
    a.add_argument("name", metavar="NAME", help="the site's name, unique, e.g. 'Skolgatan 12' or 'Storgatan vid skolan'")
    a.add_argument("--street", required=True, help="the street the site is on")
    a.add_argument("--municipality", required=True, help="the municipality's name, e.g. 'Ängsviks kommun'")
    a.add_argument("--police-area", help="the police area serving the municipality: creates the municipality "
                                         "(and the area) when it does not exist yet")
    a.add_argument("--lat", type=float, help="latitude in degrees (WGS 84), e.g. 59.3921")
    a.add_argument("--lon", type=float, help="longitude in degrees (WGS 84), e.g. 15.8420")
    a.add_argument("--time-zone", help="IANA time zone of the site, e.g. Europe/London (default: that of the "
                                       "municipality's other sites, else the default_time_zone setting)")
    a.add_argument("--tag", action="append", default=[], metavar="TAG",
                   help="a tag such as school (repeatable); school sites weigh more in the ranking")
    a.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    a.set_defaults(handler=add)

    ls = ps.add_parser("list", help="list every site",
                       description="Every site with its id, street, municipality, time zone and tags. Use the "
                                   "name (or a unique start of it) or the id as SITE in other commands; "
                                   "`fartkoll site show SITE` gives its limits and deployments.")
    ls.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    ls.set_defaults(handler=list_)

    sh = ps.add_parser("show", help="one site with its speed-limit history and deployments",
                       description="One site: position, time zone, tags, its legal-limit history (posted value "
                                   "and unit, local dates) and every sign deployment there, past and present.")
    sh.add_argument("site", metavar="SITE", help="site name, a unique start of it, or its id")
    sh.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    sh.set_defaults(handler=show)


def add(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup.places import add_site

    return out.run("site add", settings, lambda conn: add_site(
        conn, actor=out.actor(), name=args.name, street=args.street, municipality_name=args.municipality,
        police_area=args.police_area, lat=args.lat, lon=args.lon,
        time_zone=args.time_zone, default_time_zone=settings.default_time_zone, tags=args.tag), as_json=args.json)


def list_(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup.places import list_sites

    return out.run("site list", settings, list_sites, as_json=args.json,
                   text=lambda rows: out.table(rows, ["id", "name", "street", "municipality", "time_zone", "tags"]))


def show(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup import refs
    from collector.setup.places import show_site

    return out.run("site show", settings, lambda conn: show_site(conn, refs.site(conn, args.site).id),
                   as_json=args.json, text=_detail)


def _detail(site) -> str:
    head = out.format_text(site.model_copy(update={"limits": [], "deployments": []})).splitlines()
    head = [line for line in head if not line.startswith(("limits:", "deployments:"))]
    return "\n".join([*head, "", "speed limits (local dates; to = the first day it no longer applies):",
                      out.table(site.limits, ["posted_value", "posted_unit", "limit_kmh", "from_date", "to_date"]),
                      "", f"deployments (times in {site.time_zone}):",
                      out.table(site.deployments, ["id", "serial", "valid_from", "valid_to", "display",
                                                   "mount_angle_deg", "approach_heading", "note"])])
