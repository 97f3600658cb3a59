"""The schedule builder: pick patrol slots on a week grid, draw a plan, review its controls on a
map and in a list with why each was chosen, redraw with another seed, approve, then download the
calendar (.ics) or print it (the plan API's .ics, .csv and .pdf).

The grid is plain checkboxes (two-hour blocks and one overnight block per day), so it works
without JavaScript; htmx, where loaded, redraws only the grid when the week changes. Drawing calls
``planner.planning.propose_plan`` as ``POST /api/v1/plans`` does, leaving out the sites the officer
may not see; approving and redrawing call ``planner.planlife``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from core.errors import FartkollError, NotFound
from planner import planlife
from planner.load import load_sites
from planner.planning import PlanView, next_monday, propose_plan
from planner.schedule import PatrolSlot
from sql import QUERIES

from .. import scope
from ..deps import AppSettings, Conn, Officer
from ..principal import Principal
from .officer import officer_page, page_lang

router = APIRouter(include_in_schema=False)

BLOCKS: tuple[tuple[int, int], ...] = ((6, 8), (8, 10), (10, 12), (12, 14), (14, 16), (16, 18), (18, 20),
                                       (20, 22), (22, 2))
"""Local (start hour, end hour) of the grid's blocks; the last runs overnight."""
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Choice:
    """What the builder's form says: the week's Monday, the chosen cells ("day-block"), units."""

    week: date
    cells: tuple[str, ...]
    units: int
    language: str

    def slots(self) -> list[PatrolSlot]:
        out = []
        for cell in self.cells:
            day, block = (int(x) for x in cell.split("-"))
            start, end = BLOCKS[block]
            out.append(PatrolSlot(self.week + timedelta(days=day), time(start), time(end), self.units,
                                  overnight=end < start))
        return sorted(out, key=lambda s: (s.day, s.start))

    def query(self) -> str:
        return urlencode([("week", self.week.isoformat()), ("units", self.units), ("language", self.language)]
                         + [("slot", c) for c in self.cells])


def _choice(week: str | None, cells: list[str], units: str | int | None, language: str | None,
            default_week: date) -> Choice:
    try:
        monday = date.fromisoformat(week) if week else default_week
    except ValueError:
        monday = default_week
    monday -= timedelta(days=monday.weekday())
    valid = sorted({c for c in cells if _cell_ok(c)}, key=lambda c: tuple(int(x) for x in c.split("-")))
    try:
        n = min(max(int(units or 1), 1), 20)
    except ValueError:
        n = 1
    return Choice(monday, tuple(valid), n, language if language in ("sv", "en") else "sv")


def _cell_ok(cell: str) -> bool:
    parts = cell.split("-")
    return (len(parts) == 2 and all(p.isdigit() for p in parts) and int(parts[0]) < 7
            and int(parts[1]) < len(BLOCKS))


def _default_week(settings) -> date:
    return next_monday(datetime.now(UTC).astimezone(ZoneInfo(settings.default_time_zone)).date())


def _builder(request: Request, conn: Conn, who: Principal, choice: Choice, *, error: str | None = None,
             status: int = 200) -> HTMLResponse:
    days = [choice.week + timedelta(days=k) for k in range(7)]
    plans = [p for p in planlife.list_plans(conn, None, 15) if _all_visible(conn, who, p.site_ids)]
    return officer_page(request, "officer/schedule.html", who, status=status, choice=choice, days=days,
                        weekdays=WEEKDAYS, blocks=BLOCKS, plans=plans, error=error)


@router.get("/officer/schedule", response_class=HTMLResponse)
def schedule_builder(request: Request, conn: Conn, settings: AppSettings, who: Officer,
                     week: str | None = None, slot: Annotated[list[str], Query()] = [],  # noqa: B006
                     units: str | None = None, language: str | None = None) -> HTMLResponse:
    """The week grid (the next week by default) and the latest plans."""
    lang = language or page_lang(request)
    return _builder(request, conn, who, _choice(week, slot, units, lang, _default_week(settings)))


def _out_of_scope(conn: Conn, who: Principal) -> tuple[int, ...]:
    return tuple(sorted(s for s in load_sites(conn) if not scope.site_visible(conn, who, s)))


def _all_visible(conn: Conn, who: Principal, site_ids) -> bool:
    return all(scope.site_visible(conn, who, s) for s in site_ids)


def _draw(conn: Conn, settings, who: Principal, choice: Choice, seed: int | None) -> int:
    out = propose_plan(conn, settings.planner, now=datetime.now(UTC), tz=settings.default_time_zone,
                       actor=who.actor, slots=choice.slots(), first_day=choice.week, weeks=1, seed=seed,
                       over_kmh=settings.threshold_over_kmh, excludes=_out_of_scope(conn, who))
    conn.execute(QUERIES["plans_set_language"], {"plan_id": out.plan_id, "language": choice.language})
    return out.plan_id


