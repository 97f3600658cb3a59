"""`fartkoll measure add | list | effect`: measures taken at a site and their before/after."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime

from ..settings import Settings
from . import setup_output as out

EPILOG = """\
examples:
  fartkoll measure add --site Skolvägen --on 2024-10-14 --kind speed_bump --note "two bumps by the school"
  fartkoll measure add --site Storgatan --on 2025-03-01 --kind limit --limit 30
  fartkoll measure list --site Skolvägen
  fartkoll measure effect 3 --json"""
KINDS = ["limit", "speed_bump", "narrowing", "sign_display", "other"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("measure", help="record measures at a site and see their before/after",
                       description="Measures the municipality took at a site (a new limit, a speed bump, a "
                                   "narrowing, the sign's display mode, other) and their effect against "
                                   "comparison sites. Over HTTP: /api/v1/sites/{id}/measures.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ps = p.add_subparsers(dest="measure_cmd", required=True, metavar="ACTION")
    a = ps.add_parser("add", help="record a measure", epilog=EPILOG,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--site", required=True, metavar="SITE", help="the site (name, unique start, or id)")
    a.add_argument("--on", required=True, type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="the site's local day the measure took effect")
    a.add_argument("--kind", required=True, choices=KINDS, help="what was done")
    a.add_argument("--limit", type=int, metavar="KMH", help="the new limit (kind limit)")
    a.add_argument("--display", choices=["display", "stealth"], help="the sign's new mode (kind sign_display)")
    a.add_argument("--note", default="", help="what was done (required for kind other; at most 2000 characters)")
    a.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    a.set_defaults(handler=add)

    ls = ps.add_parser("list", help="measures, newest first")
    ls.add_argument("--site", metavar="SITE", help="only this site's measures")
    ls.add_argument("--limit", type=int, default=200, help="at most this many (default 200)")
    ls.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    ls.set_defaults(handler=list_)

    e = ps.add_parser("effect", help="a measure's before/after against comparison sites",
                      description="Difference in differences of the share over the limit and V85 against "
                                  "comparison sites (baseline: the weeks before the measure's day), and the "
                                  "figures of the two weeks before and after.")
    e.add_argument("measure_id", type=int, metavar="ID", help="the measure's id (see measure list)")
    e.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    e.set_defaults(handler=effect)


def add(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup import refs
    from planner.measures import MeasureNew, add_measure

    def use_case(conn):
        body = MeasureNew(taken_on=args.on, kind=args.kind, limit_kmh=args.limit, display=args.display,
                          note=args.note)
        return add_measure(conn, refs.site(conn, args.site).id, body, actor=out.actor(), now=datetime.now(UTC))

    return out.run("measure add", settings, use_case, as_json=args.json)


def list_(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup import refs
    from planner.measures import list_measures

    def use_case(conn):
        site_id = refs.site(conn, args.site).id if args.site else None
        return list_measures(conn, site_id=site_id, limit=args.limit)

    return out.run("measure list", settings, use_case, as_json=args.json, text=lambda rows: out.table(
        rows, ["id", "taken_on", "site_name", "kind", "limit_kmh", "display", "note", "created_by"]))


def _effect_text(e) -> str:
    lines = [f"measure {e.measure.id}: {e.measure.kind} at {e.measure.site_name} on {e.measure.taken_on}"]
    f = e.followup
    lines.append(f"comparison sites: {', '.join(map(str, f.comparison_sites)) or 'none'}")
    if f.effect is None or not f.effect.computed:
        lines.append("effect not computed")
    else:
        lines.append(f"baseline {f.effect.baseline[0]} – {f.effect.baseline[1]} ({f.effect.baseline_days} days)")
        for name, est in f.effect.share_over_limit.items():
            did = "–" if est.did is None else f"{100 * est.did:+.1f} pp"
            ci = "" if est.low is None else f" [{100 * est.low:+.1f}, {100 * est.high:+.1f}]"
            v = f.effect.v85_kmh[name]
            v85 = "–" if v.did is None else f"{v.did:+.1f} km/h"
            lines.append(f"  {name:<10} share over limit {did}{ci} ({est.verdict}); V85 {v85} ({v.verdict})")
    lines += [f"note: {n}" for n in (*f.notes, *(f.effect.notes if f.effect else ()), *e.notes)]
    return "\n".join(lines)


def effect(args: argparse.Namespace, settings: Settings) -> int:
    from planner.measures import measure_effect

    return out.run("measure effect", settings, lambda conn: measure_effect(
        conn, settings.planner, args.measure_id, over_kmh=settings.threshold_over_kmh),
        as_json=args.json, text=_effect_text)
