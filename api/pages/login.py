"""The login page (``/login``) over the session login of :mod:`api.sessions`, and the way pages
for people send anonymous visitors to it.

The form's errors — a wrong e-mail or password, too many failed logins (with the wait), a
browser without cookies — are shown on the form in the page's language. Logging out is the
header's form to ``POST /api/v1/sessions/current/logout``. Login CSRF: the form is accepted only
with the ``csrftoken`` cookie the login page set (asgi-csrf then checks the form's field against
it); a cross-site form post carries no Lax cookie, so it cannot log a visitor in as someone else.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError

from core import i18n
from core.errors import Forbidden, NotFound, Unauthenticated

from .. import csrf, sessions
from ..auth import client_address
from ..deps import AppSettings, Conn, Public
from ..routes.auth import _local_path
from ..throttle import LoginThrottled
from .render import render

router = APIRouter(include_in_schema=False)


def login_url(request: Request) -> str:
    """``/login?next=`` this page (path and query), in the language asked for."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    lang = request.query_params.get("lang")
    return "/login?next=" + quote(here, safe="/") + (f"&lang={lang}" if lang in i18n.LANGS else "")


class LoginFirst(APIRoute):
    """A page route for people: an anonymous visitor is sent to the login page (303) and comes
    back after logging in; a role without access, or an object out of reach, gets an HTML page
    with the status (403, 404) instead of problem details."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Unauthenticated:
                return RedirectResponse(login_url(request), status_code=303)
            except (Forbidden, NotFound) as e:
                key = "staff_refused_forbidden" if isinstance(e, Forbidden) else "staff_refused_not_found"
                return render(request, "staff/refused.html", status=e.status, heading_key=key)

        return route


def _minutes(seconds: int) -> int:
    return max(1, -(-seconds // 60))


@router.get("/login")
def login_page(request: Request, who: Public, next: str = "/staff") -> Response:
    """The login form (already logged in: who, and a link on)."""
    return render(request, "login.html", next=_local_path(next), email="", error=None)


@router.post("/login")
async def login_form(request: Request, conn: Conn, settings: AppSettings, who: Public) -> Response:
    """Log in from the form: to ``next`` (a path on this site) on success, else the form again."""
    form = await request.form()
    email, password, nxt = (str(form.get(k) or "") for k in ("email", "password", "next"))
    t = i18n.translator(i18n.language(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE)))

    def again(status: int, error: str) -> Response:
        return render(request, "login.html", status=status, next=_local_path(nxt), email=email[:254], error=error)

    if csrf.COOKIE not in request.cookies:
        return again(403, t("login_no_cookie"))
    try:
        login = sessions.Login(email=email, password=password)
    except ValidationError:
        return again(422, t("login_missing"))
    if not email.strip() or not password:
        return again(422, t("login_missing"))
    try:
        new = sessions.login(conn, login, now=datetime.now(UTC), address=client_address(request),
                             user_agent=request.headers.get("user-agent", ""))
    except LoginThrottled as e:
        response = again(429, t("login_throttled", minutes=_minutes(e.retry_after)))
        response.headers["Retry-After"] = str(e.retry_after)
        return response
    except Unauthenticated:
        return again(401, t("login_wrong"))
    conn.commit()
    out = RedirectResponse(_local_path(nxt), status_code=303)
    out.set_cookie(sessions.COOKIE, new.secret, max_age=int(sessions.LIFETIME.total_seconds()), path="/",
                   httponly=True, samesite="lax", secure=settings.api.https)
    return out
