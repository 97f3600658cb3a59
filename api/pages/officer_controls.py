"""The control log on a phone, the list of logged controls, and the follow-up per control and
per site with its charts.

The log form is prefilled from a planned control (``?item=``: site, day, times, direction,
method) or starts from now; it carries a key made when the form was rendered (a hidden field),
so sending it again — a flaky connection, a second tap — answers the control stored the first
time instead of storing another (planner.controls.record_control). Errors come back on the form,
with every value and the same key kept.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from core import i18n
from core.errors import FartkollError
from planner import planlife
from planner.charts import bar_chart
from planner.controls import (
    METHODS,
    ControlError,
    ControlInput,
    control,
    item_control,
    list_controls,
    record_control,
    stored_control,
)
from planner.followup import control_followup, followups
from planner.followupview import FollowupView, followup_view
from planner.load import SiteInfo, load_sites
from planner.names import direction_code, direction_name
from planner.series import site_series

from .. import scope
from ..deps import AppSettings, Conn, Officer
from ..principal import Principal
from .officer import officer_page, page_lang

router = APIRouter(include_in_schema=False)
DIRECTIONS = ("", "approaching", "receding")
"""'' is both directions."""


@dataclass
class LogForm:
    """The log form's values as text (what the officer sees and sends back)."""

    client_key: str
    item: str = ""
    site_id: str = ""
    day: str = ""
    start: str = ""
    end: str = ""
    direction: str = ""
    method: str = "laser"
    vehicles_checked: str = ""
    reports_written: str = ""
    note: str = ""
    second_unit: bool = False


def _visible_sites(conn: Conn, who: Principal) -> list[SiteInfo]:
    return sorted((s for s in load_sites(conn).values() if scope.site_visible(conn, who, s.id)),
                  key=lambda s: s.name)


def _render_form(request: Request, conn: Conn, who: Principal, form: LogForm, *, error: str | None = None,
                 error_field: str | None = None, status: int = 200, planned: dict | None = None) -> HTMLResponse:
    return officer_page(request, "officer/control_new.html", who, status=status, form=form,
                        sites=_visible_sites(conn, who), methods=METHODS, directions=DIRECTIONS, error=error,
                        error_field=error_field, planned=planned)


def _rounded_now(zone: ZoneInfo) -> datetime:
    now = datetime.now(UTC).astimezone(zone)
    return now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)


@router.get("/officer/controls/new", response_class=HTMLResponse)
def log_form(request: Request, conn: Conn, settings: AppSettings, who: Officer, item: int | None = None,
             site: int | None = None):
    """The control log: prefilled from a planned control, or from now (the last 20 minutes); a
    planned control logged already shows its control."""
    form = LogForm(client_key=str(uuid.uuid4()))
    zone = ZoneInfo(settings.default_time_zone)
    end = _rounded_now(zone)
    start = end - timedelta(minutes=20)
    if site is not None and scope.site_visible(conn, who, site):
        form.site_id = str(site)
    error = None
    planned = None
    if item is not None and (done := item_control(conn, item)) is not None:
        scope.require_site(conn, who, control(conn, done).site_id)
        return RedirectResponse(f"/officer/controls/{done}?saved=again", 303)  # logged already
    if item is not None:
        try:
            c = planlife.control_from_item(conn, item)
            scope.require_site(conn, who, c.site_id)
        except FartkollError as e:
            error = str(e)
        else:
            sites = load_sites(conn)
            zone = ZoneInfo(sites[c.site_id].time_zone)
            start, end = c.start.astimezone(zone), c.end.astimezone(zone)
            form.item, form.site_id = str(item), str(c.site_id)
            form.direction = "" if c.direction is None else direction_name(c.direction)
            form.method = c.method
            planned = {"site": sites[c.site_id].name, "plan_id": c.plan_id}
    form.day, form.start, form.end = start.date().isoformat(), start.strftime("%H:%M"), end.strftime("%H:%M")
    return _render_form(request, conn, who, form, error=error, planned=planned)


