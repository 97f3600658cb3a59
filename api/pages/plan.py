"""The plan's page for officers (``/officer/plans/{id}``): the plan's header (period, status, who
approved it), its controls with site, street, direction in words, why each was chosen and whether
it is done, links to its .ics, .csv and PDF; printed, it is the A4 plan (police-only, room to
write). The page includes the same ``plan/sheet.html`` the printout and the PDF are made from, and
links the same style sheet (``/print/plan.css``) that the printout carries inline.

Also the style sheets of the printable documents, for pages whose policy forbids inline style.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from planner.plan_html import plan_stylesheet, sheet_context
from planner.report.render import stylesheet_css

from .. import audit
from ..deps import Conn, Officer, Open
from ..routes.plans import visible_plan
from .render import render

router = APIRouter(include_in_schema=False)
CONTROL_LOG_URL = "/officer/controls/new"
"""The control log's page; a planned control is logged as done with ``?item=ID``."""


@router.get("/officer/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(plan_id: int, request: Request, conn: Conn, who: Officer) -> HTMLResponse:
    """A plan as officers read and print it; opening it is audited as the JSON's is."""
    view = visible_plan(conn, who, plan_id)
    audit.record(conn, who.actor, "plan.open", "plans", plan_id, {"page": True})
    conn.commit()
    api = f"/api/v1/plans/{plan_id}"
    return render(request, "plans/page.html", time_zone=view.time_zone,
                  downloads=[("plan_download_pdf", f"{api}/plan.pdf"), ("plan_download_ics", f"{api}/plan.ics"),
                             ("plan_download_csv", f"{api}/plan.csv")],
                  **sheet_context(view, str(request.url_for("plan_page", plan_id=plan_id)), CONTROL_LOG_URL))


@router.get("/print/plan.css")
def plan_css(_: Open) -> Response:
    """The printable plan's style sheet."""
    return Response(plan_stylesheet(), media_type="text/css; charset=utf-8",
                    headers={"cache-control": "public, max-age=3600"})


@router.get("/print/report.css")
def report_css(_: Open) -> Response:
    """The situation picture's style sheet."""
    return Response(stylesheet_css(), media_type="text/css; charset=utf-8",
                    headers={"cache-control": "public, max-age=3600"})
