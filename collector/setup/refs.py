"""Finding a site or a sign by what a person typed: a site by name, unique name prefix or id; a
sign by serial number or id. Errors say what was typed and what exists."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from core.errors import InvalidInput, NotFound
from sql import QUERIES

from . import checks


@dataclass(frozen=True)
class SiteRef:
    id: int
    name: str
    time_zone: str


@dataclass(frozen=True)
class SignRef:
    id: int
    serial: str


def site(conn: psycopg.Connection, ref: str | int) -> SiteRef:
    """The site whose name is ``ref``, whose name starts with it (when only one does), or whose id it is."""
    typed = checks.text("site", str(ref))
    rows = conn.cursor(row_factory=dict_row).execute(QUERIES["setup_site_refs"], {"ref": typed}).fetchall()
    exact = [r for r in rows if r["name"] == typed] or [r for r in rows if str(r["id"]) == typed]
    if not exact and len(rows) > 1:
        names = ", ".join(repr(r["name"]) for r in rows[:8])
        raise InvalidInput(f"site {typed!r} is ambiguous: it starts {len(rows)} site names ({names}); "
                           "type more of the name or give the id",
                           errors=[{"record": None, "field": "site", "value": typed, "reason": "ambiguous"}])
    found = exact or rows
    if not found:
        raise NotFound(f"no site named {typed!r} (nor one whose name starts so, nor with that id): "
                       "`fartkoll site list` shows them, `fartkoll site add` adds one",
                       errors=[{"record": None, "field": "site", "value": typed, "reason": "unknown site"}])
    r = found[0]
    return SiteRef(r["id"], r["name"], r["time_zone"])


def site_by_id(conn: psycopg.Connection, site_id: int) -> SiteRef:
    """The site with this id (404 otherwise)."""
    if not checks.is_id(site_id):
        raise NotFound(f"no site with id {site_id}",
                       errors=[{"record": None, "field": "site_id", "value": site_id, "reason": "unknown site"}])
    r = conn.cursor(row_factory=dict_row).execute(QUERIES["setup_site_refs"], {"ref": str(site_id)}).fetchall()
    r = [x for x in r if x["id"] == site_id]
    if not r:
        raise NotFound(f"no site with id {site_id}",
                       errors=[{"record": None, "field": "site_id", "value": site_id, "reason": "unknown site"}])
    return SiteRef(r[0]["id"], r[0]["name"], r[0]["time_zone"])


def sign(conn: psycopg.Connection, ref: str | int) -> SignRef:
    """The sign with serial number ``ref`` (or, failing that, id ``ref``)."""
    typed = checks.text("sign", str(ref))
    rows = conn.cursor(row_factory=dict_row).execute(QUERIES["setup_sign_refs"], {"ref": typed}).fetchall()
    if not rows:
        serials = [r[0] for r in conn.execute(QUERIES["setup_sign_serials"]).fetchall()]
        near = difflib.get_close_matches(typed, serials, n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise NotFound(f"no sign with serial number or id {typed!r}{hint}: `fartkoll sign list` shows them, "
                       f"`fartkoll sign add {typed} --protocol P` registers it",
                       errors=[{"record": None, "field": "sign", "value": typed, "reason": "unknown sign"}])
    return SignRef(rows[0]["id"], rows[0]["serial"])


def sign_by_id(conn: psycopg.Connection, sign_id: int) -> SignRef:
    """The sign with this id (404 otherwise)."""
    if not checks.is_id(sign_id):
        raise NotFound(f"no sign with id {sign_id}",
                       errors=[{"record": None, "field": "sign_id", "value": sign_id, "reason": "unknown sign"}])
    rows = conn.cursor(row_factory=dict_row).execute(QUERIES["setup_sign_refs"], {"ref": str(sign_id)}).fetchall()
    rows = [r for r in rows if r["id"] == sign_id]
    if not rows:
        raise NotFound(f"no sign with id {sign_id}",
                       errors=[{"record": None, "field": "sign_id", "value": sign_id, "reason": "unknown sign"}])
    return SignRef(rows[0]["id"], rows[0]["serial"])
