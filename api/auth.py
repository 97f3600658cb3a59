"""Resolving who a request comes from: ``Authorization: Bearer <token>`` (a person's API token
or a sign's upload token, told apart by prefix). Session cookies for people who log in with a
password resolve here too (:func:`principal`)."""

from __future__ import annotations

import psycopg
from fastapi import Request
from psycopg.rows import dict_row

from collector.tokens import PERSONAL_PREFIX, SIGN_PREFIX, hash_token
from core.errors import Unauthenticated
from sql import QUERIES

from .principal import ANONYMOUS, Principal, SignPrincipal


def bearer(request: Request) -> str | None:
    """The bearer token of the request, if any."""
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def principal(request: Request, conn: psycopg.Connection) -> Principal:
    """The person behind the request, or :data:`ANONYMOUS`. A bad or revoked token is an error
    (401), not anonymity: a script with a stale token should hear so."""
    token = bearer(request)
    if token is not None and not token.startswith(SIGN_PREFIX + "_"):
        if not token.startswith(PERSONAL_PREFIX + "_"):
            raise Unauthenticated("the bearer token is not a Fartkoll personal token (fkp_…)")
        row = conn.cursor(row_factory=dict_row).execute(
            QUERIES["auth_personal_token"], {"hash": hash_token(token)}).fetchone()
        if row is None:
            raise Unauthenticated("the bearer token is unknown or revoked, or its user is disabled")
        return Principal(user_id=row["user_id"], email=row["email"], role=row["role"],
                         municipality_id=row["municipality_id"], police_area_id=row["police_area_id"],
                         token_id=row["token_id"])
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
