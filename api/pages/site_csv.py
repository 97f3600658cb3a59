"""CSV downloads of what the public pages show: the sites list (``/sites.csv``), a site's page
(``/sites/{id}/figures.csv``) and a comparison (``/compare.csv``), from the same gathered figures
as the pages, so each number matches the page's. One tidy table per download: a ``section``
column names the part of the page, ``when`` the hour, week, cell or speed bin, and a withheld row
(fewer than 30 vehicles) carries no figures."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from planner.compare import SitesComparison
from planner.load import SiteInfo
from planner.siteoverview import MIN_PUBLIC_N, sites_overview

from ..deps import AppSettings, Conn, Public
from .compare import compared, periods
from .site_cache import page_cache
from .site_data import SiteData, site_data
from .site_sections import BIN_KMH, coarse_bins

router = APIRouter(include_in_schema=False)
COLUMNS = ("site_id", "site", "section", "direction", "display", "limit_kmh", "period_from", "period_to", "when",
           "n", "mean_kmh", "v85_kmh", "over_limit_share", "over_threshold_share", "within_limit_share",
           "vehicles_per_day", "vehicles_per_hour", "withheld")


def _cell(v: object) -> object:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return round(v, 4)
    return v


def _csv(rows: Iterable[dict], filename: str) -> Response:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in COLUMNS])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"'})


def site_rows(d: SiteData) -> Iterable[dict]:
    """Every figure of the site page, section by section, in the page's order."""
    base = {"site_id": d.stats.site.id, "site": d.stats.site.name, "period_from": d.first_day.isoformat(),
            "period_to": d.last_day.isoformat()}
    for g in d.figures.groups:
        row = {**base, "section": "figures", "direction": g.direction, "display": g.display, "limit_kmh": g.limit_kmh}
        if g.n < MIN_PUBLIC_N:
            yield {**row, "withheld": True}
            continue
        yield {**row, "n": g.n, "mean_kmh": g.mean_kmh, "v85_kmh": g.v85_kmh, "over_limit_share": g.over_limit.share,
               "over_threshold_share": g.over_threshold.share, "withheld": False}
    for p in d.profiles:
        for h in p.hours:
            yield {**base, "section": "hour_profile", "direction": p.direction, "display": p.display,
                   "when": f"{h.hour:02d}", "mean_kmh": h.mean_kmh, "vehicles_per_day": h.per_day,
                   "withheld": h.n > 0 and h.mean_kmh is None}
    for line in d.week_profile.lines:
        for c in line.cells:
            yield {**base, "section": "hour_of_week", "direction": line.direction, "display": line.display,
                   "when": f"{c.weekday} {c.hour:02d}", "v85_kmh": c.v85_kmh,
                   "vehicles_per_hour": c.vehicles_per_hour, "withheld": c.withheld}
    for g in d.figures.groups:
        if g.n < MIN_PUBLIC_N:
            continue
        for b in coarse_bins(g):
            yield {**base, "section": "distribution", "direction": g.direction, "display": g.display,
                   "limit_kmh": g.limit_kmh, "when": f"{b.lower:g}-{b.lower + BIN_KMH:g} km/h", "n": b.count,
                   "withheld": b.count is None}
    tr = d.trend
    for line in tr.lines:
        for p in line.points:
            yield {**base, "section": "weekly_trend", "period_from": tr.weeks[0].isoformat(),
                   "period_to": d.last_day.isoformat(), "direction": line.direction, "display": line.display,
                   "limit_kmh": p.limit_kmh, "when": p.week.isoformat(), "n": p.n, "v85_kmh": p.v85_kmh,
                   "within_limit_share": p.within_limit_share, "withheld": p.n is None}
    for s in d.display.display + d.display.stealth:
        yield {**base, "section": "display_vs_stealth", "direction": s.direction, "display": s.display,
               "limit_kmh": s.limit_kmh, "n": s.n, "mean_kmh": s.mean_kmh, "v85_kmh": s.v85_kmh,
               "over_limit_share": s.over_limit_share, "over_threshold_share": s.over_threshold_share,
               "withheld": s.withheld}


def compare_rows(c: SitesComparison, sites: list[SiteInfo]) -> Iterable[dict]:
    days = periods(c, sites)
    for col in c.sites:
        first, last = days[col.site.id]
        for s in col.sides:
            yield {"site_id": col.site.id, "site": col.site.name, "section": "compare", "direction": s.direction,
                   "display": s.display, "limit_kmh": s.limit_kmh, "period_from": first, "period_to": last,
                   "n": s.n, "mean_kmh": s.mean_kmh, "v85_kmh": s.v85_kmh, "over_limit_share": s.over_limit_share,
                   "over_threshold_share": s.over_threshold_share, "withheld": s.withheld}


@router.get("/sites/{site_id}/figures.csv")
def site_csv(site_id: int, request: Request, conn: Conn, settings: AppSettings, who: Public) -> Response:
    """The site page's figures as CSV (same period, same withheld cells)."""
    d = page_cache(request.app.state).get(conn, site_id, lambda: site_data(conn, settings, site_id))
    return _csv(site_rows(d), f"site-{site_id}-{d.first_day.isoformat()}-{d.last_day.isoformat()}.csv")


@router.get("/sites.csv")
def sites_csv(conn: Conn, settings: AppSettings, who: Public) -> Response:
    """The map page's list: each site's figures over its last 7 days of data."""
    rows = []
    for s in sites_overview(conn, settings.planner, over_kmh=settings.threshold_over_kmh):
        for g in s.recent:
            rows.append({"site_id": s.id, "site": s.name, "section": "recent", "direction": g.direction,
                         "display": g.display, "limit_kmh": g.limit_kmh,
                         "period_from": s.recent_from.isoformat() if s.recent_from else None,
                         "period_to": s.recent_to.isoformat() if s.recent_to else None,
                         "n": g.n if g.over_limit is not None else None, "mean_kmh": g.mean_kmh,
                         "v85_kmh": g.v85_kmh, "over_limit_share": g.over_limit.share if g.over_limit else None,
                         "over_threshold_share": g.over_threshold.share if g.over_threshold else None,
                         "withheld": g.over_limit is None})
    return _csv(rows, "sites.csv")


@router.get("/compare.csv")
def compare_csv(request: Request, conn: Conn, settings: AppSettings, who: Public,
                site: Annotated[list[int], Query(max_length=20)] = []) -> Response:  # noqa: B006
    """The comparison page's table as CSV."""
    c, infos = compared(conn, settings, site, page_cache(request.app.state))
    return _csv(compare_rows(c, infos), "compare.csv")
