"""Registering radar signs: serial number, vendor, model, the collector protocol it speaks, the
unit and rounding of its speeds and its configured limit; listing them with where they stand."""

from __future__ import annotations

import difflib
from datetime import datetime
from typing import Literal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from collector.protocols import PROTOCOLS
from core.errors import Conflict
from sql import QUERIES

from . import audit, checks, refs
from .deployments import DeploymentOut, list_deployments

UNITS = ("kmh", "mph", "mps", "fps", "cms")
ROUNDINGS = ("truncate", "round", "exact")

SpeedUnit = Literal["kmh", "mph", "mps", "fps", "cms"]
Rounding = Literal["truncate", "round", "exact"]


class SignOut(BaseModel):
    """A registered sign and the deployment in force at the time asked about (None: not deployed)."""

    id: int
    serial: str
    vendor: str
    model: str
    protocol: str                       # a collector protocol name (collector.protocols)
    unit: SpeedUnit
    rounding: Rounding
    configured_limit_kmh: int | None
    created_at: datetime
    deployment: DeploymentOut | None


def check_protocol(name: str) -> str:
    """``name`` if the collector speaks it; the error lists the valid names."""
    if name in PROTOCOLS:
        return name
    typed = name.strip().lower()
    near = [p for p in PROTOCOLS if typed and p.startswith(typed)]          # 'houston' → houston-dr500
    near = near or difflib.get_close_matches(typed, list(PROTOCOLS), n=2, cutoff=0.6)
    hint = f"did you mean {', '.join(near)}? " if near else ""
    raise checks.invalid("protocol", name, "is not a collector protocol",
                         f"protocol {name!r} is not a collector protocol: {hint}valid names: {', '.join(PROTOCOLS)}")


def add_sign(conn: psycopg.Connection, *, actor: str, serial: str, protocol: str, unit: str = "kmh",
             vendor: str = "", model: str = "", rounding: str = "truncate",
             configured_limit_kmh: int | None = None) -> SignOut:
    """Register a sign. Never commits."""
    serial = checks.text("serial", serial, 100)
    vendor = checks.text("vendor", vendor, 100, required=False)
    model = checks.text("model", model, 100, required=False)
    check_protocol(protocol)
    if unit not in UNITS:
        raise checks.invalid("unit", unit, f"must be one of {', '.join(UNITS)}")
    if rounding not in ROUNDINGS:
        raise checks.invalid("rounding", rounding, f"must be one of {', '.join(ROUNDINGS)}")
    if configured_limit_kmh is not None and not 5 <= configured_limit_kmh <= 130:
        raise checks.invalid("configured_limit_kmh", configured_limit_kmh, "must be 5–130 km/h")
    row = conn.execute(QUERIES["setup_sign_insert"], {
        "serial": serial, "vendor": vendor.strip(), "model": model.strip(), "protocol": protocol, "unit": unit,
        "rounding": rounding, "configured_limit_kmh": configured_limit_kmh}).fetchone()
    if row is None:
        raise Conflict(f"a sign with serial number {serial!r} is registered already: `fartkoll sign list` shows it",
                       errors=[{"record": None, "field": "serial", "value": serial, "reason": "exists"}])
    out = _signs(conn, row[0], None)[0]
    audit.record(conn, actor=actor, action="create", entity="sign", entity_id=out.id,
                 detail=out.model_dump(mode="json"))
    return out


def _signs(conn: psycopg.Connection, sign_id: int | None, at: datetime | None) -> list[SignOut]:
    rows = conn.cursor(row_factory=dict_row).execute(QUERIES["setup_signs"], {"sign_id": sign_id, "at": at}).fetchall()
    out = []
    for r in rows:
        dep_id = r.pop("deployment_id")
        dep = list_deployments(conn, deployment_id=dep_id)[0] if dep_id is not None else None
        out.append(SignOut(**r, deployment=dep))
    return out


def list_signs(conn: psycopg.Connection, *, at: datetime) -> list[SignOut]:
    """Every sign by serial number, each with its deployment in force at ``at``."""
    return _signs(conn, None, at)


def show_sign(conn: psycopg.Connection, sign_id: int, *, at: datetime) -> SignOut:
    """One sign with its deployment in force at ``at`` (404 for an unknown id)."""
    refs.sign_by_id(conn, sign_id)
    return _signs(conn, sign_id, at)[0]
