"""What a person may see: the municipalities in their scope, and checks for one object.

A viewer sees their municipality; an officer every municipality of their police area; a
technician the municipality (or police area) whose signs they manage; an admin everything.
Another municipality's object answers 404, not 403: its existence is not disclosed.
Anonymous visitors have no scope here: public routes show public aggregates only.
"""

from __future__ import annotations

import psycopg

from core.errors import NotFound
from sql import QUERIES

from .principal import Principal


def municipality_ids(conn: psycopg.Connection, who: Principal) -> list[int] | None:
    """The municipalities ``who`` may see, or None for all (admin). Empty for anonymous."""
    if who.anonymous:
        return []
    if who.role == "admin":
        return None
    if who.municipality_id is not None:
        return [who.municipality_id]
    if who.police_area_id is not None:
        return [r[0] for r in conn.execute(QUERIES["scope_police_area_municipalities"],
                                           {"police_area_id": who.police_area_id})]
    return []


def municipality_visible(conn: psycopg.Connection, who: Principal, municipality_id: int | None) -> bool:
    ids = municipality_ids(conn, who)
    return municipality_id is not None and (ids is None or municipality_id in ids)


def site_visible(conn: psycopg.Connection, who: Principal, site_id: int) -> bool:
    """Whether the site exists and lies in a municipality ``who`` may see."""
    row = conn.execute(QUERIES["scope_site_municipality"], {"site_id": site_id}).fetchone()
    return row is not None and municipality_visible(conn, who, row[0])


def require_site(conn: psycopg.Connection, who: Principal, site_id: int) -> None:
    """404 unless :func:`site_visible`."""
    if not site_visible(conn, who, site_id):
        raise NotFound(f"no site {site_id} that you may see")


def street_visible(conn: psycopg.Connection, who: Principal, street_id: int) -> bool:
    row = conn.execute(QUERIES["scope_street_municipality"], {"street_id": street_id}).fetchone()
    return row is not None and municipality_visible(conn, who, row[0])


def require_street(conn: psycopg.Connection, who: Principal, street_id: int) -> None:
    if not street_visible(conn, who, street_id):
        raise NotFound(f"no street {street_id} that you may see")


def sign_visible(conn: psycopg.Connection, who: Principal, sign_id: int) -> bool:
    """Whether the sign exists and its latest deployment is in a municipality ``who`` may see.
    A sign never deployed is in nobody's municipality yet: technicians (and admins) see it, so
    the one who registered it can deploy it; viewers and officers do not."""
    if conn.execute(QUERIES["scope_sign_exists"], {"sign_id": sign_id}).fetchone() is None:
        return False
    ids = municipality_ids(conn, who)
    if ids is None:
        return True
    latest = conn.execute(QUERIES["scope_sign_municipalities"], {"sign_id": sign_id}).fetchone()
    if latest is None:
        return who.role == "technician"
    return latest[0] in ids


def require_sign(conn: psycopg.Connection, who: Principal, sign_id: int) -> None:
    """404 unless :func:`sign_visible`."""
    if not sign_visible(conn, who, sign_id):
        raise NotFound(f"no sign {sign_id} that you may see")
