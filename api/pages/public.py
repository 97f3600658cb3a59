"""The public pages: the map of sites (``/``) and a site's figures (``/sites/{id}``).

Anonymous visitors see aggregates only: no plans, rankings or per-vehicle rows, and no figure of
a group, an hour or a speed bin with fewer than 30 vehicles (shown as withheld). The pages call
the use cases the JSON routes call (planner.siteoverview, planner.sitestats).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from core import i18n
from planner.charts import SHARE_BANDS, bar_chart, distribution_chart, share_colour
from planner.siteoverview import MIN_PUBLIC_N, RecentFigures, SiteSummary, sites_overview
from planner.sitestats import GroupFigures, site_statistics

from ..deps import AppSettings, Conn, Public
from .hourprofile import hour_profiles
from .render import render

router = APIRouter(include_in_schema=False)
BIN_KMH = 5
"""Width of the public speed-distribution bins (1 km/h bins would show single vehicles)."""


def headline(site: SiteSummary) -> RecentFigures | None:
    """The group a site is coloured by on the map: the most-measured one with figures."""
    shown = [g for g in site.recent if g.over_limit is not None]
    return max(shown, key=lambda g: g.n) if shown else None


@dataclass(frozen=True)
class Bin:
    lower: float
    count: int | None
    """None: fewer than 30 vehicles, withheld."""


def coarse_bins(g: GroupFigures, width: float = BIN_KMH) -> list[Bin]:
    """The 1 km/h histogram summed into ``width`` bins (edges at multiples of ``width``)."""
    sums: dict[float, int] = {}
    for lo, c in zip(g.histogram.lower_kmh, g.histogram.counts, strict=True):
        edge = (lo // width) * width
        sums[edge] = sums.get(edge, 0) + c
    if not sums:
        return []
    edges = [min(sums) + k * width for k in range(int((max(sums) - min(sums)) / width) + 1)]
    return [Bin(e, None if 0 < sums.get(e, 0) < MIN_PUBLIC_N else sums.get(e, 0)) for e in edges]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, conn: Conn, settings: AppSettings, who: Public) -> HTMLResponse:
    """The map of sites coloured by share over the limit, and the list of sites below it."""
    sites = sites_overview(conn, settings.planner, over_kmh=settings.threshold_over_kmh)
    rows = [(s, headline(s)) for s in sites]
    markers = [{"id": s.id, "name": s.name, "street": s.street, "lat": s.lat, "lon": s.lon,
                "colour": share_colour(h.over_limit.share if h else None),
                "share": h.over_limit.share if h else None} for s, h in rows if s.lat is not None]
    bands, lower = [], 0.0
    for upper, colour in SHARE_BANDS:
        bands.append((lower, None if upper == float("inf") else upper, colour))
        lower = upper
    return render(request, "public/home.html", rows=rows, min_n=MIN_PUBLIC_N, markers=markers, bands=bands, no_data=share_colour(None),
                  colour=share_colour, tiles_url=settings.web.tiles_url,
                  tiles_attribution=settings.web.tiles_attribution)


@router.get("/sites/{site_id}", response_class=HTMLResponse)
def site_page(site_id: int, request: Request, conn: Conn, settings: AppSettings, who: Public) -> HTMLResponse:
    """A site's figures: V85, mean, shares over limit and threshold with intervals, the hourly
    profile and the speed distribution, each chart with its text alternative and table."""
    ss, fig = site_statistics(conn, settings.planner, site_id, over_kmh=settings.threshold_over_kmh)
    lang = i18n.language(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE))
    t = i18n.translator(lang)
    groups = []
    for k, g in enumerate(fig.groups):
        enough = g.n >= MIN_PUBLIC_N
        bins = coarse_bins(g) if enough else []
        label = t("group_label", direction=t("direction_" + g.direction), display=t("display_" + g.display),
                  limit=g.limit_kmh)
        chart = distribution_chart(
            f"dist-{k}", [b.lower for b in bins], BIN_KMH, [b.count for b in bins],
            title=t("chart_distribution_title", group=label),
            desc=t("chart_distribution_desc", n=g.n, limit=g.limit_kmh,
                   threshold=i18n.number(g.threshold_kmh, lang, 0), v85=i18n.number(g.v85_kmh, lang)),
            unit=t("unit_vehicles"), limit_kmh=g.limit_kmh, threshold_kmh=g.threshold_kmh,
            limit_label=t("limit_at", limit=g.limit_kmh),
            threshold_label=t("threshold_at", threshold=i18n.number(g.threshold_kmh, lang, 0)),
            count_label=lambda v: i18n.number(v, lang, 0)) if bins else ""
        groups.append({"g": g, "enough": enough, "label": label, "bins": bins, "chart": chart, "width": BIN_KMH})
    limit = fig.groups[0].limit_kmh if fig.groups else None
    profiles = []
    for k, p in enumerate(hour_profiles(conn, site_id, ss.site.time_zone, ss.period, min_n=MIN_PUBLIC_N)):
        label = t("profile_label", direction=t("direction_" + p.direction), display=t("display_" + p.display))
        shown = [h for h in p.hours if h.mean_kmh is not None]
        peak = max(shown, key=lambda h: h.mean_kmh) if shown else None
        chart = bar_chart(
            f"prof-{k}", [f"{h.hour:02d}" for h in p.hours], [h.mean_kmh for h in p.hours],
            title=t("chart_profile_title", group=label),
            desc=t("chart_profile_desc", hours=len(shown), peak_hour=f"{peak.hour:02d}" if peak else "–",
                   peak=i18n.number(peak.mean_kmh if peak else None, lang)),
            unit=t("unit_mean_kmh"), value_label=lambda v: i18n.number(v, lang, 0), reference=limit,
            reference_label=t("limit_at", limit=limit) if limit else "", label_every=3) if shown else ""
        profiles.append({"p": p, "label": label, "chart": chart})
    return render(request, "public/site.html", fig=fig, site=ss.site, groups=groups, profiles=profiles,
                  min_n=MIN_PUBLIC_N, first_day=ss.period.start.astimezone(ZoneInfo(ss.site.time_zone)).date(),
                  last_day=(ss.period.end.astimezone(ZoneInfo(ss.site.time_zone)) - timedelta(days=1)).date())
