"""A site's figures over a period: series, profile, histogram, display vs stealth, limit changes,
past controls, and several sites side by side. Anonymous readers get public aggregates (cells
under 30 vehicles withheld); readers with a role see detail within their scope, small cells
flagged; another municipality's site answers 404. Each route calls one planner use case."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from core.errors import InvalidInput, NotFound
from planner.compare import (
    ControlEffects,
    DisplayComparison,
    LimitChanges,
    SitesComparison,
    compare_display,
    compare_sites,
    control_effects,
    limit_changes,
)
from planner.histogram_view import SiteHistogram, site_histogram
from planner.profile import SiteProfile, site_profile
from planner.series import SiteSeries, site_series_json
from sql import QUERIES

from .. import scope
from ..deps import AppSettings, Conn, Public
from ..principal import Principal

router = APIRouter()

From = Annotated[date | None, Query(alias="from", description="first local day of the site")]
To = Annotated[date | None, Query(alias="to", description="last local day, inclusive")]
Direction = Annotated[Literal["approaching", "receding", "unknown"] | None, Query()]
Display = Annotated[Literal["display", "stealth"] | None, Query()]
MAX_COMPARED = 20


def public_view(conn, who: Principal, site_id: int) -> bool:
    """Whether ``who`` gets public aggregates of the site rather than its detail: anonymous
    visitors, and people for a site outside their scope (who see what the public sees, never
    less). An unknown site is a 404 for everyone."""
    if not who.anonymous and scope.site_visible(conn, who, site_id):
        return False
    if conn.execute(QUERIES["figures_site_exists"], {"site_id": site_id}).fetchone() is None:
        raise NotFound(f"no site {site_id}")
    return True


@router.get("/sites/{site_id}/series", response_model=SiteSeries)
def series(site_id: int, conn: Conn, settings: AppSettings, who: Public, date_from: From = None,
           date_to: To = None, display: Display = None, direction: Direction = None,
           step: Literal["hour", "day"] = "hour") -> Response:
    """Hourly or daily n, mean, V85, shares over limit and threshold and coverage; gaps are null."""
    public = public_view(conn, who, site_id)
    # the JSON of the typed model, encoded from plain data (a year of daily points is ~1,500 of
    # them; a model for each costs more than the figures); the OpenAPI schema still comes from
    # response_model, and tests/test_read_overhead.py checks the bytes against the model's
    body = site_series_json(conn, settings.planner, site_id, public=public, date_from=date_from, date_to=date_to,
                            step=step, direction=direction, display=display, over_kmh=settings.threshold_over_kmh)
    return Response(body, media_type="application/json")


@router.get("/sites/{site_id}/profile", response_model=SiteProfile)
def profile(site_id: int, conn: Conn, settings: AppSettings, who: Public, date_from: From = None,
            date_to: To = None) -> SiteProfile:
    """Hour × weekday: vehicles per observed hour and V85 in each local hour of the week."""
    public = public_view(conn, who, site_id)
    return site_profile(conn, settings.planner, site_id, public=public, date_from=date_from, date_to=date_to)


@router.get("/sites/{site_id}/histogram", response_model=SiteHistogram)
def histogram(site_id: int, conn: Conn, settings: AppSettings, who: Public, date_from: From = None,
              date_to: To = None, width: Annotated[int, Query(description="bin width, 1 or 5 km/h")] = 1) -> SiteHistogram:
    """Vehicles per 1 or 5 km/h bin with the limit and the reporting threshold."""
    public = public_view(conn, who, site_id)
    return site_histogram(conn, settings.planner, site_id, public=public, width_kmh=width, date_from=date_from,
                          date_to=date_to, over_kmh=settings.threshold_over_kmh)


@router.get("/sites/{site_id}/compare-display", response_model=DisplayComparison)
def display_vs_stealth(site_id: int, conn: Conn, settings: AppSettings, who: Public, date_from: From = None,
                       date_to: To = None) -> DisplayComparison:
    """Each direction's figures with the display on and in stealth mode."""
    public = public_view(conn, who, site_id)
    return compare_display(conn, settings.planner, site_id, public=public, date_from=date_from, date_to=date_to,
                           over_kmh=settings.threshold_over_kmh)


@router.get("/sites/{site_id}/limit-changes", response_model=LimitChanges)
def limit_change_effects(site_id: int, conn: Conn, settings: AppSettings, who: Public) -> LimitChanges:
    """Figures in the 14 days before and after each change of the legal limit."""
    public = public_view(conn, who, site_id)
    return limit_changes(conn, settings.planner, site_id, public=public, over_kmh=settings.threshold_over_kmh)


@router.get("/sites/{site_id}/controls", response_model=ControlEffects)
def past_controls(site_id: int, conn: Conn, settings: AppSettings, who: Public) -> ControlEffects:
    """Figures before and after each past control (anonymous: controls that ended at least
    ``web.public_control_delay_days`` ago, as on the public pages)."""
    public = public_view(conn, who, site_id)
    return control_effects(conn, settings.planner, site_id, public=public, now=datetime.now(UTC),
                           delay=timedelta(days=settings.web.public_control_delay_days),
                           over_kmh=settings.threshold_over_kmh)


@router.get("/compare", response_model=SitesComparison)
def compare(conn: Conn, settings: AppSettings, who: Public,
            sites: Annotated[str, Query(description="site ids, comma-separated", max_length=200)] = "",
            date_from: From = None, date_to: To = None) -> SitesComparison:
    """Several sites side by side, each over its period."""
    ids = []
    for i, part in enumerate(p.strip() for p in sites.split(",")):
        if not part.isdigit() or len(part) > 9:
            raise InvalidInput(f"sites: {part!r} is not a site id", errors=[
                {"record": i, "field": "sites", "value": part, "reason": "not a site id"}])
        ids.append(int(part))
    if not ids or len(ids) > MAX_COMPARED:
        raise InvalidInput(f"sites: give 1 to {MAX_COMPARED} site ids, got {len(ids)}", errors=[
            {"record": None, "field": "sites", "value": sites, "reason": f"1 to {MAX_COMPARED} ids"}])
    public = True
    for sid in ids:
        public = public_view(conn, who, sid)
    return compare_sites(conn, settings.planner, ids, public=public, date_from=date_from, date_to=date_to,
                         over_kmh=settings.threshold_over_kmh)
