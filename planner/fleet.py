"""Fleet status for technicians: per sign its site, last heartbeat and data, gaps in the last
days, clock offset, battery, and the limit it is configured for against the site's legal limit."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from sql import QUERIES

GAP_WINDOW = timedelta(days=7)


class SignStatus(BaseModel):
    sign_id: int
    serial: str
    site_id: int | None
    site_name: str | None
    last_heartbeat: datetime | None
    last_data_hour: datetime | None
    """Newest hour in which the sign measured (coverage)."""
    hours_without_data_7d: int
    """Hours of the last 7 days without any measured minute (a gap)."""
    clock_offset_s: float | None
    """Device clock minus receive time at the last heartbeat."""
    battery_v: float | None
    configured_limit_kmh: int | None
    """The limit the sign reports (last heartbeat) or is registered with."""
    legal_limit_kmh: int | None
    limit_mismatch: bool


class Fleet(BaseModel):
    """``GET /api/v1/fleet``."""

    at: datetime
    signs: list[SignStatus]


def fleet_status(conn: psycopg.Connection, *, now: datetime, municipality_ids: list[int] | None) -> Fleet:
    """Every sign in the municipalities given (None: all)."""
    now_h = now.replace(minute=0, second=0, microsecond=0)
    since = now_h - GAP_WINDOW
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUERIES["figures_fleet"],
                           {"now": now_h, "since": since, "municipality_ids": municipality_ids}).fetchall()
    signs = []
    window_h = int(GAP_WINDOW / timedelta(hours=1))
    for r in rows:
        if municipality_ids is not None and r["site_id"] is None:
            continue
        configured = r["reported_limit_kmh"] if r["reported_limit_kmh"] is not None else r["sign_limit_kmh"]
        legal = r["legal_limit_kmh"]
        signs.append(SignStatus(
            sign_id=r["sign_id"], serial=r["serial_number"], site_id=r["site_id"], site_name=r["site_name"],
            last_heartbeat=r["heartbeat_at"], last_data_hour=r["last_covered_hour"],
            hours_without_data_7d=window_h - int(r["covered_hours"]),
            clock_offset_s=r["clock_offset_s"], battery_v=r["battery_v"], configured_limit_kmh=configured,
            legal_limit_kmh=legal,
            limit_mismatch=configured is not None and legal is not None and configured != legal))
    return Fleet(at=now, signs=signs)


__all__ = ["Fleet", "SignStatus", "fleet_status"]
