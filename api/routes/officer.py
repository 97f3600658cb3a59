"""The officer's planning reads and pins: the ranking with every score part, standing pins and
excludes (audited), the follow-up per site and per control, and the situation picture as HTML or
PDF. Each route calls the use case ``fartkoll planner rank | pins | followup | report`` calls, so
the JSON is the CLI's ``--json``. Viewers may read the situation picture; the rest is for officers."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from core.errors import InvalidInput
from planner.followup import control_followup, followups
from planner.followupview import FollowupView, followup_view
from planner.load import default_period
from planner.pins import clear_rule, set_rule
from planner.ranking import rank
from planner.rankview import RankingView
from planner.report.situation import situation_html, situation_picture
from planner.sitestats import local_period

from .. import scope
from ..deps import AppSettings, Conn, Officer, Viewer

router = APIRouter()


class PeriodError(InvalidInput):
    """A period whose last day is before its first, or a day outside the supported range."""


FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)


@router.get("/ranking", response_model=RankingView)
def ranking(conn: Conn, settings: AppSettings, who: Officer,
            date_from: Annotated[date | None, Query(alias="from", description="first local day")] = None,
            date_to: Annotated[date | None, Query(alias="to", description="last local day, inclusive")] = None,
            limit: Annotated[int, Query(ge=1, le=1000, description="sites and cells to give")] = 20,
            ) -> RankingView:
    """Sites (each once, with its best hours) and cells ranked for enforcement, every score part
    shown (as ``fartkoll planner rank --json``); only sites in municipalities you may see."""
    for name, day in (("from", date_from), ("to", date_to)):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise PeriodError(f"{name} {day} is outside {FIRST_DAY} .. {LAST_DAY}",
                              errors=[{"record": None, "field": name, "value": str(day),
                                       "reason": f"outside {FIRST_DAY} .. {LAST_DAY}"}])
    if date_from and date_to and date_to < date_from:
        raise PeriodError(f"to {date_to} is before from {date_from}",
                          errors=[{"record": None, "field": "to", "value": str(date_to),
                                   "reason": f"before from {date_from}"}])
    period = None
    if date_from or date_to:
        period = local_period(date_from, date_to, settings.default_time_zone,
                              default_period(conn, settings.planner.period_weeks))
    result = rank(conn, settings.planner, over_kmh=settings.threshold_over_kmh, period=period)
    visible = {s for s in result.site_ids() if scope.site_visible(conn, who, s)}
    return result.view(limit, sites=visible)


class PinIn(BaseModel):
    site_id: int
    rule: Literal["pin", "exclude"]
    note: str = Field("", max_length=500)


class PinOut(BaseModel):
    site_id: int
    rule: Literal["pin", "exclude"] | None
    """null: the site has no pin or exclude (any more)."""


@router.post("/pins", response_model=PinOut)
def pin(body: PinIn, conn: Conn, who: Officer) -> PinOut:
    """Pin a site first or exclude it from the ranking (replacing its earlier rule); audited."""
    scope.require_site(conn, who, body.site_id)
    set_rule(conn, body.site_id, body.rule, who.actor, body.note)
    conn.commit()
    return PinOut(site_id=body.site_id, rule=body.rule)


@router.delete("/pins/{site_id}", response_model=PinOut)
def unpin(site_id: int, conn: Conn, who: Officer) -> PinOut:
    """Remove a site's pin or exclude; audited when there was one."""
    scope.require_site(conn, who, site_id)
    clear_rule(conn, site_id, who.actor)
    conn.commit()
    return PinOut(site_id=site_id, rule=None)


@router.get("/sites/{site_id}/followup", response_model=list[FollowupView])
def site_followup(site_id: int, conn: Conn, settings: AppSettings, who: Officer) -> list[FollowupView]:
    """The follow-up of every control logged at the site, newest first (as ``planner followup SITE --json``)."""
    scope.require_site(conn, who, site_id)
    return [followup_view(f) for f in followups(conn, settings.planner, site_id)]


@router.get("/controls/{control_id}/followup", response_model=FollowupView)
def one_followup(control_id: int, conn: Conn, settings: AppSettings, who: Officer) -> FollowupView:
    """The follow-up of one logged control; another municipality's control is not found."""
    f = control_followup(conn, settings.planner, control_id)
    scope.require_site(conn, who, f.control.site_id)
    return followup_view(f)


@router.get("/reports/situation", response_class=Response,
            responses={200: {"content": {"text/html": {}, "application/pdf": {}}}})
def situation(conn: Conn, settings: AppSettings, who: Viewer,
              week: Annotated[str | None, Query(max_length=12, description="ISO week, e.g. 2024-W44 "
                                                "(default: the last complete week)")] = None,
              lang: Literal["sv", "en"] = "sv", format: Literal["html", "pdf"] = "html") -> Response:
    """The situation picture for the joint meeting, as ``fartkoll planner report``."""
    pic = situation_picture(conn, settings.planner, now=datetime.now(timezone.utc),
                            time_zone=settings.default_time_zone, week=week, over_kmh=settings.threshold_over_kmh,
                            silent_hours=settings.jobs.silent_hours)
    if format == "html":  # the page's policy forbids inline style: the same sheet, linked
        return Response(situation_html(pic, lang, settings.threshold_over_kmh, stylesheet="/print/report.css"),
                        media_type="text/html; charset=utf-8")
    html = situation_html(pic, lang, settings.threshold_over_kmh)
    import tempfile
    from pathlib import Path

    from planner.report.pdf import html_to_pdf

    with tempfile.TemporaryDirectory(prefix="fartkoll-report-") as tmp:
        pdf = html_to_pdf(html, Path(tmp) / "situation.pdf").read_bytes()
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="lagesbild-{pic.week.label}-{lang}.pdf"'})
