"""A plan's life after it is drawn: list, show, approve, cancel, and mark a planned control done.

draft → approved (by whom, when) → cancelled; a planned control of an approved plan is marked
done by logging the control it became (the control log prefilled with the plan item's site,
time and direction). Every change writes an audit row; nothing commits: the caller owns the
transaction. The CLI and the API call these same functions.
"""

from __future__ import annotations

from datetime import date, datetime

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from core.errors import Conflict, NotFound
from core.templating import local_time
from planner.controls import METHODS, ControlError, ControlInput, ControlView, record_control
from planner.names import direction_name
from planner.planning import PlannedControlView, PlanStatus, PlanView
from sql import QUERIES

STATUSES = ("draft", "approved", "cancelled")


class PlanNotFound(NotFound):
    """No such plan."""


class PlanStateError(Conflict):
    """The plan is not in a state that allows this; the message names the state and what to do."""


class PlanSummary(BaseModel):
    """One line of ``plans list``; ``done`` of ``controls`` are marked done."""

    plan_id: int
    created_at: datetime
    created_by: str
    first_day: date
    last_day: date
    status: PlanStatus
    approved_by: str | None
    approved_at: datetime | None
    cancelled_by: str | None
    cancelled_at: datetime | None
    language: str
    time_zone: str
    controls: int
    done: int
    site_ids: list[int]


def list_plans(conn: psycopg.Connection, status: str | None = None, limit: int = 100) -> list[PlanSummary]:
    """Plans, newest first, optionally of one status."""
    if status is not None and status not in STATUSES:
        raise ControlError("status", status, f"must be one of {', '.join(STATUSES)}")
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUERIES["plans_list"], {"status": status, "limit": limit}).fetchall()
    return [PlanSummary(plan_id=r.pop("id"), **r) for r in rows]


def plan_view(conn: psycopg.Connection, plan_id: int) -> PlanView:
    """A stored plan with its items, times in the plan's zone; PlanNotFound when there is none."""
    from zoneinfo import ZoneInfo

    with conn.cursor(row_factory=dict_row) as cur:
        h = cur.execute(QUERIES["plans_header"], {"plan_id": plan_id}).fetchone()
        if not h:
            raise PlanNotFound(f"plan {plan_id} does not exist; `fartkoll planner plans list` prints plan ids")
        items = cur.execute(QUERIES["plans_items"], {"plan_id": plan_id}).fetchall()
    zone = ZoneInfo(h["time_zone"])
    return PlanView(
        plan_id=h["id"], created_at=h["created_at"], created_by=h["created_by"], seed=h["seed"],
        time_zone=h["time_zone"], first_day=h["first_day"], last_day=h["last_day"], data_from=h["data_from"],
        data_to=h["data_to"], unmet=list(h["unmet"]), status=h["status"], approved_by=h["approved_by"],
        approved_at=h["approved_at"], cancelled_by=h["cancelled_by"], cancelled_at=h["cancelled_at"],
        language=h["language"],
        controls=[PlannedControlView(
            id=r["id"], site_id=r["site_id"], site_name=r["site_name"], street=r["street"],
            direction=direction_name(r["direction"]), start=r["start_time"].astimezone(zone),
            end=r["end_time"].astimezone(zone), unit=r["unit"], slot=r["slot"], hour_of_week=r["hour_of_week"],
            score=round(float(r["score"]), 4), reason=r["reason"], control_id=r["control_id"]) for r in items])


def _audit(conn: psycopg.Connection, actor: str, action: str, plan_id: int, detail: dict) -> None:
    conn.execute(QUERIES["planner_audit"], {"actor": actor, "action": action, "entity": "plans",
                                            "entity_id": str(plan_id), "detail": Jsonb(detail)})


def approve_plan(conn: psycopg.Connection, plan_id: int, actor: str, now: datetime) -> PlanView:
    """draft → approved by ``actor`` at ``now``; PlanStateError for any other state."""
    if not conn.execute(QUERIES["plans_approve"], {"plan_id": plan_id, "actor": actor, "now": now}).fetchone():
        view = plan_view(conn, plan_id)
        raise PlanStateError(f"plan {plan_id} is {view.status}, not a draft; only a draft can be approved"
                             + (f" (approved by {view.approved_by} at "
                                f"{local_time(view.approved_at, view.time_zone)})" if view.status == "approved"
                                and view.approved_at else ""))
    _audit(conn, actor, "plan.approve", plan_id, {"at": now.isoformat()})
    return plan_view(conn, plan_id)


def cancel_plan(conn: psycopg.Connection, plan_id: int, actor: str, now: datetime, note: str = "") -> PlanView:
    """draft or approved → cancelled; PlanStateError when it already is."""
    if not conn.execute(QUERIES["plans_cancel"], {"plan_id": plan_id, "actor": actor, "now": now,
                                                  "note": note}).fetchone():
        view = plan_view(conn, plan_id)
        raise PlanStateError(f"plan {plan_id} was already cancelled by {view.cancelled_by}"
                             + (f" at {local_time(view.cancelled_at, view.time_zone)}" if view.cancelled_at else ""))
    _audit(conn, actor, "plan.cancel", plan_id, {"at": now.isoformat(), "note": note})
    return plan_view(conn, plan_id)


def control_from_item(conn: psycopg.Connection, item_id: int, *, method: str = "laser",
                      vehicles_checked: int | None = None, reports_written: int | None = None, note: str = "",
                      start: datetime | None = None, end: datetime | None = None,
                      second_unit: bool = False) -> ControlInput:
    """The control log prefilled from a planned control (site, time, direction, method)."""
    with conn.cursor(row_factory=dict_row) as cur:
        it = cur.execute(QUERIES["plans_item"], {"item_id": item_id}).fetchone()
    if not it:
        raise PlanNotFound(f"plan item {item_id} does not exist; `fartkoll planner plans show PLAN` lists them")
    if it["status"] != "approved":
        raise PlanStateError(f"plan {it['plan_id']} is {it['status']}; approve it before marking controls done"
                             if it["status"] == "draft" else f"plan {it['plan_id']} was cancelled")
    if it["control_id"] is not None:
        raise PlanStateError(f"plan item {item_id} is already done by control {it['control_id']}")
    if method not in METHODS:
        raise ControlError("method", method, f"must be one of {', '.join(METHODS)}")
    return ControlInput(it["site_id"], start or it["start_time"], end or it["end_time"], method,
                        vehicles_checked, reports_written, it["direction"], note, it["plan_id"], second_unit,
                        plan_item_id=item_id)


def mark_done(conn: psycopg.Connection, item_id: int, actor: str, now: datetime, **fields) -> ControlView:
    """Log the control a planned control became and link the two; returns the logged control."""
    return record_control(conn, control_from_item(conn, item_id, **fields), actor, now)
