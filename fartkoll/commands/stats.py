"""`fartkoll stats SITE [--from D --to D] [--json]`: spot-speed figures of one site."""

from __future__ import annotations

import argparse
import math
from datetime import date

from planner.names import DIRECTIONS, DISPLAYS

from ..settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="speed statistics of one site per direction and display mode")
    p.add_argument("site", metavar="SITE", help="site id or name (a unique prefix is enough)")
    p.add_argument("--from", dest="date_from", type=date.fromisoformat, help="first local day (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", type=date.fromisoformat,
                   help="last local day, inclusive (default: the day of the latest data)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from planner.sitestats import site_statistics

    from ..db import connect

    with connect(settings) as conn:
        ss, figures = site_statistics(conn, settings.planner, args.site, over_kmh=settings.threshold_over_kmh,
                                      date_from=args.date_from, date_to=args.date_to)
    if args.json:
        print(figures.model_dump_json(by_alias=True, indent=2))
    else:
        print(format_table(ss))
    return 0


def _f(x: float, digits: int = 1) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _pct(s) -> str:
    if not math.isfinite(s.share):
        return "-"
    return f"{100 * s.share:.1f} % [{100 * s.low:.1f}–{100 * s.high:.1f}]"


def format_table(ss) -> str:
    """A readable table: one column per direction × display × limit period."""
    lines = [f"{ss.site.name} (site {ss.site.id})",
             f"period {ss.period}, signs {ss.rounding} speeds; shares with 95 % Wilson intervals"]
    if not ss.groups:
        return "\n".join(lines + [f"note: {n}" for n in ss.notes])
    heads = [f"{DIRECTIONS[g.direction]}/{DISPLAYS[g.display]}/{g.limit_kmh}" for g in ss.groups]
    rows: list[tuple[str, list[str]]] = [
        ("limit from", [f"{max(g.limit_from, ss.period.start):%Y-%m-%d}" for g in ss.groups]),
        ("vehicles n", [str(g.summary.n) for g in ss.groups]),
        ("mean km/h", [_f(g.summary.mean) for g in ss.groups]),
        ("SD km/h", [_f(g.summary.sd) for g in ss.groups]),
    ]
    for k in ("v10", "v50", "v85", "v90", "v95"):
        rows.append((f"{k.upper()} km/h", [_f(g.summary.percentiles[k]) for g in ss.groups]))
    rows += [
        ("pace km/h", [f"{_f(g.summary.pace_start_kmh, 0)}–{_f(g.summary.pace_start_kmh + 10, 0)} "
                       f"({_f(100 * g.summary.pace_share, 0)} %)" for g in ss.groups]),
        ("over limit", [_pct(g.summary.over_limit) for g in ss.groups]),
        ("threshold km/h", [_f(g.summary.threshold_kmh) for g in ss.groups]),
        ("over threshold", [_pct(g.summary.over_threshold) for g in ss.groups]),
        ("V85 - limit", [_f(g.summary.v85_excess_kmh) for g in ss.groups]),
        ("coverage", [_f(100 * g.coverage_share, 0) + " %" if math.isfinite(g.coverage_share) else "-"
                      for g in ss.groups]),
    ]
    label_w = max(len(r[0]) for r in rows)
    col_w = [max(len(h), *(len(r[1][i]) for r in rows)) for i, h in enumerate(heads)]
    lines.append(" " * label_w + "  " + "  ".join(h.rjust(w) for h, w in zip(heads, col_w, strict=True)))
    for label, values in rows:
        lines.append(label.ljust(label_w) + "  " + "  ".join(v.rjust(w) for v, w in zip(values, col_w, strict=True)))
    for g, h in zip(ss.groups, heads, strict=True):
        for w in g.warnings:
            lines.append(f"warning {h}: {w}")
    lines += [f"note: {n}" for n in ss.notes]
    return "\n".join(lines)
