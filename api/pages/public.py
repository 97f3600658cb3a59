"""The public pages: the map of sites (``/``) and a site's figures (``/sites/{id}``).

Anonymous visitors see aggregates only: no plans, rankings or per-vehicle rows, and no figure of
a group, an hour or a speed bin with fewer than 30 vehicles (shown as withheld). The pages call
the use cases the JSON routes call (planner.siteoverview, planner.sitestats, planner.profile,
planner.compare, planner.sitepage); the site page's figures are gathered once
(:mod:`api.pages.site_data`) for the page and its CSV alike.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from core import i18n
from planner.charts import SHARE_BANDS, share_colour
from planner.siteoverview import MIN_PUBLIC_N, RecentFigures, SiteSummary, sites_overview

from ..deps import AppSettings, Conn, Public
from .render import render
from .site_cache import page_cache
from .site_data import site_data
from .site_sections import display_section, groups_section, heatmaps_section, profiles_section, trend_section

router = APIRouter(include_in_schema=False)


def headline(site: SiteSummary) -> RecentFigures | None:
    """The group a site is coloured by on the map: the most-measured one with figures."""
    shown = [g for g in site.recent if g.over_limit is not None]
    return max(shown, key=lambda g: g.n) if shown else None


@router.get("/", response_class=HTMLResponse)
def home(request: Request, conn: Conn, settings: AppSettings, who: Public) -> HTMLResponse:
    """The map of sites coloured by share over the limit, and the list of sites beside it."""
    sites = page_cache(request.app.state).overview(
        conn, lambda: sites_overview(conn, settings.planner, over_kmh=settings.threshold_over_kmh),
        settings.threshold_over_kmh)
    rows = [(s, headline(s)) for s in sites]
    markers = [{"id": s.id, "name": s.name, "street": s.street, "lat": s.lat, "lon": s.lon,
                "colour": share_colour(h.over_limit.share if h else None),
                "share": h.over_limit.share if h else None} for s, h in rows if s.lat is not None]
    bands, lower = [], 0.0
    for upper, colour in SHARE_BANDS:
        bands.append((lower, None if upper == float("inf") else upper, colour))
        lower = upper
    return render(request, "public/home.html", rows=rows, min_n=MIN_PUBLIC_N, markers=markers, bands=bands,
                  no_data=share_colour(None), colour=share_colour, tiles_url=settings.web.tiles_url,
                  tiles_attribution=settings.web.tiles_attribution)


@router.get("/sites/{site_id}", response_class=HTMLResponse)
def site_page(site_id: int, request: Request, conn: Conn, settings: AppSettings, who: Public) -> HTMLResponse:
    """A site's figures: V85, mean, shares over limit and threshold with intervals, the hourly
    profile, the hour × weekday heatmap, the speed distribution, weekly trends, display vs
    stealth, and the way to the effect of past controls; each chart with its text alternative
    and table."""
    d = page_cache(request.app.state).get(conn, site_id, lambda: site_data(conn, settings, site_id))
    lang = i18n.language(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE))
    t = i18n.translator(lang)
    return render(request, "public/site.html", fig=d.figures, site=d.stats.site, groups=groups_section(d, t, lang),
                  profiles=profiles_section(d, t, lang), heatmaps=heatmaps_section(d, t, lang),
                  trend=trend_section(d, t, lang), display=display_section(d, t, lang), min_n=MIN_PUBLIC_N,
                  first_day=d.first_day, last_day=d.last_day,
                  delay_days=settings.web.public_control_delay_days)
