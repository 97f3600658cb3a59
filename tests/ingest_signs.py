"""Signs with deployments and upload tokens made with SQL, for the ingest tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from places import deploy, make_sign, make_site

from collector.tokens import SIGN_PREFIX, hash_token, new_token


@dataclass(frozen=True)
class UploadSign:
    serial: str
    sign_id: int
    site_id: int
    token: str
    token_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def issue_token(conn: psycopg.Connection, sign_id: int) -> tuple[str, int]:
    token = new_token(SIGN_PREFIX)
    token_id = conn.execute("INSERT INTO api_tokens (sign_id, token_hash, label) VALUES (%s, %s, 'test') RETURNING id",
                            (sign_id, hash_token(token))).fetchone()[0]
    return token, token_id


def upload_sign(url: str, serial: str, *, display: int = 1,
                since: datetime | None = None) -> UploadSign:
    """A sign deployed at a site of its own since ``since`` (default: 30 days ago), with a live token."""
    since = since or datetime.now(UTC) - timedelta(days=30)
    with psycopg.connect(url) as conn:
        site = make_site(conn, f"{serial} 1")
        sign = make_sign(conn, serial=serial)
        deploy(conn, sign, site, since, display=display)
        token, token_id = issue_token(conn, sign)
    return UploadSign(serial, sign, site, token, token_id)
