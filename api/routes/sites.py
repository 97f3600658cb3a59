"""Sites and their figures. Each route calls the planner's use case that ``fartkoll stats`` calls,
so the JSON is the same and the reporting thresholds follow each site's police area."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from planner.siteoverview import SiteSummary, sites_overview
from planner.sitestats import SiteFigures, figures_json, statistics_of

from .. import scope
from ..deps import AppSettings, Conn, Public, Viewer

router = APIRouter()


@router.get("/sites", response_model=list[SiteSummary])
def list_sites(conn: Conn, settings: AppSettings, who: Public) -> list[SiteSummary]:
    """Every site with its latest figures (the last 7 days of its data; groups under 30 vehicles withheld)."""
    return sites_overview(conn, settings.planner, over_kmh=settings.threshold_over_kmh)


@router.get("/sites/{site_id}/stats", response_model=SiteFigures)
def site_stats(site_id: int, conn: Conn, settings: AppSettings, who: Viewer,
               date_from: Annotated[date | None, Query(alias="from", description="first local day")] = None,
               date_to: Annotated[date | None, Query(alias="to", description="last local day, inclusive")] = None,
               ) -> Response:
    """Spot-speed figures of one site (as ``fartkoll stats SITE --json``)."""
    scope.require_site(conn, who, site_id)
    ss = statistics_of(conn, settings.planner, site_id, over_kmh=settings.threshold_over_kmh,
                       date_from=date_from, date_to=date_to)
    # the typed model's JSON encoded from plain data (tests/test_read_overhead.py checks the
    # bytes); the OpenAPI schema still comes from response_model
    return Response(figures_json(ss), media_type="application/json")
