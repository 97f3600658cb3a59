"""A sign's live view as of now: the sign, its site and last heartbeat, and its newest passes.

The first answer of the live page and of ``GET /api/v1/signs/{id}/live`` (JSON); the event
stream then adds what arrives.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from core.errors import NotFound
from sql import QUERIES

from .announce import DIRECTIONS

RECENT = timedelta(days=2)


class LivePass(BaseModel):
    time: datetime
    speed_kmh: float
    direction: str


class SignStatus(BaseModel):
    sign_id: int
    serial: str
    protocol: str
    site_id: int | None
    site_name: str | None
    time_zone: str
    """The site's (else the default): times are shown in it."""
    heartbeat_at: datetime | None
    battery_v: float | None
    temperature_c: float | None
    clock_offset_s: float | None
    configured_limit_kmh: int | None


class LiveView(BaseModel):
    at: datetime
    sign: SignStatus
    passes: list[LivePass]
    """Newest first."""


def sign_status(conn: psycopg.Connection, sign_id: int, *, now: datetime, default_time_zone: str) -> SignStatus:
    row = conn.cursor(row_factory=dict_row).execute(QUERIES["live_sign_status"], {
        "sign_id": sign_id, "now": now, "default_tz": default_time_zone}).fetchone()
    if row is None:
        raise NotFound(f"no sign with id {sign_id}")
    return SignStatus(sign_id=row["sign_id"], serial=row["serial_number"], protocol=row["protocol"],
                      site_id=row["site_id"], site_name=row["site_name"], time_zone=row["time_zone"],
                      heartbeat_at=row["heartbeat_at"], battery_v=row["battery_v"],
                      temperature_c=row["temperature_c"], clock_offset_s=row["clock_offset_s"],
                      configured_limit_kmh=row["configured_limit_kmh"])


def live_view(conn: psycopg.Connection, sign_id: int, *, now: datetime, default_time_zone: str,
              limit: int = 50) -> LiveView:
    """The sign's status and its newest ``limit`` passes of the last two days."""
    status = sign_status(conn, sign_id, now=now, default_time_zone=default_time_zone)
    rows = conn.cursor(row_factory=dict_row).execute(QUERIES["live_recent_passes"], {
        "sign_id": sign_id, "since": now - RECENT, "limit": limit}).fetchall()
    return LiveView(at=now, sign=status, passes=[
        LivePass(time=r["time"], speed_kmh=round(float(r["speed_kmh"]), 1), direction=DIRECTIONS[r["direction"]])
        for r in rows])
