"""The hourly (or daily) series as CSV: one row per line and step; an empty cell is a gap."""

from __future__ import annotations

import csv
import io

from planner.series import SiteSeries

COLUMNS = ("site_id", "site", "direction", "display", "start", "hours", "limit_kmh", "threshold_kmh", "n",
           "mean_kmh", "v85_kmh", "over_limit_share", "over_threshold_share", "coverage_share", "small",
           "withheld")


def _cell(v: object) -> object:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def render(s: SiteSeries) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for line in s.lines:
        for p in line.points:
            w.writerow([_cell(v) for v in (
                s.site.id, s.site.name, line.direction, line.display, p.start.isoformat(), p.hours, p.limit_kmh,
                p.threshold_kmh, p.n, p.mean_kmh, p.v85_kmh, p.over_limit_share, p.over_threshold_share,
                p.coverage_share, p.small, p.withheld)])
    return out.getvalue()
