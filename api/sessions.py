"""Login sessions kept in the database: log in (password, throttled), resolve a cookie, list
and revoke. The cookie holds a random id; the table holds only its SHA-256 hash, so any number
of server processes share sessions and a revoked one stops working at the next request.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row, dict_row
from pydantic import BaseModel, Field

from collector.tokens import hash_token
from core.errors import NotFound, Unauthenticated
from fartkoll.settings import SessionSettings
from sql import QUERIES

from . import audit, passwords, throttle
from .principal import Principal, role_of

COOKIE = "fartkoll_session"
DEFAULTS = SessionSettings()     # the settings' api.sessions, when a caller passes none
LIFETIME = timedelta(hours=DEFAULTS.lifetime_h)  # a session ends this long after login at the latest
IDLE = timedelta(hours=DEFAULTS.idle_h)          # or when unused this long
SEEN_EVERY = timedelta(minutes=1)  # last_seen_at is moved at most this often


class Login(BaseModel):
    """E-mail and password (a JSON body or a form)."""

    email: str = Field(max_length=254)
    password: str = Field(max_length=passwords.MAX_LENGTH)


class Session(BaseModel):
    """One of a person's live sessions (the id here is not the secret in the cookie)."""

    id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    address: str
    user_agent: str
    current: bool = False


class NewSession(BaseModel):
    secret: str  # the cookie value: never stored, never logged
    session: Session
    user_id: int


def lifetime(limits: SessionSettings = DEFAULTS) -> timedelta:
    """How long after login a session ends at the latest."""
    return timedelta(hours=limits.lifetime_h)


def idle(limits: SessionSettings = DEFAULTS) -> timedelta:
    """How long unused a session may stay."""
    return timedelta(hours=limits.idle_h)


def throttle_limits(limits: SessionSettings = DEFAULTS) -> throttle.Limits:
    """The login throttle's limits from the settings."""
    return throttle.Limits(window=timedelta(seconds=limits.login_window_s),
                           per_account=limits.login_failures_per_account,
                           per_address=limits.login_failures_per_address)


def create(conn: psycopg.Connection, user_id: int, *, now: datetime, address: str = "",
           user_agent: str = "", limits: SessionSettings = DEFAULTS) -> NewSession:
    """A new session for ``user_id`` (not committed)."""
    secret = secrets.token_urlsafe(32)
    row = conn.cursor(row_factory=dict_row).execute(QUERIES["session_insert"], {
        "hash": hash_token(secret), "user_id": user_id, "now": now, "expires_at": now + lifetime(limits),
        "address": address[:100], "user_agent": user_agent[:300]}).fetchone()
    return NewSession(secret=secret, session=Session(**row), user_id=user_id)


def login(conn: psycopg.Connection, form: Login, *, now: datetime, address: str, user_agent: str = "",
          limits: SessionSettings = DEFAULTS) -> NewSession:
    """Check e-mail and password and open a session. Throttled per account and per address;
    every outcome is audited. Commits the failure count even when it raises, so the count
    survives the error (call it on a connection with nothing else pending)."""
    email = form.email.strip().lower()
    conn.execute(QUERIES["login_lock"], {"email": email})
    throttle.check(conn, email, address, now=now, limits=throttle_limits(limits))
    row = conn.cursor(row_factory=dict_row).execute(QUERIES["login_user"], {"email": email}).fetchone()
    ok = passwords.verify(row["password_hash"] if row else None, form.password)
    if not ok or not row["active"]:
        reason = "unknown e-mail" if row is None else ("disabled" if ok else "wrong password")
        throttle.failed(conn, email, address, now=now, limits=throttle_limits(limits))
        audit.record(conn, "anonymous", "session.login_failed", "user", row["id"] if row else None,
                     {"email": email, "address": address, "reason": reason})
        conn.commit()
        raise Unauthenticated("wrong e-mail or password, or the account is disabled")
    if passwords.needs_rehash(row["password_hash"]):
        conn.execute(QUERIES["user_password_hash_set"],
                     {"user_id": row["id"], "password_hash": passwords.hash_password(form.password)})
    throttle.succeeded(conn, email)
    conn.execute(QUERIES["sessions_prune"], {"now": now})
    new = create(conn, row["id"], now=now, address=address, user_agent=user_agent, limits=limits)
    audit.record(conn, row["email"], "session.login", "session", new.session.id, {"address": address})
    return new


def resolve(conn: psycopg.Connection, secret: str, *, now: datetime,
            limits: SessionSettings = DEFAULTS) -> Principal | None:
    """The person behind a session cookie, or None when it is unknown, expired, idle too long,
    revoked or its user disabled. Moves last-seen (committed at once) at most once a minute."""
    row = conn.cursor(row_factory=dict_row).execute(QUERIES["auth_session"], {
        "hash": hash_token(secret), "now": now, "idle": idle(limits)}).fetchone()
    if row is None:
        return None
    if now - row["last_seen_at"] >= SEEN_EVERY:
        conn.execute(QUERIES["session_seen"], {"session_id": row["session_id"], "now": now})
        conn.commit()
    return Principal(user_id=row["user_id"], email=row["email"], role=role_of(row["role"]),
                     municipality_id=row["municipality_id"], police_area_id=row["police_area_id"],
                     session_id=row["session_id"])


def list_own(conn: psycopg.Connection, who: Principal, *, now: datetime,
             limits: SessionSettings = DEFAULTS) -> list[Session]:
    rows = conn.cursor(row_factory=class_row(Session)).execute(
        QUERIES["session_list"], {"user_id": who.user_id, "now": now, "idle": idle(limits)}).fetchall()
    return [s.model_copy(update={"current": s.id == who.session_id}) for s in rows]


def revoke(conn: psycopg.Connection, who: Principal, session_id: int, *, now: datetime, action: str = "session.revoke") -> None:
    """End one of the person's own sessions (404 for anyone else's or an ended one)."""
    row = conn.execute(QUERIES["session_revoke"], {"session_id": session_id, "user_id": who.user_id,
                                                   "now": now}).fetchone()
    if row is None:
        raise NotFound(f"you have no live session {session_id}")
    audit.record(conn, who.actor, action, "session", session_id, {})


def logout(conn: psycopg.Connection, who: Principal, *, now: datetime) -> None:
    """End the session this request came with."""
    if who.session_id is None:
        raise NotFound("this request carries no session (it is authenticated by a token, or not at all)")
    revoke(conn, who, who.session_id, now=now, action="session.logout")
