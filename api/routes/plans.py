"""Control plans over HTTP for officers: draw one from patrol slots, list, show, approve, cancel,
and download it as .ics, .csv or a printable PDF (each open and export audited). The same use
cases as ``fartkoll planner plan`` and ``fartkoll planner plans``. A plan is shown only to someone
who may see every site in it (admins: all); others get a 404. Plans are never public."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from core.errors import NotFound
from planner import planlife
from planner.calendar_export import plan_calendar, plan_csv
from planner.plan_html import plan_page
from planner.planlife import PlanSummary
from planner.planning import PlanError, PlanView, check_slots_in_period, propose_plan
from planner.schedule import PatrolSlot
from sql import QUERIES

from .. import audit, scope
from ..deps import AppSettings, Conn, Officer
from ..principal import Principal

router = APIRouter(tags=["plans"])


class SlotIn(BaseModel):
    """A patrol slot: local date, start and end; end before start only with ``overnight``."""

    date: date
    start: time
    end: time
    units: int = Field(1, ge=1, le=20)
    overnight: bool = False
    area: str = Field("", description="municipality or police area the slot's units stay in ('' = anywhere)")


class PlanIn(BaseModel):
    """What to draw: slots (default: the settings' weekly slots), the plan's first day and weeks, a seed."""

    slots: list[SlotIn] | None = Field(None, max_length=500)
    first_day: date | None = None
    weeks: int = Field(1, ge=1, le=12)
    seed: int | None = Field(None, ge=0, lt=2**31)
    language: Literal["sv", "en"] = "sv"
    pins: list[int] = Field([], max_length=100)
    excludes: list[int] = Field([], max_length=1000)


class CancelIn(BaseModel):
    note: str = Field("", max_length=500)


def _slots(body: PlanIn) -> list[PatrolSlot] | None:
    if body.slots is None:
        return None
    out = []
    for i, s in enumerate(body.slots):
        try:
            out.append(PatrolSlot(s.date, s.start, s.end, s.units, s.overnight, s.area.strip()))
        except ValueError as e:
            raise PlanError(f"slots[{i}]: {e}", errors=[{"record": f"slots[{i}]", "field": "end",
                                                          "value": s.end.isoformat(), "reason": str(e)}]) from None
    if not out:
        raise PlanError("slots is empty; give at least one slot or leave it out for the weekly slots",
                        errors=[{"record": None, "field": "slots", "value": [], "reason": "empty"}])
    return out


def _out_of_scope(conn: Conn, who: Principal) -> list[int]:
    """Sites ``who`` may not see: left out of a plan they draw."""
    ids = scope.municipality_ids(conn, who)
    if ids is None:
        return []
    rows = conn.execute("SELECT s.id FROM sites s JOIN streets st ON st.id = s.street_id "
                        "WHERE st.municipality_id <> ALL(%s)", (ids,)).fetchall()
    return [r[0] for r in rows]


def _visible(conn: Conn, who: Principal, site_ids: list[int]) -> bool:
    return all(scope.site_visible(conn, who, s) for s in site_ids)


def visible_plan(conn: Conn, who: Principal, plan_id: int) -> PlanView:
    """The plan if ``who`` may see every site in it, else NotFound (as if there were none)."""
    view = planlife.plan_view(conn, plan_id)
    if not _visible(conn, who, sorted({c.site_id for c in view.controls})):
        raise NotFound(f"plan {plan_id} does not exist")
    return view


def _page_url(request: Request, plan_id: int) -> str:
    """The plan's web page for officers (api.pages.plan), the link in its calendar and printout."""
    return str(request.url_for("plan_page", plan_id=plan_id))


@router.post("/plans", status_code=201)
def draw_plan(body: PlanIn, conn: Conn, settings: AppSettings, who: Officer) -> PlanView:
    slots = _slots(body)
    for s in body.pins:
        scope.require_site(conn, who, s)
    if slots is not None and body.first_day is not None:
        check_slots_in_period(slots, body.first_day, date.fromordinal(body.first_day.toordinal() + 7 * body.weeks - 1))
    out = propose_plan(conn, settings.planner, now=datetime.now(UTC), tz=settings.default_time_zone,
                       actor=who.actor, slots=slots, first_day=body.first_day, weeks=body.weeks, seed=body.seed,
                       over_kmh=settings.threshold_over_kmh, pins=tuple(body.pins),
                       excludes=tuple(sorted(set(body.excludes) | set(_out_of_scope(conn, who)))))
    conn.execute(QUERIES["plans_set_language"], {"plan_id": out.plan_id, "language": body.language})
    view = planlife.plan_view(conn, out.plan_id)
    conn.commit()
    return view


@router.get("/plans")
def list_plans(conn: Conn, who: Officer, status: Literal["draft", "approved", "cancelled"] | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[PlanSummary]:
    return [p for p in planlife.list_plans(conn, status, limit) if _visible(conn, who, p.site_ids)]


@router.get("/plans/{plan_id}")
def show_plan(plan_id: int, conn: Conn, who: Officer) -> PlanView:
    view = visible_plan(conn, who, plan_id)
    audit.record(conn, who.actor, "plan.open", "plans", plan_id, {})
    conn.commit()
    return view


@router.post("/plans/{plan_id}/approve")
def approve_plan(plan_id: int, conn: Conn, who: Officer) -> PlanView:
    visible_plan(conn, who, plan_id)
    view = planlife.approve_plan(conn, plan_id, who.actor, datetime.now(UTC))
    conn.commit()
    return view


@router.post("/plans/{plan_id}/cancel")
def cancel_plan(plan_id: int, conn: Conn, who: Officer, body: CancelIn | None = None) -> PlanView:
    visible_plan(conn, who, plan_id)
    view = planlife.cancel_plan(conn, plan_id, who.actor, datetime.now(UTC), body.note if body else "")
    conn.commit()
    return view


def _export(conn: Conn, who: Principal, plan_id: int, fmt: str) -> PlanView:
    view = visible_plan(conn, who, plan_id)
    audit.record(conn, who.actor, "plan.export", "plans", plan_id, {"format": fmt})
    conn.commit()
    return view


@router.get("/plans/{plan_id}/plan.ics", response_class=Response,
            responses={200: {"content": {"text/calendar": {}}}})
def plan_ics(plan_id: int, request: Request, conn: Conn, who: Officer) -> Response:
    view = _export(conn, who, plan_id, "ics")
    return Response(plan_calendar(view, _page_url(request, plan_id)), media_type="text/calendar; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="plan-{plan_id}.ics"'})


@router.get("/plans/{plan_id}/plan.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def plan_csv_file(plan_id: int, conn: Conn, who: Officer) -> Response:
    view = _export(conn, who, plan_id, "csv")
    return Response(plan_csv(view), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="plan-{plan_id}.csv"'})


@router.get("/plans/{plan_id}/plan.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def plan_pdf(plan_id: int, request: Request, conn: Conn, who: Officer) -> Response:
    from planner.report.pdf import html_to_pdf

    view = visible_plan(conn, who, plan_id)
    with tempfile.TemporaryDirectory(prefix="fartkoll-plan-") as tmp:
        pdf = html_to_pdf(plan_page(view, _page_url(request, plan_id)), Path(tmp) / "plan.pdf").read_bytes()
    audit.record(conn, who.actor, "plan.export", "plans", plan_id, {"format": "pdf"})
    conn.commit()
    return Response(pdf, media_type="application/pdf",
                    headers={"content-disposition": f'attachment; filename="plan-{plan_id}.pdf"'})


