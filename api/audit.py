"""The audit log: who (a person's e-mail, ``sign:SERIAL``, ``cli`` or ``system``) changed what.

:func:`record` writes one row in the caller's transaction, so a change and its audit row are
committed together or not at all. :func:`search` is the admin's view of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from core.errors import InvalidInput
from sql import QUERIES

CLI_ACTOR = "cli"  # changes made with `fartkoll …` by whoever holds the database credentials


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    detail: dict[str, Any]


def record(conn: psycopg.Connection, actor: str, action: str, entity: str, entity_id: object = None,
           detail: dict[str, Any] | None = None) -> int:
    """Add one audit row (not committed: the caller owns the transaction)."""
    row = conn.execute(QUERIES["audit_insert"], {
        "actor": actor, "action": action, "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id), "detail": Jsonb(detail or {})}).fetchone()
    return row[0]


def search(conn: psycopg.Connection, *, actor: str | None = None, action: str | None = None,
           entity: str | None = None, entity_id: str | None = None, since: datetime | None = None,
           until: datetime | None = None, before_id: int | None = None, limit: int = 100) -> list[AuditEntry]:
    """Audit rows newest first; ``action`` ending in '.' matches every action it starts
    (``session.`` finds logins, logouts and failed logins); the period is ``[since, until)``."""
    if since is not None and until is not None and until <= since:
        raise InvalidInput(f"'to' ({until.isoformat()}) must be after 'from' ({since.isoformat()})",
                           errors=[{"record": None, "field": "to", "value": until.isoformat(),
                                    "reason": "must be after 'from'"}])
    if not 1 <= limit <= 1000:
        raise InvalidInput(f"limit must be 1..1000, not {limit}",
                           errors=[{"record": None, "field": "limit", "value": limit, "reason": "must be 1..1000"}])
    cur = conn.cursor(row_factory=class_row(AuditEntry))
    return cur.execute(QUERIES["audit_search"], {
        "actor": actor, "action": action, "entity": entity, "entity_id": entity_id,
        "from": since, "to": until, "before_id": before_id, "limit": limit}).fetchall()
