"""`fartkoll export SITE --format csv|json|toronto|telraam [--from D --to D] [--out FILE]`: a
site's figures as a file, the same as ``GET /api/v1/sites/{id}/export`` gives a viewer."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from ..settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    from planner.exports import FORMATS

    p = sub.add_parser("export", help="a site's figures as CSV, JSON, or Toronto's or Telraam's layout")
    p.add_argument("site", metavar="SITE", help="site id or name (a unique prefix is enough)")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default="csv", help="layout (default csv)")
    p.add_argument("--from", dest="date_from", type=date.fromisoformat, help="first local day (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", type=date.fromisoformat,
                   help="last local day, inclusive (default: the day of the site's latest data)")
    p.add_argument("--out", type=Path, help="write to FILE instead of standard output")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from planner.exports import export_site
    from planner.load import load_sites, resolve_site

    from ..db import connect

    with connect(settings) as conn:
        text = args.site.strip()
        site_id = int(text) if text.isdigit() else resolve_site(load_sites(conn), text).id
        f = export_site(conn, settings.planner, site_id, args.fmt, public=False, date_from=args.date_from,
                        date_to=args.date_to, over_kmh=settings.threshold_over_kmh)
    if args.out:
        args.out.write_text(f.content, encoding="utf-8")
        print(f"wrote {args.out} ({f.format}, {len(f.content.splitlines())} lines)", file=sys.stderr)
    else:
        sys.stdout.write(f.content)
    return 0
