"""Several sites side by side (``/compare?site=1&site=2``): each site's figures per direction ×
display mode × legal limit over its own latest weeks, from the comparison use case the JSON route
``/api/v1/compare`` calls (public aggregates). The site choice is a plain GET form, so the page
works without JavaScript; the map page and each site page link here."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from core import i18n
from core.errors import InvalidInput, NotFound
from fartkoll.settings import Settings
from planner.charts import SERIES, Line, grouped_bar_chart
from planner.compare import Side, SiteColumn, SitesComparison, compare_sites
from planner.load import SiteInfo, load_sites
from planner.siteoverview import MIN_PUBLIC_N

from ..deps import AppSettings, Conn, Public
from .render import render
from .site_cache import PageCache, page_cache

router = APIRouter(include_in_schema=False)
MAX_COMPARED = 8
SERIES_OF = {("approaching", "display"): SERIES[0], ("approaching", "stealth"): SERIES[5],
             ("receding", "display"): SERIES[1], ("receding", "stealth"): SERIES[4],
             ("unknown", "display"): SERIES[2], ("unknown", "stealth"): SERIES[3]}
SiteIds = Annotated[list[int], Query(max_length=MAX_COMPARED, description="site ids")]


def compared(conn: psycopg.Connection, settings: Settings, site_ids: list[int],
             cache: PageCache | None = None) -> tuple[SitesComparison, list[SiteInfo]]:
    """The comparison of the distinct ``site_ids`` in the order given (404 for an unknown one).
    Each site's column rests on that site alone (its own default period): with a ``cache``, a
    column is kept until the site's data version changes."""
    ids = list(dict.fromkeys(site_ids))
    if len(ids) > MAX_COMPARED:
        raise InvalidInput(f"site: give at most {MAX_COMPARED} sites, got {len(ids)}", errors=[
            {"record": None, "field": "site", "value": str(len(ids)), "reason": f"at most {MAX_COMPARED}"}])
    sites = load_sites(conn)
    missing = [i for i in ids if i not in sites]
    if missing:
        raise NotFound(f"no site {missing[0]}")
    over = settings.threshold_over_kmh
    if cache is None:
        return compare_sites(conn, settings.planner, ids, public=True, over_kmh=over), [sites[i] for i in ids]

    def column(sid: int) -> SiteColumn:
        return cache.get(conn, sid, lambda: compare_sites(conn, settings.planner, [sid], public=True,
                                                          over_kmh=over).sites[0], "compare column", over)

    return SitesComparison(public=True, sites=[column(i) for i in ids]), [sites[i] for i in ids]


def _main_sides(sides: list[Side]) -> dict[tuple[str, str], Side]:
    """Per direction × display the side with most vehicles (a site whose limit changed has two)."""
    out: dict[tuple[str, str], Side] = {}
    for s in sides:
        key = (s.direction, s.display)
        if key not in out or (s.n or 0) > (out[key].n or 0):
            out[key] = s
    return out


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, conn: Conn, settings: AppSettings, who: Public, site: SiteIds = []) -> HTMLResponse:  # noqa: B006
    """Pick sites; see their V85 and shares over the limit side by side, as chart and table."""
    lang = i18n.language(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE))
    t = i18n.translator(lang)
    all_sites = sorted(load_sites(conn).values(), key=lambda s: s.name)
    c, chosen = compared(conn, settings, site, page_cache(request.app.state)) if site else (None, [])
    charts = {}
    if c is not None:
        mains = [_main_sides(col.sides) for col in c.sites]
        keys = [k for k in SERIES_OF if any(k in m for m in mains)]
        labels = [col.site.name for col in c.sites]

        def label(k) -> str:
            return t("profile_label", direction=t("direction_" + k[0]), display=t("display_" + k[1]))

        def lines(value) -> list[Line]:
            return [Line(label(k), [value(m.get(k)) for m in mains], SERIES_OF[k]) for k in keys]

        names = ", ".join(labels)
        charts["over"] = grouped_bar_chart(
            "cmp-over", labels, lines(lambda s: None if s is None or s.over_limit_share is None else 100 * s.over_limit_share),
            title=t("chart_compare_over_title"), desc=t("chart_compare_desc", sites=names, n=MIN_PUBLIC_N),
            unit=t("unit_over_pct"), value_label=lambda v: i18n.number(v, lang, 0) + " %")
        charts["v85"] = grouped_bar_chart(
            "cmp-v85", labels, lines(lambda s: None if s is None else s.v85_kmh),
            title=t("chart_compare_v85_title"), desc=t("chart_compare_desc", sites=names, n=MIN_PUBLIC_N),
            unit=t("unit_v85_kmh"), value_label=lambda v: i18n.number(v, lang, 0))
    chosen_ids = [s.id for s in chosen]
    query = "&".join(f"site={i}" for i in chosen_ids)
    return render(request, "public/compare.html", all_sites=all_sites, chosen=chosen_ids, comparison=c,
                  charts=charts, min_n=MIN_PUBLIC_N, csv_query=query, max_sites=MAX_COMPARED,
                  periods=periods(c, chosen) if c else {})


def periods(c: SitesComparison, sites: list[SiteInfo]) -> dict[int, tuple[str, str]]:
    """Each compared site's period as local days (first, last inclusive)."""
    zones = {s.id: ZoneInfo(s.time_zone) for s in sites}
    return {col.site.id: (col.period.from_.astimezone(zones[col.site.id]).date().isoformat(),
                          (col.period.to.astimezone(zones[col.site.id]) - timedelta(microseconds=1)).date().isoformat())
            for col in c.sites}
