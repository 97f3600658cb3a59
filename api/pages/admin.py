"""Admins' pages: people (add, role and scope, disable or enable, reset a password) and the audit
log filtered by who, what and when. The same use cases as ``fartkoll user …`` and the admin
routes (:mod:`api.people`, :mod:`api.audit`); every change is audited under the admin's e-mail.
Times are shown and typed in the default time zone of the sites (setting ``default_time_zone``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from collector.setup import places
from core.errors import FartkollError, InvalidInput

from .. import audit, people
from ..deps import Admin, AppSettings, Conn
from ..principal import ROLES, Principal
from .guard import PageRoute, page

router = APIRouter(include_in_schema=False, route_class=PageRoute)
AUDIT_ROWS = 200


def _scopes(conn) -> tuple[list, list[tuple[int, str]]]:
    municipalities = places.list_municipalities(conn)
    areas = sorted({(m.police_area_id, m.police_area) for m in municipalities}, key=lambda a: a[1])
    return municipalities, areas


def _scope_ids(scope_choice: str) -> tuple[int | None, int | None]:
    """``m:ID`` (a municipality), ``p:ID`` (a police area) or '' (none) from the scope field."""
    kind, _, ident = scope_choice.partition(":")
    if not scope_choice:
        return None, None
    if kind not in ("m", "p") or not ident.isdigit():
        raise InvalidInput(f"scope {scope_choice!r}: choose a municipality or a police area from the list")
    return (int(ident), None) if kind == "m" else (None, int(ident))


def _users_page(request: Request, conn, who: Principal, *, status: int = 200, error: str | None = None,
                form: dict | None = None, done: str | None = None) -> Response:
    municipalities, areas = _scopes(conn)
    return page(request, "admin/users.html", who=who, status=status, error=error, form=form or {}, done=done,
                users=people.list_users(conn), roles=ROLES, municipalities=municipalities, areas=areas)


@router.get("/admin/users")
def users_page(request: Request, conn: Conn, who: Admin) -> Response:
    """Everyone who can log in, and a form to add a person."""
    return _users_page(request, conn, who, done=request.query_params.get("done"))


@router.post("/admin/users")
def add_user(request: Request, conn: Conn, who: Admin, email: Annotated[str, Form()] = "",
             name: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "",
             scope: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "") -> Response:
    form = {"email": email, "name": name, "role": role, "scope": scope}
    try:
        mun, area = _scope_ids(scope)
        if role not in ROLES:
            raise InvalidInput(f"role {role!r}: choose one of {', '.join(ROLES)}")
        user = people.add_user(conn, who.actor, people.UserNew(
            email=email, name=name, role=role, municipality_id=mun, police_area_id=area, password=password or None))
        conn.commit()
    except (FartkollError, ValueError) as e:
        conn.rollback()
        status = e.status if isinstance(e, FartkollError) else 422
        return _users_page(request, conn, who, status=status, error=str(e), form=form)
    return RedirectResponse(f"/admin/users/{user.id}?done=added", status_code=303)


def _user_page(request: Request, conn, who: Principal, user_id: int, *, status: int = 200,
               error: str | None = None, done: str | None = None, tz: str) -> Response:
    user = people.get_user(conn, user_id)
    municipalities, areas = _scopes(conn)
    entries = audit.search(conn, entity="user", entity_id=str(user_id), limit=20)
    return page(request, "admin/user.html", who=who, status=status, error=error, done=done, user=user, roles=ROLES,
                municipalities=municipalities, areas=areas, entries=entries,
                local=lambda t: t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z") if t else "–")


@router.get("/admin/users/{user_id}")
def user_page(user_id: int, request: Request, conn: Conn, settings: AppSettings, who: Admin) -> Response:
    """One person: change role and scope, disable or enable, reset the password; their audit rows."""
    return _user_page(request, conn, who, user_id, done=request.query_params.get("done"),
                      tz=settings.default_time_zone)


@router.post("/admin/users/{user_id}")
def change_user(user_id: int, request: Request, conn: Conn, settings: AppSettings, who: Admin,
                name: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "",
                scope: Annotated[str, Form()] = "", active: Annotated[str, Form()] = "") -> Response:
    """Name, role, scope and whether they may log in (disabling ends their sessions at once)."""
    people.get_user(conn, user_id)
    try:
        mun, area = _scope_ids(scope)
        if role not in ROLES:
            raise InvalidInput(f"role {role!r}: choose one of {', '.join(ROLES)}")
        people.update_user(conn, who.actor, user_id, people.UserChange(
            name=name, role=role, municipality_id=mun, police_area_id=area, active=active == "1"),
            now=datetime.now(UTC))
        conn.commit()
    except (FartkollError, ValueError) as e:
        conn.rollback()
        status = e.status if isinstance(e, FartkollError) else 422
        return _user_page(request, conn, who, user_id, status=status, error=str(e), tz=settings.default_time_zone)
    return RedirectResponse(f"/admin/users/{user_id}?done=saved", status_code=303)


@router.post("/admin/users/{user_id}/password")
def reset_password(user_id: int, request: Request, conn: Conn, settings: AppSettings, who: Admin,
                   password: Annotated[str, Form()] = "") -> Response:
    """Set a new password (the person's sessions end); tell it to them another way."""
    people.get_user(conn, user_id)
    try:
        people.set_password(conn, who.actor, user_id, password, now=datetime.now(UTC))
        conn.commit()
    except (FartkollError, ValueError) as e:
        conn.rollback()
        status = e.status if isinstance(e, FartkollError) else 422
        return _user_page(request, conn, who, user_id, status=status, error=str(e), tz=settings.default_time_zone)
    return RedirectResponse(f"/admin/users/{user_id}?done=password", status_code=303)


def _day(field: str, text: str, tz: ZoneInfo, *, end: bool) -> datetime | None:
    """A typed local date as the start of that day (``end``: of the next day), in ``tz``."""
    if not text.strip():
        return None
    try:
        d = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{field} {text!r}: give a date as 2026-05-01") from None
    return datetime.combine(d + timedelta(days=1) if end else d, time(), tz)


@router.get("/admin/audit")
def audit_page(request: Request, conn: Conn, settings: AppSettings, who: Admin) -> Response:
    """The audit log, newest first, filtered by who (actor), what (action, or a prefix such as
    ``user.``), which entity, and the local days from and to (both included)."""
    q = request.query_params
    form = {k: q.get(k, "") for k in ("actor", "action", "entity", "from", "to")}
    tz = ZoneInfo(settings.default_time_zone)
    error, entries, status = None, [], 200
    try:
        entries = audit.search(conn, actor=form["actor"].strip() or None, action=form["action"].strip() or None,
                               entity=form["entity"].strip() or None, since=_day("from", form["from"], tz, end=False),
                               until=_day("to", form["to"], tz, end=True), limit=AUDIT_ROWS)
    except FartkollError as e:
        error, status = str(e), e.status
    return page(request, "admin/audit.html", who=who, status=status, error=error, form=form, entries=entries,
                limit=AUDIT_ROWS, tz=settings.default_time_zone,
                local=lambda t: t.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"))
