"""The officer's pages: the start page, the ranked list with every part of each score (pin or
exclude a site, with a reason), and the citizen tips inbox. The schedule builder is in
``officer_plans``, the control log and the follow-up in ``officer_controls``.

Each page calls the use case its JSON route calls (planner.ranking.rank, planner.pins,
collector.setup.tips.list_tips) and shows only the sites the officer may see. Forms post plain
HTML with the CSRF token and answer with a redirect (303) to the page they change; htmx, where
it is loaded, swaps only the part that changed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from collector.setup.tips import list_tips
from core import i18n
from planner.load import default_period
from planner.pins import clear_rule, list_rules, set_rule
from planner.ranking import rank
from planner.sitestats import local_period

from .. import csrf, scope
from ..deps import AppSettings, Conn, Officer
from ..principal import Principal
from .render import render

router = APIRouter(include_in_schema=False)
NOTE_MAX = 500
RANKING_ERRORS = {"reason_needed": "off_err_reason_needed", "rule_unknown": "off_err_rule_unknown"}


def page_lang(request: Request) -> i18n.Lang:
    return i18n.language(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE))


def local(t: datetime | None, zone: str, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """An instant as the site's local time with its zone (an en dash for none)."""
    return "–" if t is None else t.astimezone(ZoneInfo(zone)).strftime(fmt)


def officer_page(request: Request, template: str, who: Principal, *, status: int = 200, **context):
    """An officer page: the CSRF token for its forms, who is logged in, local times."""
    return render(request, template, status=status, csrf_token=csrf.token(request) or "", who=who,
                  local=local, **context)


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@router.get("/officer", response_class=HTMLResponse)
def officer_home(request: Request, who: Officer) -> HTMLResponse:
    """Where an officer starts: the ranking, the schedule, logging a control, follow-up, tips."""
    return officer_page(request, "officer/home.html", who)


@router.get("/officer/ranking", response_class=HTMLResponse)
def ranking_page(request: Request, conn: Conn, settings: AppSettings, who: Officer,
                 date_from: Annotated[str | None, Query(alias="from")] = None,
                 date_to: Annotated[str | None, Query(alias="to")] = None,
                 cells: Annotated[int, Query(ge=1, le=200)] = 30) -> HTMLResponse:
    """Sites ranked for enforcement (each once, with its best hours) and the best cells with every
    part of their score; the standing pins and excludes with their reasons."""
    first, last = _day(date_from), _day(date_to)
    period = None
    if first or last:
        if first and last and last < first:
            first, last = last, first
        period = local_period(first, last, settings.default_time_zone,
                              default_period(conn, settings.planner.period_weeks))
    result = rank(conn, settings.planner, over_kmh=settings.threshold_over_kmh, period=period)
    seen: dict[int, bool] = {}

    def visible(site_id: int) -> bool:
        if site_id not in seen:
            seen[site_id] = scope.site_visible(conn, who, site_id)
        return seen[site_id]

    view = result.view(cells, sites={s for s in result.site_ids() if visible(s)}, every_site=True)
    rules = [r for r in list_rules(conn) if visible(r[0])]
    return officer_page(request, "officer/ranking.html", who, view=view, rules=rules,
                        date_from=first.isoformat() if first else "", date_to=last.isoformat() if last else "",
                        time_zone=settings.default_time_zone, threshold=settings.threshold_over_kmh,
                        error=RANKING_ERRORS.get(request.query_params.get("error") or ""),
                        error_site=int(request.query_params["site"]) if request.query_params.get("site", "").isdigit()
                        else None)


@router.post("/officer/ranking/rules", response_class=HTMLResponse)
def ranking_rule(request: Request, conn: Conn, who: Officer, site_id: Annotated[int, Form()],
                 rule: Annotated[str, Form()], note: Annotated[str, Form()] = "") -> RedirectResponse:
    """Pin a site first, exclude it (both with a reason) or clear its rule; audited."""
    scope.require_site(conn, who, site_id)
    note = note.strip()
    if rule == "clear":
        clear_rule(conn, site_id, who.actor)
    elif rule in ("pin", "exclude"):
        if not note or len(note) > NOTE_MAX:
            return RedirectResponse(f"/officer/ranking?error=reason_needed&site={site_id}#site-{site_id}", 303)
        set_rule(conn, site_id, rule, who.actor, note)
    else:
        return RedirectResponse("/officer/ranking?error=rule_unknown", 303)
    conn.commit()
    return RedirectResponse(f"/officer/ranking#site-{site_id}", 303)


TIP_STATUSES = ("new", "linked", "closed")


@router.get("/officer/tips", response_class=HTMLResponse)
def tips_inbox(request: Request, conn: Conn, settings: AppSettings, who: Officer,
               status: str | None = None) -> HTMLResponse:
    """Citizen tips about the streets the officer may see, newest first (optionally of one status)."""
    status = status if status in TIP_STATUSES else None
    tips = list_tips(conn, municipality_ids=scope.municipality_ids(conn, who), status=status, limit=500)
    return officer_page(request, "officer/tips.html", who, tips=tips, tip_status=status, statuses=TIP_STATUSES,
                        time_zone=settings.default_time_zone)
