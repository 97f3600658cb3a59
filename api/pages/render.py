"""The pages' Jinja2 environment (autoescaped) and the one way a page is rendered: in the request's
language, with the language switch and the cookie that remembers it."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from core import i18n

from .. import csrf

HTMX_VERSION = "2.0.11"
LEAFLET_VERSION = "1.9.4"


@cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("api", "templates"), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """The template in the request's language (``?lang=``, else the cookie, else Swedish); a
    ``?lang=`` choice is remembered in a cookie for a year."""
    asked = request.query_params.get("lang")
    lang = i18n.language(asked, request.cookies.get(i18n.COOKIE))
    other = "en" if lang == "sv" else "sv"
    # who is asking (the header's log-in or log-out) and the CSRF token of forms, unless the page gives its own
    context = {"who": getattr(request.state, "principal", None), "csrf_token": lambda: csrf.token(request), **context}
    html = environment().get_template(template).render(
        t=i18n.translator(lang), lang=lang, other_lang=other, path=request.url.path,
        num=lambda x, digits=1: i18n.number(x, lang, digits),
        pct=lambda x, digits=0: i18n.percent(x, lang, digits), **context)
    response = HTMLResponse(html, status_code=status)
    if asked in i18n.LANGS:
        response.set_cookie(i18n.COOKIE, asked, max_age=365 * 86400, samesite="lax",
                            secure=request.url.scheme == "https")
    return response
