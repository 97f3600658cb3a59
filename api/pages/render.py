"""The pages' Jinja2 environment (core.templating: autoescaped, strict, the api's templates and the
planner's printable ones) and the one way a page is rendered: in the request's language, with the
language switch and the cookie that remembers it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment

from core import i18n, templating
from planner import printing

from .. import csrf

HTMX_VERSION = "2.0.11"
LEAFLET_VERSION = "1.9.4"


TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def environment() -> Environment:
    """The api's templates first, then the planner's (the printable plan the plan page includes)."""
    return templating.environment(TEMPLATES, printing.TEMPLATES)


def compile_templates() -> int:
    """Every page template compiled (the server does this before it serves, so a page's first
    request pays only for its data); returns how many."""
    return templating.compile_all(environment())


def page_language(request: Request) -> i18n.Lang:
    """``?lang=``, else the cookie, else Swedish."""
    return i18n.language(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE))


def render(request: Request, template: str, *, status: int = 200, time_zone: str | None = None,
           **context: Any) -> HTMLResponse:
    """The template in the request's language (``?lang=``, else the cookie, else Swedish); a
    ``?lang=`` choice is remembered in a cookie for a year. ``time_zone`` gives the template
    ``local`` (instants in that zone's local time)."""
    asked = request.query_params.get("lang")
    lang = page_language(request)
    # who is asking (the header's log-in or log-out) and the CSRF token of forms, unless the page gives its own
    context = {"who": getattr(request.state, "principal", None), "csrf_token": lambda: csrf.token(request), **context}
    html = templating.render(environment(), template, lang, time_zone, path=request.url.path, **context)
    response = HTMLResponse(html, status_code=status)
    if asked in i18n.LANGS:
        response.set_cookie(i18n.COOKIE, asked, max_age=365 * 86400, samesite="lax",
                            secure=request.url.scheme == "https")
    return response
