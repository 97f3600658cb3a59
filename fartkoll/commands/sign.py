"""`fartkoll sign add | list | show | deploy | move | remove`: radar signs and where they stand."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ..settings import Settings
from . import setup_output as out

EPILOG = """\
a technician's first sign:
  fartkoll sign add HR-SS300-88102 --protocol houston-dr500 --unit kmh --vendor "Houston Radar" --model SS300
  fartkoll sign deploy HR-SS300-88102 "Skolgatan 12" --display display --heading N --angle 15
  fartkoll token issue HR-SS300-88102             (the upload token, shown once)
later:
  fartkoll sign move HR-SS300-88102 "Storgatan 3" --heading SW     (closes the old deployment)
  fartkoll sign remove HR-SS300-88102                              (taken down)
`fartkoll collector decode --help` lists the protocol names; `fartkoll collector probe PORT` finds one."""


def _protocols() -> str:
    from collector.protocols import PROTOCOLS

    return ", ".join(PROTOCOLS)


def _placement(q: argparse.ArgumentParser, *, keep_display: bool) -> None:
    q.add_argument("sign", metavar="SIGN", help="the sign's serial number (or id)")
    q.add_argument("site", metavar="SITE", help="site name, a unique start of it, or its id")
    q.add_argument("--display", choices=["display", "stealth"],
                   help="display: the sign shows drivers their speed; stealth: it only measures "
                        + ("(default: as at the old site)" if keep_display else "(default: display)"))
    q.add_argument("--angle", dest="mount_angle_deg", type=float, default=0.0, metavar="DEG",
                   help="mounting angle between the beam and the road, 0–89 degrees (default 0)")
    q.add_argument("--heading", dest="approach_heading", default="", metavar="H",
                   help="compass heading of the traffic that approaches the sign, e.g. N, SW, northbound")
    q.add_argument("--at", metavar="TIME", help="when: YYYY-MM-DD[THH:MM] local time of the site, or ISO 8601 "
                                                "with an offset (default: now)")
    q.add_argument("--note", default="", help="a note for the deployment, e.g. 'lamp post 14, east side'")
    q.add_argument("--json", action="store_true", help="print JSON (as the API answers)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sign", help="register radar signs and deploy, move or remove them at sites",
                       description="Radar signs: register them, deploy them at sites, move and remove them.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ps = p.add_subparsers(dest="sign_cmd", required=True, metavar="ACTION")

    a = ps.add_parser("add", help="register a sign", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                      description="Register a sign by its serial number and the collector protocol it speaks.")
    a.add_argument("serial", metavar="SERIAL", help="the sign's serial number, as configured in the collector")
    a.add_argument("--protocol", required=True, metavar="NAME", help=f"the collector protocol: one of {_protocols()}")
    a.add_argument("--unit", default="kmh", choices=["kmh", "mph", "mps", "fps", "cms"],
                   help="the unit of the speeds the sign sends (default kmh)")
    a.add_argument("--vendor", default="", help="maker, e.g. 'Houston Radar'")
    a.add_argument("--model", default="", help="model, e.g. SS300")
    a.add_argument("--rounding", default="truncate", choices=["truncate", "round", "exact"],
                   help="how the sign turns a measured speed into the whole number it sends: truncate (47.9 → 47), "
                        "round (47.5 → 48), or exact (decimals) (default truncate)")
    a.add_argument("--configured-limit", dest="configured_limit_kmh", type=int, metavar="KMH",
                   help="the limit set in the sign itself, in km/h (compared with the site's legal limit)")
    a.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    a.set_defaults(handler=add)

    ls = ps.add_parser("list", help="every sign and where it stands now",
                       description="Every registered sign: serial number, protocol, unit, and the site and "
                                   "display mode it stands at now (- when not deployed).")
    ls.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    ls.set_defaults(handler=list_)

    sh = ps.add_parser("show", help="one sign and where it stands now",
                       description="One sign: vendor, model, protocol, unit, rounding, configured limit, and its "
                                   "deployment in force now (site, display mode, mounting angle, heading).")
    sh.add_argument("sign", metavar="SIGN", help="the sign's serial number (or id)")
    sh.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    sh.set_defaults(handler=show)

    d = ps.add_parser("deploy", help="deploy a sign at a site", epilog=EPILOG,
                      formatter_class=argparse.RawDescriptionHelpFormatter,
                      description="Deploy a sign at a site from now (or --at). Refused while the sign stands "
                                  "elsewhere: use `fartkoll sign move` then.")
    _placement(d, keep_display=False)
    d.set_defaults(handler=deploy)

    m = ps.add_parser("move", help="move a sign to another site (closes the old deployment)", epilog=EPILOG,
                      formatter_class=argparse.RawDescriptionHelpFormatter,
                      description="Move a sign: its deployment in force ends and one at SITE starts at the same "
                                  "instant, in one step.")
    _placement(m, keep_display=True)
    m.set_defaults(handler=move)

    r = ps.add_parser("remove", help="take a sign down (end its deployment)",
                      description="End the deployment of a sign now (or --at): passes it sends afterwards are "
                                  "refused until it is deployed again with `fartkoll sign deploy`.")
    r.add_argument("sign", metavar="SIGN", help="the sign's serial number (or id)")
    r.add_argument("--at", metavar="TIME", help="when: YYYY-MM-DD[THH:MM] local time of the site, or ISO 8601 "
                                                "with an offset (default: now)")
    r.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    r.set_defaults(handler=remove)


def _at(text: str | None, tz: str, now: datetime) -> datetime:
    from collector.setup.checks import parse_local_time

    return now if text is None else parse_local_time(text, tz, "--at")


def add(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup.signs import add_sign

    return out.run("sign add", settings, lambda conn: add_sign(
        conn, actor=out.actor(), serial=args.serial, protocol=args.protocol, unit=args.unit, vendor=args.vendor,
        model=args.model, rounding=args.rounding, configured_limit_kmh=args.configured_limit_kmh), as_json=args.json)


def _sign_rows(rows) -> str:
    from collector.setup.signs import SignOut

    def where(s: SignOut) -> str:
        d = s.deployment
        return "-" if d is None else f"{d.site} ({d.display}) since {out.local(d.valid_from, d.time_zone)}"

    if not rows:
        return "(none)"
    lines = [(s.serial, s.protocol, s.unit, where(s)) for s in rows]
    w = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(("serial", "protocol", "unit", "site"))]
    head = ("serial", "protocol", "unit", "site")
    return "\n".join("  ".join(c.ljust(n) for c, n in zip(x, w, strict=False)).rstrip() for x in [head, *lines])


def list_(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup.signs import list_signs

    now = datetime.now(UTC)
    return out.run("sign list", settings, lambda conn: list_signs(conn, at=now), as_json=args.json, text=_sign_rows)


def show(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup import refs
    from collector.setup.signs import show_sign

    now = datetime.now(UTC)
    return out.run("sign show", settings, lambda conn: show_sign(conn, refs.sign(conn, args.sign).id, at=now),
                   as_json=args.json)


def _place(command: str, args: argparse.Namespace, settings: Settings, fn, **extra) -> int:
    from collector.setup import refs

    now = datetime.now(UTC)

    def use_case(conn):
        sign, site = refs.sign(conn, args.sign), refs.site(conn, args.site)
        return fn(conn, actor=out.actor(), sign_id=sign.id, site_id=site.id, at=_at(args.at, site.time_zone, now),
                  mount_angle_deg=args.mount_angle_deg, approach_heading=args.approach_heading, note=args.note,
                  **extra)

    return out.run(command, settings, use_case, as_json=args.json)


def deploy(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup.deployments import deploy as deploy_sign

    return _place("sign deploy", args, settings, deploy_sign, display=args.display or "display")


def move(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup.deployments import move as move_sign

    return _place("sign move", args, settings, move_sign, display=args.display)


def remove(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup import refs
    from collector.setup.deployments import list_deployments
    from collector.setup.deployments import remove as remove_sign

    now = datetime.now(UTC)

    def use_case(conn):
        sign = refs.sign(conn, args.sign)
        standing = list_deployments(conn, sign_id=sign.id, at=now)
        tz = refs.site_by_id(conn, standing[0].site_id).time_zone if standing else settings.default_time_zone
        return remove_sign(conn, actor=out.actor(), sign_id=sign.id, at=_at(args.at, tz, now))

    return out.run("sign remove", settings, use_case, as_json=args.json)
