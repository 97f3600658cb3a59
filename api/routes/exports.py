"""Downloads of a site's figures: CSV and JSON of the series, Toronto's and Telraam's layouts.
Same access as the figures: anonymous readers get public aggregates."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from planner.exports import export_site

from ..deps import AppSettings, Conn, Public
from .figures import From, To, public_view

router = APIRouter()


@router.get("/sites/{site_id}/export", response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def export(site_id: int, conn: Conn, settings: AppSettings, who: Public,
           format: Literal["csv", "json", "toronto", "telraam"] = "csv", date_from: From = None,
           date_to: To = None) -> Response:
    """The site's figures as a file (``fartkoll export`` gives the same)."""
    public = public_view(conn, who, site_id)
    f = export_site(conn, settings.planner, site_id, format, public=public, date_from=date_from, date_to=date_to,
                    over_kmh=settings.threshold_over_kmh)
    return Response(f.content, media_type=f.media_type,
                    headers={"content-disposition": f'attachment; filename="{f.filename}"'})
