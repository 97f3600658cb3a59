"""The audit row every set-up change writes: who, what, which entity."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sql import QUERIES


def record(conn: psycopg.Connection, *, actor: str, action: str, entity: str, entity_id: Any,
           detail: dict[str, Any]) -> None:
    """Add one audit row (``detail`` must be JSON-ready, e.g. ``model.model_dump(mode="json")``).
    Never commits."""
    conn.execute(QUERIES["audit_insert"], {"actor": actor, "action": action, "entity": entity,
                                           "entity_id": None if entity_id is None else str(entity_id),
                                           "detail": Jsonb(detail)})
