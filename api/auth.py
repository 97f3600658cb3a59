"""Resolving who a request comes from: ``Authorization: Bearer <token>`` (a person's API token
or a sign's upload token, told apart by prefix), else the session cookie of a person who logged
in with a password (:mod:`api.sessions`).

A bad or revoked bearer token is an error (401): a script with a stale token should hear so. A
stale session cookie is not: the browser is treated as anonymous, so public pages still show.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from fastapi import Request
from psycopg.rows import dict_row

from collector.tokens import PERSONAL_PREFIX, SIGN_PREFIX, hash_token
from core.errors import Unauthenticated
from sql import QUERIES

from . import sessions
from .principal import ANONYMOUS, Principal, SignPrincipal, role_of

TOKEN_SEEN_EVERY = timedelta(minutes=1)  # as auth_token_used's condition


def bearer(request: Request) -> str | None:
    """The bearer token of the request, if any."""
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def client_address(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy: uvicorn's --proxy-headers)."""
    return request.client.host if request.client else ""


def principal(request: Request, conn: psycopg.Connection) -> Principal:
    """The person behind the request, or :data:`ANONYMOUS`."""
    now = datetime.now(UTC)
    token = bearer(request)
    if token is not None and not token.startswith(SIGN_PREFIX + "_"):
        if not token.startswith(PERSONAL_PREFIX + "_"):
            raise Unauthenticated("the bearer token is not a Fartkoll personal token (fkp_…)")
        row = conn.cursor(row_factory=dict_row).execute(
            QUERIES["auth_personal_token"], {"hash": hash_token(token)}).fetchone()
        if row is None:
            raise Unauthenticated("the bearer token is unknown or revoked, or its user is disabled")
        # last use is noted at most once a minute (the query's own condition): most requests
        # skip that round trip
        last = row["last_used_at"]
        if (last is None or now - last >= TOKEN_SEEN_EVERY) and conn.execute(
                QUERIES["auth_token_used"], {"token_id": row["token_id"], "now": now}).rowcount:
            conn.commit()  # nothing else is pending yet: the route has not started
        return Principal(user_id=row["user_id"], email=row["email"], role=role_of(row["role"]),
                         municipality_id=row["municipality_id"], police_area_id=row["police_area_id"],
                         token_id=row["token_id"])
    if token is None:
        secret = request.cookies.get(sessions.COOKIE)
        if secret:
            return sessions.resolve(conn, secret, now=now, limits=request.app.state.settings.api.sessions) or ANONYMOUS
    return ANONYMOUS


def sign_principal(request: Request, conn: psycopg.Connection) -> SignPrincipal:
    """The sign whose upload token the request carries; 401 without a live sign token."""
    token = bearer(request)
    if token is None:
        raise Unauthenticated("a sign uploads with 'Authorization: Bearer <sign token>' (fartkoll token issue SIGN)")
    if not token.startswith(SIGN_PREFIX + "_"):
        raise Unauthenticated("the bearer token is not a sign upload token (fks_…)")
    row = conn.cursor(row_factory=dict_row).execute(QUERIES["auth_sign_token"], {"hash": hash_token(token)}).fetchone()
    if row is None:
        raise Unauthenticated("the sign token is unknown or revoked: issue a new one with `fartkoll token issue SIGN`")
    return SignPrincipal(sign_id=row["sign_id"], serial=row["serial"], token_id=row["token_id"])
