"""Fleet status for technicians: their signs' last contact, gaps, clock, battery and limits."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from planner.fleet import Fleet, fleet_status

from .. import scope
from ..deps import Conn, Technician

router = APIRouter()


@router.get("/fleet", response_model=Fleet)
def fleet(conn: Conn, who: Technician) -> Fleet:
    """Every sign in the technician's scope (admin: all)."""
    return fleet_status(conn, now=datetime.now(UTC), municipality_ids=scope.municipality_ids(conn, who))
