"""One audit-log row per import, with the summary as its detail."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from sql import QUERIES

from .report import ImportSummary


def record_import(conn: psycopg.Connection, summary: ImportSummary, *, actor: str = "cli") -> None:
    """Add the audit row (action 'import', entity = the source, entity_id = the file or API). Never commits."""
    conn.execute(QUERIES["imp_audit"], {"actor": actor, "entity": summary.source, "entity_id": summary.target,
                                        "detail": Jsonb(summary.detail())})
