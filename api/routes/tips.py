"""Citizen tips over HTTP: the public form endpoint (anyone, rate-limited per client address,
size-limited, no personal data asked for) and the list for officers and viewers, scoped to the
municipalities they may see. The same use cases as ``fartkoll tip add | list``."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from collector.setup import tips
from collector.setup.tips import TipOut
from core.errors import TooLarge

from .. import scope
from ..deps import Conn, Public, Viewer

router = APIRouter(tags=["tips"])

MAX_BODY = 16 * 1024          # bytes: a form with 2000 characters of text fits many times over
RATE_LIMIT = 5                # tips per client address and window
RATE_WINDOW_S = 3600


class TipIn(BaseModel):
    """A tip: where (a site from the map, or a position) and what. No name or contact is needed."""

    site_id: int | None = None
    municipality_id: int | None = Field(None, description="for a position: the municipality it lies in "
                                                          "(default: that of the nearest site)")
    lat: float | None = None
    lon: float | None = None
    text: str = Field("", description=f"at most {tips.MAX_TEXT} characters")


@router.post("/tips", status_code=201)
def add_tip(body: TipIn, request: Request, conn: Conn, who: Public) -> TipOut:
    # FastAPI has read the body by now; a declared size over the cap is refused all the same
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise TooLarge(f"a tip is at most {MAX_BODY} bytes ({length} sent)")
    now = datetime.now(UTC)
    client = request.client.host if request.client else "unknown"
    tips.count_tip(conn, client=client, now=now, limit=RATE_LIMIT, window_s=RATE_WINDOW_S)
    out = tips.add_tip(conn, actor=who.actor, now=now, text=body.text, site_id=body.site_id, lat=body.lat,
                       lon=body.lon, municipality_id=body.municipality_id, channel="web")
    conn.commit()
    return out


@router.get("/tips")
def list_tips(conn: Conn, who: Viewer, status: str | None = None, limit: int = 200) -> list[TipOut]:
    return tips.list_tips(conn, municipality_ids=scope.municipality_ids(conn, who), status=status, limit=limit)
