"""The audit log, for admins: who changed what, when."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from .. import audit
from ..deps import Admin, Conn

router = APIRouter(tags=["people"])


@router.get("/audit", response_model=list[audit.AuditEntry])
def audit_log(conn: Conn, who: Admin,
              actor: Annotated[str | None, Query(description="who: an e-mail, sign:SERIAL, cli or system")] = None,
              action: Annotated[str | None, Query(description="e.g. user.add, or a prefix ending in '.' (session.)")] = None,
              entity: Annotated[str | None, Query(description="e.g. user, session, api_token, plan")] = None,
              entity_id: Annotated[str | None, Query()] = None,
              from_: Annotated[datetime | None, Query(alias="from", description="ISO 8601 with offset; inclusive")] = None,
              to: Annotated[datetime | None, Query(description="ISO 8601 with offset; exclusive")] = None,
              before_id: Annotated[int | None, Query(description="next page: the last id seen")] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    """Audit rows, newest first, filtered by who, what, which entity and when ([from, to))."""
    return audit.search(conn, actor=actor, action=action, entity=entity, entity_id=entity_id,
                        since=from_, until=to, before_id=before_id, limit=limit)
