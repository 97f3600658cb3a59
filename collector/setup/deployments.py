"""Where signs stand: deploy a sign at a site, move it to another, remove it.

A deployment runs from ``valid_from`` until ``valid_to`` (None: still standing). A sign stands
at one site at a time (the table's exclusion constraint); moving closes the deployment in force
and opens the next at the same instant, in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from core.errors import Conflict
from sql import QUERIES

from . import audit, checks, refs

Display = Literal["display", "stealth"]
DISPLAY_CODES = {"stealth": 0, "display": 1}
DISPLAY_NAMES = {v: k for k, v in DISPLAY_CODES.items()}


class DeploymentOut(BaseModel):
    """A sign at a site over [valid_from, valid_to); valid_to None while it stands there."""

    id: int
    sign_id: int
    serial: str
    site_id: int
    site: str
    time_zone: str                       # the site's, for showing the times locally
    valid_from: datetime
    valid_to: datetime | None
    display: Display
    mount_angle_deg: float
    approach_heading: str                # the heading of traffic that approaches the sensor
    note: str


class MoveOut(BaseModel):
    """A move: the deployment closed and the one opened, at the same instant."""

    closed: DeploymentOut
    opened: DeploymentOut


def list_deployments(conn: psycopg.Connection, *, sign_id: int | None = None, site_id: int | None = None,
                     at: datetime | None = None, deployment_id: int | None = None) -> list[DeploymentOut]:
    """Deployments, oldest first; filtered by sign, site, the instant ``at`` they cover, or id."""
    if any(v is not None and not checks.is_id(v) for v in (sign_id, site_id, deployment_id)):
        return []
    rows = conn.cursor(row_factory=dict_row).execute(QUERIES["setup_deployments"], {
        "id": deployment_id, "sign_id": sign_id, "site_id": site_id, "at": at}).fetchall()
    return [DeploymentOut(**{**r, "display": DISPLAY_NAMES[r["display"]]}) for r in rows]


def _one(conn: psycopg.Connection, deployment_id: int) -> DeploymentOut:
    return list_deployments(conn, deployment_id=deployment_id)[0]


def _check(display: str, mount_angle_deg: float, approach_heading: str, note: str) -> None:
    if display not in DISPLAY_CODES:
        raise checks.invalid("display", display, "must be display (the sign shows speeds) or stealth")
    if not 0 <= mount_angle_deg < 90:
        raise checks.invalid("mount_angle_deg", mount_angle_deg, "must be at least 0 and below 90 degrees")
    checks.text("approach_heading", approach_heading, 40, required=False)
    checks.text("note", note, 500, required=False)


def _open(conn: psycopg.Connection, *, sign: refs.SignRef, site: refs.SiteRef, at: datetime, display: str,
          mount_angle_deg: float, approach_heading: str, note: str) -> int:
    overlapping = conn.cursor(row_factory=dict_row).execute(QUERIES["setup_deployments_overlapping"], {
        "sign_id": sign.id, "valid_from": at, "valid_to": None}).fetchall()
    if overlapping:
        d = overlapping[0]
        end = d["valid_to"].isoformat() if d["valid_to"] else "open"
        raise Conflict(
            f"sign {sign.serial} has deployment {d['id']} at site {d['site']!r} from {d['valid_from'].isoformat()} "
            f"to {end}, overlapping a deployment from {at.isoformat()}: move it with "
            f"`fartkoll sign move {sign.serial} SITE` or end it with `fartkoll sign remove {sign.serial}`",
            errors=[{"record": None, "field": "at", "value": at.isoformat(),
                     "reason": f"overlaps deployment {d['id']}"}])
    try:
        with conn.transaction():
            return conn.execute(QUERIES["setup_deployment_insert"], {
                "sign_id": sign.id, "site_id": site.id, "valid_from": at, "display": DISPLAY_CODES[display],
                "mount_angle_deg": mount_angle_deg, "approach_heading": approach_heading.strip(),
                "note": note.strip()}).fetchone()[0]
    except psycopg.errors.ExclusionViolation:
        # another writer deployed the same sign at the same moment
        raise Conflict(f"sign {sign.serial} got another deployment overlapping {at.isoformat()} while this one "
                       f"was made: `fartkoll sign show {sign.serial}` shows where it stands") from None


def deploy(conn: psycopg.Connection, *, actor: str, sign_id: int, site_id: int, at: datetime,
           display: Display = "display", mount_angle_deg: float = 0.0, approach_heading: str = "",
           note: str = "") -> DeploymentOut:
    """Deploy a sign at a site from ``at``; refused while it stands elsewhere then. Never commits."""
    sign, site = refs.sign_by_id(conn, sign_id), refs.site_by_id(conn, site_id)
    at = checks.instant(at, "at")
    _check(display, mount_angle_deg, approach_heading, note)
    dep_id = _open(conn, sign=sign, site=site, at=at, display=display, mount_angle_deg=mount_angle_deg,
                   approach_heading=approach_heading, note=note)
    out = _one(conn, dep_id)
    audit.record(conn, actor=actor, action="deploy", entity="deployment", entity_id=dep_id,
                 detail=out.model_dump(mode="json"))
    return out


def _in_force(conn: psycopg.Connection, sign: refs.SignRef, at: datetime, command: str) -> dict:
    row = conn.cursor(row_factory=dict_row).execute(QUERIES["setup_deployment_in_force"],
                                                    {"sign_id": sign.id, "at": at}).fetchone()
    if row is None:
        raise Conflict(f"sign {sign.serial} is not deployed at {at.isoformat()}, so there is nothing to {command}: "
                       f"deploy it with `fartkoll sign deploy {sign.serial} SITE`",
                       errors=[{"record": None, "field": "sign", "value": sign.serial, "reason": "not deployed"}])
    if row["valid_from"] >= at:
        raise checks.invalid("at", at.isoformat(),
                             f"must be after the start of deployment {row['id']} ({row['valid_from'].isoformat()})")
    return row


def move(conn: psycopg.Connection, *, actor: str, sign_id: int, site_id: int, at: datetime,
         display: Display | None = None, mount_angle_deg: float = 0.0, approach_heading: str = "",
         note: str = "") -> MoveOut:
    """Close the sign's deployment in force at ``at`` and open one at ``site_id`` from ``at``, in
    one step (a savepoint: both or neither). ``display`` None keeps the old mode. Never commits."""
    sign, site = refs.sign_by_id(conn, sign_id), refs.site_by_id(conn, site_id)
    at = checks.instant(at, "at")
    with conn.transaction():
        old = _in_force(conn, sign, at, "move")
        before = _one(conn, old["id"])
        mode = display if display is not None else before.display
        _check(mode, mount_angle_deg, approach_heading, note)
        conn.execute(QUERIES["setup_deployment_close"], {"id": old["id"], "valid_to": at})
        new_id = _open(conn, sign=sign, site=site, at=at, display=mode, mount_angle_deg=mount_angle_deg,
                       approach_heading=approach_heading, note=note)
    out = MoveOut(closed=_one(conn, old["id"]), opened=_one(conn, new_id))
    audit.record(conn, actor=actor, action="move", entity="deployment", entity_id=new_id,
                 detail=out.model_dump(mode="json"))
    return out


def remove(conn: psycopg.Connection, *, actor: str, sign_id: int, at: datetime) -> DeploymentOut:
    """End the sign's deployment in force at ``at`` (the sign is taken down then). Never commits."""
    sign = refs.sign_by_id(conn, sign_id)
    at = checks.instant(at, "at")
    old = _in_force(conn, sign, at, "remove")
    conn.execute(QUERIES["setup_deployment_close"], {"id": old["id"], "valid_to": at})
    out = _one(conn, old["id"])
    audit.record(conn, actor=actor, action="remove", entity="deployment", entity_id=out.id,
                 detail=out.model_dump(mode="json"))
    return out
