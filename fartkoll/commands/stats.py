"""`fartkoll stats SITE [--from D --to D] [--json]`: spot-speed figures of one site."""

from __future__ import annotations

import argparse
import math
from datetime import date
from zoneinfo import ZoneInfo

from planner.names import DIRECTIONS, DISPLAYS
from planner.stats import KMH_PER_UNIT

from ..settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="speed statistics of one site per direction and display mode")
    p.add_argument("site", metavar="SITE", help="site id or name (a unique prefix is enough)")
    p.add_argument("--from", dest="date_from", type=date.fromisoformat, help="first local day (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", type=date.fromisoformat,
                   help="last local day, inclusive (default: the day of the site's own latest data)")
    p.add_argument("--weeks", type=int, help="length of the default period in weeks (default: planner.period_weeks)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from planner.sitestats import site_statistics

    from ..db import connect

    with connect(settings) as conn:
        ss, figures = site_statistics(conn, settings.planner, args.site, over_kmh=settings.threshold_over_kmh,
                                      date_from=args.date_from, date_to=args.date_to, weeks=args.weeks)
    if args.json:
        print(figures.model_dump_json(by_alias=True, indent=2))
    else:
        print(format_table(ss))
    return 0


def _f(x: float, digits: int = 1) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _pct(s, has_limit: bool = True) -> str:
    if not has_limit or not math.isfinite(s.share):
        return "-"
    return f"{100 * s.share:.1f} % [{100 * s.low:.1f}–{100 * s.high:.1f}]"


def local_period_text(period, tz: str) -> str:
    """[from, to) in the site's local time with its zone, e.g. 2024-10-21 00:00 CEST – 2024-10-28 00:00 CET."""
    zone = ZoneInfo(tz)
    a, b = period.start.astimezone(zone), period.end.astimezone(zone)
    return f"{a:%Y-%m-%d %H:%M} {a:%Z} – {b:%Y-%m-%d %H:%M} {b:%Z} ({tz})"


def _head(g) -> str:
    display = DISPLAYS[g.display] if g.display is not None else "display?"
    limit = g.limit.posted if g.limit else "no limit"
    return f"{DIRECTIONS[g.direction]}/{display}/{limit}" + ("/binned" if g.source == "binned" else "")


def format_table(ss) -> str:
    """A readable table: one column per source × direction × display × limit."""
    lines = [f"{ss.site.name} (site {ss.site.id})",
             f"period {local_period_text(ss.period, ss.site.time_zone)}",
             f"signs report {ss.unit}, {ss.rounding}; shares with 95 % Wilson intervals"]
    if not ss.groups:
        return "\n".join(lines + [f"note: {n}" for n in ss.notes])
    zone = ZoneInfo(ss.site.time_zone)
    heads = [_head(g) for g in ss.groups]
    lim = [g.limit is not None for g in ss.groups]
    rows: list[tuple[str, list[str]]] = [
        ("limit from", [f"{max(g.limit_from, ss.period.start).astimezone(zone):%Y-%m-%d}" if g.limit else "-"
                        for g in ss.groups]),
        ("vehicles n", [str(g.summary.n) for g in ss.groups]),
        ("mean km/h", [_f(g.summary.mean) for g in ss.groups]),
        ("SD km/h", [_f(g.summary.sd) for g in ss.groups]),
    ]
    for k in ("v10", "v50", "v85", "v90", "v95"):
        rows.append((f"{k.upper()} km/h", [_f(g.summary.percentiles[k], 2 if g.sign_unit != "kmh" else 1)
                                           + ("" if g.summary.exact_percentiles else "~") for g in ss.groups]))
    if ss.unit != "kmh" and ss.unit in KMH_PER_UNIT:
        rows.append((f"V85 {ss.unit}", [_f(g.summary.v85 / KMH_PER_UNIT[g.sign_unit], 1) for g in ss.groups]))
    rows += [
        ("pace km/h", [f"{_f(g.summary.pace_start_kmh, 0)}–{_f(g.summary.pace_start_kmh + 10, 0)} "
                       f"({_f(100 * g.summary.pace_share, 0)} %)" for g in ss.groups]),
        ("over limit", [_pct(g.summary.over_limit, x) for g, x in zip(ss.groups, lim, strict=True)]),
        ("threshold km/h", [_f(g.summary.threshold_kmh) if x else "-" for g, x in zip(ss.groups, lim, strict=True)]),
        ("over threshold", [_pct(g.summary.over_threshold, x) for g, x in zip(ss.groups, lim, strict=True)]),
        ("V85 - limit", [_f(g.summary.v85_excess_kmh) if x else "-" for g, x in zip(ss.groups, lim, strict=True)]),
        ("coverage", [_f(100 * g.coverage_share, 0) + " %" if math.isfinite(g.coverage_share) else "-"
                      for g in ss.groups]),
    ]
    label_w = max(len(r[0]) for r in rows)
    col_w = [max(len(h), *(len(r[1][i]) for r in rows)) for i, h in enumerate(heads)]
    lines.append(" " * label_w + "  " + "  ".join(h.rjust(w) for h, w in zip(heads, col_w, strict=True)))
    for label, values in rows:
        lines.append(label.ljust(label_w) + "  " + "  ".join(v.rjust(w) for v, w in zip(values, col_w, strict=True)))
    if not all(g.summary.exact_percentiles for g in ss.groups):
        lines.append("~ interpolated within the speed bin")
    for g, h in zip(ss.groups, heads, strict=True):
        for w in g.warnings:
            lines.append(f"warning {h}: {w}")
    lines += [f"note: {n}" for n in ss.notes]
    return "\n".join(lines)
