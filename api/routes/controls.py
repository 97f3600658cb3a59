"""The control log over HTTP for officers: record a control (from a plan item, prefilled, or not)
and list logged controls of the sites one may see. The same use cases as ``fartkoll planner
control add | done | list``; direction by name. Never public: control times tell where police were.

A client that may send the same control twice (a phone on a flaky connection) gives a
``client_key`` (a UUID made once per control): the first send answers 201, any later send of the
same key 200 with the control stored the first time (``replayed`` true) and stores nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, Field

from core.errors import InvalidInput
from planner import planlife
from planner.controls import (
    ControlInput,
    ControlView,
    control_view,
    list_controls,
    record_control,
    stored_control,
)
from planner.names import DirectionName, direction_code

from .. import scope
from ..deps import Conn, Officer

router = APIRouter(tags=["controls"])


class ControlIn(BaseModel):
    """A held control: ``plan_item_id`` fills site, time, direction and plan from the plan's item
    (the other fields then override it); without one, ``site_id``, ``start`` and ``end`` are needed."""

    plan_item_id: int | None = None
    site_id: int | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    method: str = "laser"
    direction: DirectionName | None = Field(None, description="null: both directions")
    vehicles_checked: int | None = Field(None, ge=0)
    reports_written: int | None = Field(None, ge=0)
    note: str = Field("", max_length=2000)
    plan_id: int | None = None
    second_unit: bool = False
    client_key: UUID | None = Field(None, description="made once per control by the client: sending it again "
                                                      "answers the stored control instead of storing another")


def _missing(field: str) -> InvalidInput:
    return InvalidInput(f"{field} is needed for a control not made from a plan item (or give plan_item_id)",
                        errors=[{"record": None, "field": field, "value": None, "reason": "missing"}])


@router.post("/controls", status_code=201, responses={200: {"description": "the same client_key again: "
                                                             "the control stored the first time"}})
def add_control(body: ControlIn, response: Response, conn: Conn, who: Officer) -> ControlView:
    earlier = stored_control(conn, body.client_key)
    if earlier is not None:
        scope.require_site(conn, who, earlier.site_id)
        response.status_code = 200
        return earlier
    if body.plan_item_id is not None:
        c = planlife.control_from_item(conn, body.plan_item_id, method=body.method,
                                       vehicles_checked=body.vehicles_checked,
                                       reports_written=body.reports_written, note=body.note,
                                       start=body.start, end=body.end, second_unit=body.second_unit)
        c = replace(c, client_key=body.client_key)
        if body.direction is not None:
            c = replace(c, direction=direction_code(body.direction))
    else:
        for field in ("site_id", "start", "end"):
            if getattr(body, field) is None:
                raise _missing(field)
        c = ControlInput(body.site_id, body.start, body.end, body.method, body.vehicles_checked,
                         body.reports_written, None if body.direction is None else direction_code(body.direction),
                         body.note, body.plan_id, body.second_unit, client_key=body.client_key)
    scope.require_site(conn, who, c.site_id)
    out = record_control(conn, c, who.actor, datetime.now(UTC))
    conn.commit()
    if out.replayed:  # a racing send of the same key was stored first
        response.status_code = 200
    return out


@router.get("/controls")
def controls(conn: Conn, who: Officer, site_id: int | None = None,
             limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[ControlView]:
    if site_id is not None:
        scope.require_site(conn, who, site_id)
    rows = list_controls(conn, site_id)
    seen: dict[int, bool] = {}
    out = []
    for r in rows:
        if r.site_id not in seen:
            seen[r.site_id] = scope.site_visible(conn, who, r.site_id)
        if seen[r.site_id]:
            out.append(control_view(r))
        if len(out) >= limit:
            break
    return out