def _seed(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or int(text) >= 2**31:
        raise ValueError(text)
    return int(text)


@router.post("/officer/schedule", response_class=HTMLResponse)
def schedule_draw(request: Request, conn: Conn, settings: AppSettings, who: Officer,
                  week: Annotated[str, Form()], slot: Annotated[list[str], Form()] = [],  # noqa: B006
                  units: Annotated[str, Form()] = "1", language: Annotated[str, Form()] = "sv",
                  seed: Annotated[str, Form()] = ""):
    """Draw a draft plan from the chosen slots and show it for review."""
    choice = _choice(week, slot, units, language, _default_week(settings))
    if not choice.cells:
        return _builder(request, conn, who, choice, error="off_err_no_slots", status=422)
    try:
        plan_id = _draw(conn, settings, who, choice, _seed(seed))
    except ValueError:
        return _builder(request, conn, who, choice, error="off_err_seed", status=422)
    except FartkollError as e:
        conn.rollback()
        return _builder(request, conn, who, choice, error=str(e), status=e.status)
    conn.commit()
    return RedirectResponse(f"/officer/schedule/{plan_id}?{choice.query()}", 303)


def _plan(conn: Conn, who: Principal, plan_id: int) -> PlanView:
    view = planlife.plan_view(conn, plan_id)
    if not _all_visible(conn, who, {c.site_id for c in view.controls}):
        raise NotFound(f"plan {plan_id} does not exist")
    return view


@router.get("/officer/schedule/{plan_id}", response_class=HTMLResponse)
def plan_review(plan_id: int, request: Request, conn: Conn, settings: AppSettings, who: Officer,
                week: str | None = None, slot: Annotated[list[str], Query()] = [],  # noqa: B006
                units: str | None = None, language: str | None = None) -> HTMLResponse:
    """A drawn plan: its controls on a map and in a list with why each was chosen; approve or
    redraw a draft; download or print an approved one and log its controls."""
    view = _plan(conn, who, plan_id)
    sites = load_sites(conn)
    markers: dict[int, dict] = {}
    for k, c in enumerate(view.controls, start=1):
        s = sites.get(c.site_id)
        if s is None or s.lat is None:
            continue
        m = markers.setdefault(c.site_id, {"name": s.name, "lat": s.lat, "lon": s.lon, "numbers": []})
        m["numbers"].append(k)
    choice = _choice(week or view.first_day.isoformat(), slot, units, language or view.language, view.first_day)
    return officer_page(request, "officer/plan.html", who, plan=view, choice=choice, weekdays=WEEKDAYS,
                        markers=list(markers.values()),
                        tiles_url=settings.web.tiles_url, tiles_attribution=settings.web.tiles_attribution,
                        error="off_err_seed" if request.query_params.get("error") == "seed" else None)


@router.post("/officer/schedule/{plan_id}/approve", response_class=HTMLResponse)
def plan_approve(plan_id: int, conn: Conn, who: Officer) -> RedirectResponse:
    """Approve a draft plan (by the officer, now); audited."""
    _plan(conn, who, plan_id)
    planlife.approve_plan(conn, plan_id, who.actor, datetime.now(UTC))
    conn.commit()
    return RedirectResponse(f"/officer/schedule/{plan_id}", 303)


@router.post("/officer/schedule/{plan_id}/redraw", response_class=HTMLResponse)
def plan_redraw(plan_id: int, request: Request, conn: Conn, settings: AppSettings, who: Officer,
                week: Annotated[str, Form()], slot: Annotated[list[str], Form()] = [],  # noqa: B006
                units: Annotated[str, Form()] = "1", language: Annotated[str, Form()] = "sv",
                seed: Annotated[str, Form()] = ""):
    """Draw the same slots again with another seed; the draft it replaces is cancelled."""
    old = _plan(conn, who, plan_id)
    choice = _choice(week, slot, units, language, old.first_day)
    if not choice.cells:
        return RedirectResponse(f"/officer/schedule?{choice.query()}", 303)
    try:
        new_seed = _seed(seed)
    except ValueError:
        return RedirectResponse(f"/officer/schedule/{plan_id}?{choice.query()}&error=seed", 303)
    if new_seed is None:
        new_seed = secrets.randbelow(2**31)
        if new_seed == old.seed:
            new_seed = (new_seed + 1) % 2**31
    new_id = _draw(conn, settings, who, choice, new_seed)
    if old.status == "draft":
        planlife.cancel_plan(conn, plan_id, who.actor, datetime.now(UTC), f"redrawn as plan {new_id}")
    conn.commit()
    return RedirectResponse(f"/officer/schedule/{new_id}?{choice.query()}", 303)