class FormError(ValueError):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def _int(text: str, field: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 7:
        raise FormError(field)
    return int(text)


def _times(form: LogForm, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Aware start and end from the local day and clock times; an end before the start is the next day."""
    try:
        day = date.fromisoformat(form.day)
    except ValueError:
        raise FormError("day") from None
    clock = {}
    for field in ("start", "end"):
        try:
            clock[field] = time.fromisoformat(getattr(form, field))
        except ValueError:
            raise FormError(field) from None
    start = datetime.combine(day, clock["start"], zone)
    end = datetime.combine(day + timedelta(days=1 if clock["end"] < clock["start"] else 0), clock["end"], zone)
    return start, end


def _input(conn: Conn, form: LogForm, key: uuid.UUID) -> ControlInput:
    if form.method not in METHODS:
        raise FormError("method")
    if form.direction not in DIRECTIONS:
        raise FormError("direction")
    direction = direction_code(form.direction) if form.direction else None
    vehicles, reports = _int(form.vehicles_checked, "vehicles_checked"), _int(form.reports_written, "reports_written")
    if not form.site_id.isdigit():
        raise FormError("site_id")
    sites = load_sites(conn)
    site = sites.get(int(form.site_id))
    if site is None:
        raise FormError("site_id")
    start, end = _times(form, ZoneInfo(site.time_zone))
    if form.item:
        if not form.item.isdigit():
            raise FormError("item")
        c = planlife.control_from_item(conn, int(form.item), method=form.method, vehicles_checked=vehicles,
                                       reports_written=reports, note=form.note.strip(), start=start, end=end,
                                       second_unit=form.second_unit)
        return replace(c, direction=direction, client_key=key)
    return ControlInput(site.id, start, end, form.method, vehicles, reports, direction, form.note.strip(),
                        second_unit=form.second_unit, client_key=key)


@router.post("/officer/controls", response_class=HTMLResponse)
def log_control(request: Request, conn: Conn, who: Officer, client_key: Annotated[str, Form()],
                site_id: Annotated[str, Form()] = "", day: Annotated[str, Form()] = "",
                start: Annotated[str, Form()] = "", end: Annotated[str, Form()] = "",
                direction: Annotated[str, Form()] = "", method: Annotated[str, Form()] = "laser",
                vehicles_checked: Annotated[str, Form()] = "", reports_written: Annotated[str, Form()] = "",
                note: Annotated[str, Form(max_length=2000)] = "", second_unit: Annotated[str, Form()] = "",
                item: Annotated[str, Form()] = ""):
    """Store the control once (the form's key again: the stored one) and show it."""
    form = LogForm(client_key, item, site_id, day, start, end, direction, method, vehicles_checked,
                   reports_written, note, second_unit == "yes")
    try:
        key = uuid.UUID(client_key)
    except ValueError:
        form.client_key = str(uuid.uuid4())
        return _render_form(request, conn, who, form, error="off_err_form_key", status=422)
    earlier = stored_control(conn, key)
    if earlier is None and item.isdigit() and (done := item_control(conn, int(item))) is not None:
        earlier = control(conn, done)  # the planned control's form again, fetched anew: done once
    if earlier is not None:
        scope.require_site(conn, who, earlier.site_id)
        return RedirectResponse(f"/officer/controls/{earlier.id}?saved=again", 303)
    try:
        c = _input(conn, form, key)
        scope.require_site(conn, who, c.site_id)
        out = record_control(conn, c, who.actor, datetime.now(UTC))
    except FormError as e:
        return _render_form(request, conn, who, form, error="off_err_field_" + e.field, error_field=e.field,
                            status=422)
    except FartkollError as e:
        conn.rollback()
        field = e.field if isinstance(e, ControlError) else None
        return _render_form(request, conn, who, form, error=str(e), error_field=field, status=e.status)
    conn.commit()
    return RedirectResponse(f"/officer/controls/{out.id}?saved={'again' if out.replayed else 'new'}", 303)


@router.get("/officer/controls", response_class=HTMLResponse)
def controls_list(request: Request, conn: Conn, who: Officer) -> HTMLResponse:
    """Logged controls of the sites the officer may see, newest first, with their notes."""
    sites = {s.id: s for s in _visible_sites(conn, who)}
    rows = [r for r in list_controls(conn) if r.site_id in sites][:300]
    return officer_page(request, "officer/controls.html", who, rows=rows, sites=sites)


def _daily_share_chart(conn: Conn, settings, site: SiteInfo, chart_id: str, lang: i18n.Lang, *,
                       date_from: date | None, date_to: date | None, marks: set[date], display: str | None,
                       title: str) -> dict | None:
    """The site's daily share over the limit (the most-measured direction × display, or the given
    display) as bars, control days marked ▼ in the labels; with its table rows."""
    series = site_series(conn, settings.planner, site.id, public=False, date_from=date_from, date_to=date_to,
                         step="day", display=display, over_kmh=settings.threshold_over_kmh)
    lines = [ln for ln in series.lines if any(p.n for p in ln.points)]
    if not lines:
        return None
    line = max(lines, key=lambda ln: sum(p.n or 0 for p in ln.points))
    t = i18n.translator(lang)
    zone = ZoneInfo(site.time_zone)
    days = [(p.start.astimezone(zone).date(), p) for p in line.points]
    every = max(1, len(days) // 10)
    # every few days labelled, and every control day (▼) whatever its place
    labels = [("▼" + d.strftime("%d/%m")) if d in marks else d.strftime("%d/%m") if k % every == 0 else ""
              for k, (d, _) in enumerate(days)]
    values = [None if p.over_limit_share is None else 100 * p.over_limit_share for _, p in days]
    shown = [v for v in values if v is not None]
    group = t("off_chart_group", direction=t("direction_" + line.direction), display=t("display_" + line.display))
    svg = bar_chart(chart_id, labels, values, title=title + " – " + group,
                    desc=t("off_chart_desc", days=len(shown), first=days[0][0].isoformat(), last=days[-1][0].isoformat(),
                           high=i18n.number(max(shown) if shown else None, lang, 0),
                           low=i18n.number(min(shown) if shown else None, lang, 0)),
                    unit=t("off_chart_unit"), value_label=lambda v: i18n.number(v, lang, 0),
                    label_every=1)
    return {"svg": svg, "group": group, "rows": [(d, p, d in marks) for d, p in days]}


@router.get("/officer/controls/{control_id}", response_class=HTMLResponse)
def control_page(control_id: int, request: Request, conn: Conn, settings: AppSettings, who: Officer,
                 saved: str | None = None) -> HTMLResponse:
    """A logged control and its follow-up: did speeds fall, for how long, when to return."""
    c = control(conn, control_id)
    scope.require_site(conn, who, c.site_id)
    site = load_sites(conn)[c.site_id]
    lang = page_lang(request)
    t = i18n.translator(lang)
    f: FollowupView | None = None
    problem = None
    try:
        f = followup_view(control_followup(conn, settings.planner, control_id))
    except FartkollError as e:
        problem = str(e)
    chart = None
    zone = ZoneInfo(site.time_zone)
    day = c.start_time.astimezone(zone).date()
    first = f.effect.baseline[0] if f and f.effect else day - timedelta(days=28)
    chart = _daily_share_chart(conn, settings, site, f"ctl-{control_id}", lang, date_from=first,
                               date_to=day + timedelta(days=28), marks={day},
                               display=f.display if f else None, title=t("off_chart_title_control", day=day.isoformat()))
    return officer_page(request, "officer/control.html", who, c=c, site=site, f=f, problem=problem, chart=chart,
                        saved=saved if saved in ("new", "again") else None)


@router.get("/officer/sites/{site_id}/followup", response_class=HTMLResponse)
def site_followup_page(site_id: int, request: Request, conn: Conn, settings: AppSettings,
                       who: Officer) -> HTMLResponse:
    """Every control logged at a site with its follow-up, and the site's daily share over the limit."""
    scope.require_site(conn, who, site_id)
    site = load_sites(conn)[site_id]
    lang = page_lang(request)
    t = i18n.translator(lang)
    views = [followup_view(f) for f in followups(conn, settings.planner, site_id)]
    zone = ZoneInfo(site.time_zone)
    marks = {v.start.astimezone(zone).date() for v in views}
    chart = _daily_share_chart(conn, settings, site, f"site-{site_id}", lang, date_from=None, date_to=None,
                               marks=marks, display=None, title=t("off_chart_title_site", site=site.name))
    return officer_page(request, "officer/site_followup.html", who, site=site, views=views, chart=chart)
