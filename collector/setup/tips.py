"""Citizen tips about speeding: add one (the public form, or an officer recording a phone call),
list them for the municipalities a reader may see, and the per-client rate limit of the form.

No personal data is asked for or stored: a tip is a place (a site, or a position) and a text.
The rate limit counts tips per client address in the database (so every server process shares
it), per fixed window; the address is stored only as a hash, and old windows are pruned.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Literal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from core.errors import NotFound, TooManyRequests
from sql import QUERIES

from . import audit, checks, refs

MAX_TEXT = 2000                       # characters; the table refuses longer ones too
NEAR_KM = 5.0                         # a position this close to a site lies in that site's municipality
Channel = Literal["web", "phone", "email", "letter", "meeting", "other"]
Status = Literal["new", "linked", "closed"]


class TipOut(BaseModel):
    """A citizen tip with the place it is about."""

    id: int
    received_at: datetime
    site_id: int | None
    site: str | None
    street: str | None
    municipality_id: int | None
    municipality: str | None
    lat: float | None
    lon: float | None
    text: str
    status: Status
    channel: Channel


class RateLimited(TooManyRequests):
    """Too many tips from this address: wait and try again."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(retry_after_s)}


def count_tip(conn: psycopg.Connection, *, client: str, now: datetime, limit: int = 5,
              window_s: int = 3600) -> int:
    """Count one tip from ``client`` (its address) in the current window of ``window_s`` seconds;
    raise :class:`RateLimited` (with the seconds until the window ends) past ``limit``. Returns the
    count. Never commits: the caller commits it with the tip."""
    now = now.astimezone(UTC)
    epoch = int(now.timestamp())
    start = datetime.fromtimestamp(epoch - epoch % window_s, UTC)
    conn.execute(QUERIES["setup_tip_rate_prune"], {"before": now - timedelta(days=1, seconds=window_s)})
    digest = hashlib.sha256(b"fartkoll-tip-rate:" + client.encode("utf-8", "surrogateescape")).digest()
    count = conn.execute(QUERIES["setup_tip_rate_hit"], {"client_hash": digest, "window_start": start}).fetchone()[0]
    if count > limit:
        wait = max(1, int((start + timedelta(seconds=window_s) - now).total_seconds() + 0.999))
        raise RateLimited(f"at most {limit} tips per {window_s // 60} minutes from one address: "
                          f"try again in {wait} s", wait)
    return count


def _tips(conn: psycopg.Connection, *, municipality_ids: list[int] | None, status: str | None = None,
          tip_id: int | None = None, limit: int = 200) -> list[TipOut]:
    if tip_id is not None and not checks.is_id(tip_id):
        return []
    rows = conn.cursor(row_factory=dict_row).execute(QUERIES["setup_tips"], {
        "municipality_ids": municipality_ids, "status": status, "id": tip_id, "limit": limit}).fetchall()
    return [TipOut(**r) for r in rows]


def add_tip(conn: psycopg.Connection, *, actor: str, now: datetime, text: str = "", site_id: int | None = None,
            lat: float | None = None, lon: float | None = None, municipality_id: int | None = None,
            channel: str = "web") -> TipOut:
    """Store a tip about a site or a position (one of them is needed). A tip with only a
    position belongs to ``municipality_id``, or else to the municipality of the nearest site
    within :data:`NEAR_KM`. Never commits."""
    text = checks.text("text", text, MAX_TEXT, required=False)
    if channel not in Channel.__args__:
        raise checks.invalid("channel", channel, f"must be one of {', '.join(Channel.__args__)}")
    if (lat is None) != (lon is None):
        raise checks.invalid("lat" if lat is None else "lon", None, "give both lat and lon, or neither")
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise checks.invalid("lat", lat, "lat must be within ±90 and lon within ±180 degrees")
    street_id = None
    if site_id is not None:
        refs.site_by_id(conn, site_id)
        street_id = conn.execute(QUERIES["setup_street_of_site"], {"site_id": site_id}).fetchone()[0]
    elif lat is None:
        raise checks.invalid("site_id", None, "say where: a site, or a position (lat and lon)")
    elif municipality_id is not None:
        if not checks.is_id(municipality_id) or conn.execute(
                QUERIES["setup_municipality_by_id"], {"id": municipality_id}).fetchone() is None:
            raise NotFound(f"no municipality with id {municipality_id}",
                           errors=[{"record": None, "field": "municipality_id", "value": municipality_id,
                                    "reason": "unknown municipality"}])
    else:
        near = conn.execute(QUERIES["setup_nearest_site_municipality"], {"lat": lat, "lon": lon}).fetchone()
        municipality_id = near[0] if near is not None and near[1] <= NEAR_KM else None
    if site_id is not None:
        municipality_id = None          # the site's street says which
    tip_id = conn.execute(QUERIES["setup_tip_insert"], {
        "received_at": checks.instant(now, "received_at"), "site_id": site_id, "street_id": street_id,
        "municipality_id": municipality_id,
        "lat": lat, "lon": lon, "text": text, "channel": channel}).fetchone()[0]
    out = _tips(conn, municipality_ids=None, tip_id=tip_id)[0]
    # the audit row names the place and channel, not the text: a tip may mention people
    audit.record(conn, actor=actor, action="create", entity="citizen_tip", entity_id=tip_id,
                 detail={"site_id": site_id, "lat": lat, "lon": lon, "channel": channel, "chars": len(text)})
    return out


def list_tips(conn: psycopg.Connection, *, municipality_ids: list[int] | None, status: str | None = None,
              limit: int = 200) -> list[TipOut]:
    """Tips newest first: about streets of ``municipality_ids`` (None: all tips, those with only
    a position included)."""
    if status is not None and status not in Status.__args__:
        raise checks.invalid("status", status, f"must be one of {', '.join(Status.__args__)}")
    if not 1 <= limit <= 5000:
        raise checks.invalid("limit", limit, "must be 1–5000")
    return _tips(conn, municipality_ids=municipality_ids, status=status, limit=limit)


def show_tip(conn: psycopg.Connection, tip_id: int, *, municipality_ids: list[int] | None) -> TipOut:
    found = _tips(conn, municipality_ids=municipality_ids, tip_id=tip_id)
    if not found:
        raise NotFound(f"no tip with id {tip_id}")
    return found[0]
