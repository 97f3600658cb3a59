"""The printable control plan: a stored plan (planner.planning.PlanView) as one HTML document on A4
landscape, in the plan's language, from the templates ``plan/document.html`` (the document) and
``plan/sheet.html`` (the plan itself, which the officers' web page includes too), every text from
the catalogue ``core/i18n`` (``plan.json``). Pure: returns a string.

Plans are for officers only (never published): the sheet says so at its top and its foot, and
leaves room to write the vehicles checked and the reports written per control.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core import i18n, templating
from planner import printing
from planner.planning import PlanView


def plan_language(view: PlanView) -> i18n.Lang:
    """The plan's own language (Swedish unless it was made in English)."""
    return view.language if view.language in i18n.LANGS else i18n.DEFAULT


def sheet_context(view: PlanView, page_url: str = "", mark_done_url: str = "") -> dict[str, Any]:
    """What ``plan/sheet.html`` is rendered with: the plan, the local days its data covers, the link
    to its page and (on the web page) where a planned control is logged as done."""
    zone = ZoneInfo(view.time_zone)
    data_days: tuple[date, date] = (view.data_from.astimezone(zone).date(),
                                    (view.data_to - timedelta(microseconds=1)).astimezone(zone).date())
    return {"view": view, "page_url": page_url, "mark_done_url": mark_done_url, "data_days": data_days}


def plan_page(view: PlanView, page_url: str = "", lang: i18n.Lang | None = None) -> str:
    """The plan as a self-contained document (style inline) in ``lang`` (default: the plan's);
    ``page_url`` is printed as the link to the plan's web page."""
    return templating.render(printing.environment(), "plan/document.html", lang or plan_language(view),
                             view.time_zone, **sheet_context(view, page_url))


def plan_stylesheet() -> str:
    """The plan's style sheet on its own (linked by the officers' web page)."""
    return printing.environment().get_template("plan/plan.css").render()
