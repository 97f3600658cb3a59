"""People: add, list, change, disable a user and set a password. One function per use case,
called by ``fartkoll user …`` and by the admin routes alike; each returns a :class:`User`.

Scope rules (what a role's scope must name): a viewer belongs to a municipality, an officer to
a police area, a technician to one of the two, an admin to neither (an admin sees everything).
Functions take a connection and never commit; every change writes its audit row in the same
transaction.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

import psycopg
from psycopg.rows import class_row, dict_row
from pydantic import BaseModel, Field

from core.errors import Conflict, InvalidInput, NotFound
from sql import QUERIES

from . import audit, passwords, throttle
from .principal import ROLES, Principal

Role = Literal["viewer", "officer", "technician", "admin"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class User(BaseModel):
    """A person who can log in, with the scope of their role."""

    id: int
    email: str
    name: str
    role: str  # one of ROLES; 'planner' rows from before roles were settled act as viewers
    active: bool
    municipality_id: int | None
    municipality: str | None
    police_area_id: int | None
    police_area: str | None
    has_password: bool
    created_at: datetime


class UserNew(BaseModel):
    """What an admin gives to add a person (the password may be set later)."""

    email: str = Field(max_length=254)
    role: Role
    name: str = Field("", max_length=200)
    municipality_id: int | None = None
    police_area_id: int | None = None
    password: str | None = Field(None, description="10 to 1024 characters; never shown again")


class UserChange(BaseModel):
    """Fields to change; those left out keep their value."""

    name: str | None = Field(None, max_length=200)
    role: Role | None = None
    municipality_id: int | None = None
    police_area_id: int | None = None
    active: bool | None = None


def _bad(field: str, value: object, reason: str) -> InvalidInput:
    return InvalidInput(f"{field} {value!r}: {reason}",
                        errors=[{"record": None, "field": field, "value": value, "reason": reason}])


def normal_email(email: str) -> str:
    """The e-mail as stored (trimmed, lower case); refuses what is not an address."""
    e = email.strip().lower()
    if not _EMAIL.match(e) or len(e) > 254:
        raise _bad("email", email, "is not an e-mail address (name@example.se)")
    return e


def _check_scope(conn: psycopg.Connection, role: str, municipality_id: int | None,
                 police_area_id: int | None) -> None:
    if role not in ROLES:
        raise _bad("role", role, f"must be one of {', '.join(ROLES)}")
    if municipality_id is not None and police_area_id is not None:
        raise _bad("police_area_id", police_area_id, "give a municipality or a police area, not both")
    if role == "admin" and (municipality_id is not None or police_area_id is not None):
        raise _bad("role", role, "an admin sees every municipality: give no municipality or police area")
    if role == "viewer" and municipality_id is None:
        raise _bad("municipality_id", None, "a viewer needs the municipality whose figures they see (--municipality)")
    if role == "officer" and police_area_id is None:
        raise _bad("police_area_id", None, "an officer needs their police area (--police-area)")
    if role == "technician" and municipality_id is None and police_area_id is None:
        raise _bad("municipality_id", None, "a technician needs a municipality or a police area whose signs they manage")
    if municipality_id is not None and conn.execute(
            QUERIES["municipality_get"], {"id": municipality_id}).fetchone() is None:
        raise NotFound(f"no municipality with id {municipality_id}",
                       errors=[{"record": None, "field": "municipality_id", "value": municipality_id,
                                "reason": "no such municipality"}])
    if police_area_id is not None and conn.execute(
            QUERIES["police_area_get"], {"id": police_area_id}).fetchone() is None:
        raise NotFound(f"no police area with id {police_area_id}",
                       errors=[{"record": None, "field": "police_area_id", "value": police_area_id,
                                "reason": "no such police area"}])


def municipality_id(conn: psycopg.Connection, ref: str) -> int:
    """A municipality's id from its name, code or id as typed."""
    row = conn.cursor(row_factory=dict_row).execute(QUERIES["municipality_by_name_or_id"], {"ref": ref}).fetchone()
    if row is None:
        raise NotFound(f"no municipality named {ref!r} (give its name, code or id)")
    return row["id"]


def police_area_id(conn: psycopg.Connection, ref: str) -> int:
    """A police area's id from its name or id as typed."""
    row = conn.cursor(row_factory=dict_row).execute(QUERIES["police_area_by_name_or_id"], {"ref": ref}).fetchone()
    if row is None:
        raise NotFound(f"no police area named {ref!r} (give its name or id)")
    return row["id"]


def get_user(conn: psycopg.Connection, user_id: int) -> User:
    user = conn.cursor(row_factory=class_row(User)).execute(QUERIES["user_get"], {"user_id": user_id}).fetchone()
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


def user_by_email(conn: psycopg.Connection, email: str) -> User:
    row = conn.execute(QUERIES["user_id_by_email"], {"email": email.strip()}).fetchone()
    if row is None:
        raise NotFound(f"no user with e-mail {email!r}: see `fartkoll user list`")
    return get_user(conn, row[0])


def list_users(conn: psycopg.Connection) -> list[User]:
    return conn.cursor(row_factory=class_row(User)).execute(QUERIES["user_list"]).fetchall()


