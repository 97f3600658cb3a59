"""Personal API tokens for scripts: issue (the token is shown once), list, revoke. Stored as
SHA-256 hashes (:mod:`collector.tokens`); a token acts with its owner's role and scope and
stops working when revoked or when its owner is disabled."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.rows import class_row, dict_row
from pydantic import BaseModel, Field

from collector.tokens import PERSONAL_PREFIX, hash_token, new_token
from core.errors import NotFound
from sql import QUERIES

from . import audit
from .principal import Principal


class TokenNew(BaseModel):
    label: str = Field("", max_length=200, description="what the token is for, e.g. 'nightly export'")


class Token(BaseModel):
    id: int
    label: str
    created_at: datetime
    last_used_at: datetime | None


class IssuedToken(Token):
    token: str = Field(description="the token itself: shown this once, store it now")


def issue(conn: psycopg.Connection, who: Principal, new: TokenNew, *, now: datetime) -> IssuedToken:
    token = new_token(PERSONAL_PREFIX)
    row = conn.cursor(row_factory=dict_row).execute(QUERIES["personal_token_insert"], {
        "user_id": who.user_id, "hash": hash_token(token), "label": new.label.strip(), "now": now}).fetchone()
    audit.record(conn, who.actor, "token.create", "api_token", row["id"], {"label": row["label"]})
    return IssuedToken(token=token, **row)


def list_own(conn: psycopg.Connection, who: Principal) -> list[Token]:
    return conn.cursor(row_factory=class_row(Token)).execute(
        QUERIES["personal_token_list"], {"user_id": who.user_id}).fetchall()


def revoke(conn: psycopg.Connection, who: Principal, token_id: int, *, now: datetime) -> None:
    row = conn.cursor(row_factory=dict_row).execute(QUERIES["personal_token_revoke"], {
        "token_id": token_id, "user_id": who.user_id, "now": now}).fetchone()
    if row is None:
        raise NotFound(f"you have no live personal token {token_id}")
    audit.record(conn, who.actor, "token.revoke", "api_token", token_id, {"label": row["label"]})
