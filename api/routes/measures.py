"""Measures at a site over HTTP: record one (a new limit, a speed bump, a narrowing, a change of
the sign's display mode, another with a note), list a site's measures, and a measure's
before/after against comparison sites. Municipality staff (the viewer role and up) of the
site's municipality; another municipality's site or measure answers 404. The same use cases as
``fartkoll measure add | list | effect``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from planner import measures
from planner.measures import Measure, MeasureEffect, MeasureNew

from .. import scope
from ..deps import AppSettings, Conn, Viewer

router = APIRouter(tags=["measures"])


def _visible_site(site_id: int, conn: Conn, who: Viewer) -> int:
    """The site id, once it is in the asker's scope (404 otherwise), checked before the body is read."""
    scope.require_site(conn, who, site_id)
    return site_id


VisibleSite = Annotated[int, Depends(_visible_site)]


@router.get("/sites/{site_id}/measures")
def site_measures(site_id: int, conn: Conn, who: Viewer,
                  limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[Measure]:
    scope.require_site(conn, who, site_id)
    return measures.list_measures(conn, site_id=site_id, limit=limit)


@router.post("/sites/{site_id}/measures", status_code=201)
def add_measure(site_id: VisibleSite, body: MeasureNew, conn: Conn, who: Viewer) -> Measure:
    out = measures.add_measure(conn, site_id, body, actor=who.actor, now=datetime.now(UTC))
    conn.commit()
    return out


@router.get("/measures/{measure_id}/effect")
def measure_effect(measure_id: int, conn: Conn, settings: AppSettings, who: Viewer) -> MeasureEffect:
    return measures.measure_effect(conn, settings.planner, measure_id,
                                   municipality_ids=scope.municipality_ids(conn, who),
                                   over_kmh=settings.threshold_over_kmh)