def add_user(conn: psycopg.Connection, actor: str, new: UserNew) -> User:
    """Add a person; refuses an e-mail already in use (409) and a scope the role does not take."""
    email = normal_email(new.email)
    _check_scope(conn, new.role, new.municipality_id, new.police_area_id)
    password_hash = passwords.hash_password(new.password) if new.password is not None else None
    if conn.execute(QUERIES["user_id_by_email"], {"email": email}).fetchone() is not None:
        raise Conflict(f"a user with e-mail {email!r} exists already",
                       errors=[{"record": None, "field": "email", "value": email, "reason": "already in use"}])
    user_id = conn.execute(QUERIES["user_insert"], {
        "email": email, "name": new.name.strip(), "role": new.role, "municipality_id": new.municipality_id,
        "police_area_id": new.police_area_id, "password_hash": password_hash}).fetchone()[0]
    audit.record(conn, actor, "user.add", "user", user_id, {
        "email": email, "role": new.role, "municipality_id": new.municipality_id,
        "police_area_id": new.police_area_id, "password_set": password_hash is not None})
    return get_user(conn, user_id)


def update_user(conn: psycopg.Connection, actor: str, user_id: int, change: UserChange, *,
                now: datetime) -> User:
    """Change a person's name, role, scope or whether they may log in. Disabling ends their
    sessions and revokes their personal tokens at once; the last active admin stays an admin."""
    old = get_user(conn, user_id)
    given = change.model_fields_set
    role = change.role if change.role is not None else old.role
    if role == "planner":
        role = "viewer"
    mun = change.municipality_id if "municipality_id" in given else old.municipality_id
    area = change.police_area_id if "police_area_id" in given else old.police_area_id
    if "municipality_id" in given and "police_area_id" not in given:
        area = None  # a scope is one or the other: naming a municipality replaces a police area
    elif "police_area_id" in given and "municipality_id" not in given:
        mun = None
    elif change.role is not None and "municipality_id" not in given and "police_area_id" not in given:
        # a new role without a new scope: drop the part of the old scope the new role does not take
        if role == "admin":
            mun = area = None
        elif role == "viewer":
            area = None
        elif role == "officer":
            mun = None
    active = change.active if change.active is not None else old.active
    name = change.name.strip() if change.name is not None else old.name
    _check_scope(conn, role, mun, area)
    if old.role == "admin" and old.active and (role != "admin" or not active):
        admins = conn.cursor(row_factory=dict_row).execute(QUERIES["user_count_active_admins"]).fetchone()["n"]
        if admins <= 1:
            raise Conflict(f"{old.email} is the last active admin: make another admin first")
    conn.execute(QUERIES["user_update"], {"user_id": user_id, "name": name, "role": role,
                                          "municipality_id": mun, "police_area_id": area, "active": active})
    changed = {k: v for k, v in {"name": name, "role": role, "municipality_id": mun, "police_area_id": area,
                                 "active": active}.items() if getattr(old, k) != v}
    if not active and old.active:
        ended = conn.execute(QUERIES["session_revoke_all"], {"user_id": user_id, "keep": None, "now": now}).fetchall()
        tokens = conn.execute(QUERIES["personal_token_revoke_all"], {"user_id": user_id, "now": now}).fetchall()
        audit.record(conn, actor, "user.disable", "user", user_id,
                     {"email": old.email, "sessions_ended": len(ended), "tokens_revoked": len(tokens)})
        changed.pop("active")
    elif active and not old.active:
        audit.record(conn, actor, "user.enable", "user", user_id, {"email": old.email})
        changed.pop("active")
    if changed:
        audit.record(conn, actor, "user.update", "user", user_id, {"email": old.email, **changed})
    return get_user(conn, user_id)


def disable_user(conn: psycopg.Connection, actor: str, email: str, *, now: datetime) -> User:
    return update_user(conn, actor, user_by_email(conn, email).id, UserChange(active=False), now=now)


def set_password(conn: psycopg.Connection, actor: str, user_id: int, password: str, *, now: datetime,
                 keep_session: int | None = None) -> User:
    """Set a person's password; every other session of theirs ends (a reset locks out whoever
    knew the old one)."""
    user = get_user(conn, user_id)
    conn.execute(QUERIES["user_password_hash_set"], {"user_id": user_id,
                                                     "password_hash": passwords.hash_password(password)})
    ended = conn.execute(QUERIES["session_revoke_all"],
                         {"user_id": user_id, "keep": keep_session, "now": now}).fetchall()
    audit.record(conn, actor, "user.password", "user", user_id, {"email": user.email, "sessions_ended": len(ended)})
    return get_user(conn, user_id)


def change_own_password(conn: psycopg.Connection, who: Principal, current: str, new: str, *, now: datetime,
                        address: str) -> User:
    """A person changes their own password, proving the current one (throttled like a login:
    a stolen session cannot guess it). Commits a wrong guess's count before raising."""
    throttle.check(conn, who.email, address, now=now)
    stored = conn.execute(QUERIES["user_password_hash_get"], {"user_id": who.user_id}).fetchone()
    if not passwords.verify(stored[0] if stored else None, current):
        throttle.failed(conn, who.email, address, now=now)
        audit.record(conn, who.actor, "user.password_failed", "user", who.user_id, {"address": address})
        conn.commit()
        raise InvalidInput("the current password is wrong",
                           errors=[{"record": None, "field": "current_password", "value": "<hidden>",
                                    "reason": "does not match"}])
    return set_password(conn, who.actor, who.user_id, new, now=now, keep_session=who.session_id)
