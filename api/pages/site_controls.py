"""The effect of a site's past controls (``/sites/{id}/controls``): the follow-up use case for
controls that ended at least ``web.public_control_delay_days`` ago, newest first.

Its own page because the follow-up is the slow part of a site's figures: the site page loads it
with htmx once the section scrolls into view (``hx-select`` takes the body), and without
JavaScript links here. A control inside the delay is neither shown nor counted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from planner.controls import list_controls
from planner.load import load_sites
from planner.sitepage import past_followups

from ..deps import AppSettings, Conn, Public
from ..routes.figures import public_view
from .render import render
from .site_cache import page_cache

router = APIRouter(include_in_schema=False)
WINDOWS = ("during", "+1 day", "+1 week", "+4 weeks")


def delayed_followups(conn, settings, site_id: int):
    return past_followups(conn, settings.planner, site_id, now=datetime.now(UTC),
                          delay=timedelta(days=settings.web.public_control_delay_days))


@router.get("/sites/{site_id}/controls", response_class=HTMLResponse)
def site_controls(site_id: int, request: Request, conn: Conn, settings: AppSettings, who: Public) -> HTMLResponse:
    """The measured effect of the site's past controls (difference in differences against
    comparison sites), only for controls old enough to show."""
    public_view(conn, who, site_id)  # 404 for an unknown site
    site = load_sites(conn)[site_id]
    cutoff = datetime.now(UTC) - timedelta(days=settings.web.public_control_delay_days)
    shown = tuple((c.id, c.end_time) for c in list_controls(conn, site_id) if c.end_time <= cutoff)
    followups = page_cache(request.app.state).get(
        conn, site_id, lambda: delayed_followups(conn, settings, site_id), "controls", shown)
    return render(request, "public/controls.html", site=site, followups=followups,
                  windows=WINDOWS, delay_days=settings.web.public_control_delay_days)
