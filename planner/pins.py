"""Standing pins and excludes of sites for the ranking (table planner_site_rules), audited."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from sql import QUERIES

RULES = ("pin", "exclude")


def set_rule(conn: psycopg.Connection, site_id: int, rule: str, actor: str, note: str = "") -> None:
    """Pin or exclude a site (replacing its earlier rule) and audit it. No commit."""
    if rule not in RULES:
        raise ValueError(f"rule {rule!r} must be one of {RULES}")
    conn.execute(QUERIES["planner_site_rule_set"], {"site_id": site_id, "rule": rule, "note": note, "actor": actor})
    conn.execute(QUERIES["planner_audit"], {"actor": actor, "action": f"site.{rule}", "entity": "planner_site_rules",
                                            "entity_id": str(site_id), "detail": Jsonb({"note": note})})


def clear_rule(conn: psycopg.Connection, site_id: int, actor: str) -> str | None:
    """Remove a site's pin or exclude; returns the rule removed (None: there was none)."""
    row = conn.execute(QUERIES["planner_site_rule_clear"], {"site_id": site_id}).fetchone()
    if row:
        conn.execute(QUERIES["planner_audit"], {"actor": actor, "action": f"site.un{row[0]}",
                                                "entity": "planner_site_rules", "entity_id": str(site_id),
                                                "detail": Jsonb({})})
    return row[0] if row else None


def list_rules(conn: psycopg.Connection) -> list[tuple]:
    """(site_id, name, rule, note, created_by, created_at) rows."""
    return conn.execute(QUERIES["planner_site_rules"]).fetchall()
