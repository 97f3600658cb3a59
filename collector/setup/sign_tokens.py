"""Upload tokens of signs: issue (the token is shown once; only its hash is stored), list (never
the token), revoke (the sign's uploads with it stop at once)."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from collector.tokens import SIGN_PREFIX, hash_token, new_token
from core.errors import NotFound
from sql import QUERIES

from . import audit, checks, refs


class TokenOut(BaseModel):
    """A sign's upload token as stored: never the token itself."""

    id: int
    sign_id: int
    serial: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


class IssuedToken(TokenOut):
    """A token just issued: ``token`` is shown this once and cannot be shown again."""

    token: str


def _tokens(conn: psycopg.Connection, *, sign_id: int | None = None, token_id: int | None = None) -> list[TokenOut]:
    rows = conn.cursor(row_factory=dict_row).execute(QUERIES["setup_tokens"], {"sign_id": sign_id, "id": token_id}).fetchall()
    return [TokenOut(**r) for r in rows]


def issue_token(conn: psycopg.Connection, *, actor: str, sign_id: int, label: str = "") -> IssuedToken:
    """A new upload token for a sign. Never commits."""
    refs.sign_by_id(conn, sign_id)
    label = checks.text("label", label, 200, required=False)
    token = new_token(SIGN_PREFIX)
    token_id = conn.execute(QUERIES["setup_token_insert"], {
        "sign_id": sign_id, "token_hash": hash_token(token), "label": label.strip()}).fetchone()[0]
    stored = _tokens(conn, token_id=token_id)[0]
    audit.record(conn, actor=actor, action="issue", entity="sign_token", entity_id=token_id,
                 detail=stored.model_dump(mode="json"))
    return IssuedToken(**stored.model_dump(), token=token)


def list_tokens(conn: psycopg.Connection, *, sign_id: int | None = None) -> list[TokenOut]:
    """Upload tokens, of one sign or all, oldest first."""
    if sign_id is not None:
        refs.sign_by_id(conn, sign_id)
    return _tokens(conn, sign_id=sign_id)


def revoke_token(conn: psycopg.Connection, *, actor: str, token_id: int, at: datetime,
                 sign_id: int | None = None) -> TokenOut:
    """Revoke a sign's upload token from ``at`` on (revoking it again changes nothing).
    ``sign_id`` given: the token must be that sign's. Never commits."""
    found = _tokens(conn, token_id=token_id) if checks.is_id(token_id) else []
    if not found or (sign_id is not None and found[0].sign_id != sign_id):
        whose = f" of sign {sign_id}" if sign_id is not None else ""
        raise NotFound(f"no sign token with id {token_id}{whose}: `fartkoll token list` shows them",
                       errors=[{"record": None, "field": "token_id", "value": token_id, "reason": "unknown token"}])
    if found[0].revoked_at is not None:
        return found[0]
    conn.execute(QUERIES["setup_token_revoke"], {"id": token_id, "at": checks.instant(at, "at")})
    out = _tokens(conn, token_id=token_id)[0]
    audit.record(conn, actor=actor, action="revoke", entity="sign_token", entity_id=token_id,
                 detail=out.model_dump(mode="json"))
    return out
