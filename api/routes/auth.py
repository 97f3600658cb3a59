"""Logging in and out, who am I, one's own sessions and personal API tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, ValidationError

from core.errors import InvalidInput

from .. import csrf, people, personal_tokens, sessions
from ..auth import client_address
from ..deps import AnyUser, AppSettings, Conn, Public

router = APIRouter(tags=["people"])


def _now() -> datetime:
    return datetime.now(UTC)


class Me(BaseModel):
    user: people.User
    session_id: int | None = Field(description="the session this request came with (None: a token)")
    csrf_token: str | None = Field(description="repeat in the X-CSRFToken header of unsafe requests with cookies")


class LoggedIn(Me):
    session: sessions.Session


class PasswordChange(BaseModel):
    current_password: str
    new_password: str


class _LoginBody(BaseModel):
    login: sessions.Login
    form: bool
    next: str | None = None


async def _login_body(request: Request) -> _LoginBody:
    """The login from a JSON body or an HTML form (urlencoded or multipart)."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            data = json.loads(await request.body())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InvalidInput(f"the body is not valid JSON: {e}") from None
        form, nxt = False, None
    elif kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        data = dict(await request.form())
        form, nxt = True, data.pop("next", None)
        data.pop(csrf.FORM_FIELD, None)
    else:
        raise InvalidInput(f"send the login as JSON or as a form, not {kind or 'no content type'}",
                           errors=[{"record": None, "field": "content-type", "value": kind,
                                    "reason": "application/json or application/x-www-form-urlencoded"}])
    if not isinstance(data, dict):
        raise InvalidInput("the login is an object {email, password}")
    try:
        login = sessions.Login.model_validate(data)
    except ValidationError as e:
        errors = []
        for err in e.errors():
            field = ".".join(str(p) for p in err["loc"])
            value = "<hidden>" if field == "password" else data.get(field)  # a password is never echoed
            errors.append({"record": None, "field": field, "value": value, "reason": err["msg"]})
        raise InvalidInput(f"{len(errors)} login field(s) are invalid", errors=errors) from None
    return _LoginBody(login=login, form=form, next=nxt if isinstance(nxt, str) else None)


_LOGIN_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": sessions.Login.model_json_schema()},
    "application/x-www-form-urlencoded": {"schema": {
        **sessions.Login.model_json_schema(),
        "properties": {**sessions.Login.model_json_schema()["properties"],
                       "next": {"type": "string", "description": "local path to go to after login"},
                       "csrftoken": {"type": "string"}}}}}}}


def _local_path(nxt: str | None) -> str:
    """Where a form login goes next: a path on this site only (no open redirect)."""
    if nxt and nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt:
        return nxt
    return "/"


@router.post("/sessions", status_code=201, response_model=LoggedIn, openapi_extra=_LOGIN_BODY,
             responses={303: {"description": "form login: to the page in 'next'"},
                        429: {"description": "too many failed logins (Retry-After)"}})
def login(request: Request, response: Response, body: Annotated[_LoginBody, Depends(_login_body)],
          conn: Conn, settings: AppSettings, _: Public):
    """Log in with e-mail and password; sets the session cookie (HttpOnly, SameSite=Lax)."""
    new = sessions.login(conn, body.login, now=_now(), address=client_address(request),
                         user_agent=request.headers.get("user-agent", ""), limits=settings.api.sessions)
    conn.commit()
    out: Response = RedirectResponse(_local_path(body.next), status_code=303) if body.form else response
    out.set_cookie(sessions.COOKIE, new.secret, max_age=int(sessions.lifetime(settings.api.sessions).total_seconds()), path="/",
                   httponly=True, samesite="lax", secure=settings.api.https)
    if body.form:
        return out
    return LoggedIn(user=people.get_user(conn, new.user_id), session=new.session.model_copy(update={"current": True}),
                    session_id=new.session.id, csrf_token=csrf.token(request))


@router.delete("/sessions/current", status_code=204)
def logout(response: Response, conn: Conn, settings: AppSettings, who: AnyUser) -> None:
    """Log out: the session ends for every server at once and the cookie is cleared."""
    sessions.logout(conn, who, now=_now())
    conn.commit()
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="lax", secure=settings.api.https)


@router.post("/sessions/current/logout", status_code=303, response_class=RedirectResponse,
             responses={303: {"description": "to the start page"}})
def logout_form(conn: Conn, settings: AppSettings, who: AnyUser) -> RedirectResponse:
    """Log out from an HTML form (which cannot send DELETE); the form carries the csrftoken field."""
    sessions.logout(conn, who, now=_now())
    conn.commit()
    out = RedirectResponse("/", status_code=303)
    out.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="lax", secure=settings.api.https)
    return out


@router.get("/sessions", response_model=list[sessions.Session])
def list_sessions(conn: Conn, who: AnyUser, settings: AppSettings):
    """Your live sessions (where and when you are logged in)."""
    return sessions.list_own(conn, who, now=_now(), limits=settings.api.sessions)


@router.delete("/sessions/{session_id}", status_code=204)
def revoke_session(session_id: int, conn: Conn, who: AnyUser) -> None:
    """End one of your sessions (e.g. a forgotten browser)."""
    sessions.revoke(conn, who, session_id, now=_now())
    conn.commit()


@router.get("/me", response_model=Me)
def me(request: Request, conn: Conn, who: AnyUser):
    """Who you are logged in as, and the CSRF token for unsafe requests with cookies."""
    return Me(user=people.get_user(conn, who.user_id), session_id=who.session_id, csrf_token=csrf.token(request))


@router.put("/me/password", response_model=people.User)
def change_password(body: PasswordChange, request: Request, conn: Conn, who: AnyUser):
    """Change your password (give the current one); your other sessions end."""
    user = people.change_own_password(conn, who, body.current_password, body.new_password, now=_now(),
                                      address=client_address(request))
    conn.commit()
    return user


@router.post("/tokens", status_code=201, response_model=personal_tokens.IssuedToken)
def issue_token(body: personal_tokens.TokenNew, conn: Conn, who: AnyUser):
    """A personal API token for scripts (``Authorization: Bearer fkp_…``), shown this once."""
    issued = personal_tokens.issue(conn, who, body, now=_now())
    conn.commit()
    return issued


@router.get("/tokens", response_model=list[personal_tokens.Token])
def list_tokens(conn: Conn, who: AnyUser):
    """Your live personal API tokens (never the tokens themselves)."""
    return personal_tokens.list_own(conn, who)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, conn: Conn, who: AnyUser) -> None:
    """Revoke one of your personal API tokens; it stops working at once."""
    personal_tokens.revoke(conn, who, token_id, now=_now())
    conn.commit()
