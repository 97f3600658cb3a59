"""The control log: validate and record controls officers held, and list them.

``validate_control`` is pure and raises :class:`ControlError` naming the field and the value;
``add_control`` also checks the plan, links the plan's matching planned control, and writes an
audit row. Nothing commits: the caller owns the transaction.

A control may carry a ``client_key``: a UUID the client made once for the form it sends (a hidden
field). Sending the same form again — a flaky connection, a double tap — stores nothing new: the
answer is the control stored under that key (``replayed`` true), even when the first answer never
arrived. Two sends racing each other meet at the key's unique index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from core.errors import InvalidInput, NotFound
from planner.names import DirectionName, direction_name
from sql import QUERIES

METHODS = ("laser", "radar", "camera", "presence", "other")
MAX_CONTROL = timedelta(hours=24)


class ControlError(InvalidInput):
    """A control cannot be logged; the message names the field, its value and the fix."""

    def __init__(self, field: str, value: object, problem: str):
        self.field, self.value = field, value
        super().__init__(f"{field} {value!r}: {problem}",
                         errors=[{"record": None, "field": field, "value": _plain(value), "reason": problem}])


def _plain(value: object) -> object:
    """A JSON-ready value for the problem details."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


@dataclass(frozen=True)
class ControlInput:
    site_id: int
    start: datetime
    end: datetime
    method: str
    vehicles_checked: int | None = None
    reports_written: int | None = None
    direction: int | None = None
    """The stored code (planner.names.direction_code of approaching, receding, unknown); None: both."""
    note: str = ""
    plan_id: int | None = None
    second_unit: bool = False
    """Another unit controlled the same site at the same time: not a duplicate."""
    plan_item_id: int | None = None
    """The planned control this one carried out (its plan is ``plan_id``)."""
    client_key: UUID | None = None
    """Made once by the client for this control: the same key again answers the stored control."""


@dataclass(frozen=True)
class ControlRow:
    id: int
    site_id: int
    site_name: str
    direction: int | None
    start_time: datetime
    end_time: datetime
    method: str
    vehicles_checked: int | None
    reports_written: int | None
    planned: bool
    note: str
    plan_id: int | None
    plan_created_at: datetime | None


class ControlView(BaseModel):
    """A logged control; ``direction`` null: both directions."""

    id: int
    site_id: int
    site_name: str
    direction: DirectionName | None
    start_time: datetime
    end_time: datetime
    method: str
    vehicles_checked: int | None
    reports_written: int | None
    planned: bool
    note: str
    plan_id: int | None
    plan_created_at: datetime | None
    replayed: bool = False
    """True: this control was stored earlier under the same client key; nothing new was stored."""


def control_view(r: ControlRow, replayed: bool = False) -> ControlView:
    d = dict(r.__dict__)
    d["direction"] = None if r.direction is None else direction_name(r.direction)
    return ControlView(**d, replayed=replayed)


def validate_control(c: ControlInput, now: datetime) -> None:
    """Raise ControlError for the first field that is wrong. ``now`` is an aware datetime."""
    for name in ("start", "end"):
        t = getattr(c, name)
        if t.tzinfo is None:
            raise ControlError(name, t.isoformat(), "needs a time zone (e.g. 2024-10-21T16:00+02:00)")
    if c.end <= c.start:
        raise ControlError("end", c.end.isoformat(), f"must be after start {c.start.isoformat()}")
    if c.end - c.start > MAX_CONTROL:
        raise ControlError("end", c.end.isoformat(), "a control lasts at most 24 hours; log each day separately")
    if c.start > now + timedelta(hours=1):
        raise ControlError("start", c.start.isoformat(), "is in the future; log controls after holding them")
    if c.method not in METHODS:
        raise ControlError("method", c.method, f"must be one of {', '.join(METHODS)}")
    if c.direction is not None and c.direction not in (0, 1, 2):
        raise ControlError("direction", c.direction, "must be approaching, receding or unknown (or left out: both)")
    for name in ("vehicles_checked", "reports_written"):
        v = getattr(c, name)
        if v is not None and v < 0:
            raise ControlError(name, v, "must be 0 or more")
    if c.vehicles_checked is not None and c.reports_written is not None and c.reports_written > c.vehicles_checked:
        raise ControlError("reports_written", c.reports_written,
                           f"cannot exceed vehicles_checked ({c.vehicles_checked})")


def _by_key(conn: psycopg.Connection, key: UUID | None) -> int | None:
    if key is None:
        return None
    row = conn.execute(QUERIES["controls_by_key"], {"client_key": key}).fetchone()
    return None if row is None else int(row[0])


def add_control(conn: psycopg.Connection, c: ControlInput, actor: str, now: datetime) -> int:
    """Validate and insert a control (and link its planned control); returns the control id (the
    stored one's when a control with the input's client key exists)."""
    return _add(conn, c, actor, now)[0]


def _add(conn: psycopg.Connection, c: ControlInput, actor: str, now: datetime) -> tuple[int, bool]:
    """(control id, True when it was stored earlier under the input's client key)."""
    stored = _by_key(conn, c.client_key)
    if stored is not None:
        return stored, True
    validate_control(c, now)
    zone = conn.execute(QUERIES["controls_site_zone"], {"site_id": c.site_id}).fetchone()
    if not zone:
        raise ControlError("site", c.site_id, "no such site")
    if c.plan_id is not None:
        _check_plan(conn, c, ZoneInfo(zone[0]))
    if not c.second_unit:
        with conn.cursor(row_factory=dict_row) as cur:
            for e in cur.execute(QUERIES["controls_overlapping"],
                                 {"site_id": c.site_id, "start": c.start, "end": c.end}).fetchall():
                stored = _by_key(conn, c.client_key)  # the same form, committed by a racing send
                if stored is not None:
                    return stored, True
                z = ZoneInfo(zone[0])
                a, b = e["start_time"].astimezone(z), e["end_time"].astimezone(z)
                raise ControlError("start", c.start.isoformat(),
                                   f"overlaps control {e['id']} at this site ({a:%Y-%m-%d %H:%M}–{b:%H:%M}); "
                                   "if a second unit was there too, mark it as a second unit")
    inserted = conn.execute(QUERIES["controls_insert"], {
        "site_id": c.site_id, "direction": c.direction, "start_time": c.start, "end_time": c.end,
        "method": c.method, "vehicles_checked": c.vehicles_checked, "reports_written": c.reports_written,
        "note": c.note, "plan_id": c.plan_id, "second_unit": c.second_unit,
        "client_key": c.client_key}).fetchone()
    if inserted is None:  # a racing send with the same key committed first
        return _by_key(conn, c.client_key), True
    control_id = inserted[0]
    linked = None
    if c.plan_item_id is not None:
        row = conn.execute(QUERIES["plans_item_done"], {"control_id": control_id, "item_id": c.plan_item_id}).fetchone()
        if not row:
            raise ControlError("plan_item", c.plan_item_id, "is already marked done by another control")
        linked = row[0]
    elif c.plan_id is not None:
        row = conn.execute(QUERIES["planner_planned_control_link"], {
            "control_id": control_id, "plan_id": c.plan_id, "site_id": c.site_id, "start_time": c.start}).fetchone()
        linked = row[0] if row else None
    conn.execute(QUERIES["planner_audit"], {
        "actor": actor, "action": "control.add", "entity": "controls", "entity_id": str(control_id),
        "detail": Jsonb({"site_id": c.site_id, "start": c.start.isoformat(), "end": c.end.isoformat(),
                         "method": c.method, "vehicles_checked": c.vehicles_checked,
                         "reports_written": c.reports_written, "plan_id": c.plan_id,
                         "planned_control_id": linked, "second_unit": c.second_unit,
                         "client_key": None if c.client_key is None else str(c.client_key)})})
    return int(control_id), False


def _check_plan(conn: psycopg.Connection, c: ControlInput, zone: ZoneInfo) -> None:
    """A plan link must name a live plan, one of its sites, and a day it covers."""
    with conn.cursor(row_factory=dict_row) as cur:
        plan = cur.execute(QUERIES["plans_header"], {"plan_id": c.plan_id}).fetchone()
        if not plan:
            raise ControlError("plan_id", c.plan_id, "no such plan; `fartkoll planner plans list` prints plan ids")
        if plan["status"] == "cancelled":
            raise ControlError("plan_id", c.plan_id, "that plan was cancelled; log the control without a plan")
        sites = {r["site_id"] for r in cur.execute(QUERIES["plans_plan_sites"], {"plan_id": c.plan_id})}
    if c.site_id not in sites:
        raise ControlError("plan_id", c.plan_id, f"plan {c.plan_id} has no control at site {c.site_id}")
    day = c.start.astimezone(zone).date()
    if not plan["first_day"] <= day <= plan["last_day"]:
        raise ControlError("start", c.start.isoformat(), f"is on {day}, outside plan {c.plan_id}'s days "
                           f"{plan['first_day']} .. {plan['last_day']}")


def _view(conn: psycopg.Connection, control_id: int, replayed: bool) -> ControlView:
    row = conn.cursor(row_factory=class_row(ControlRow)).execute(
        QUERIES["planner_control"], {"control_id": control_id}).fetchone()
    return control_view(row, replayed)


def stored_control(conn: psycopg.Connection, client_key: UUID | None) -> ControlView | None:
    """The control already stored under ``client_key`` (``replayed`` true), or None. Callers that
    build the input from a plan item ask this first: once done, the item refuses a second control."""
    control_id = _by_key(conn, client_key)
    return None if control_id is None else _view(conn, control_id, True)


def record_control(conn: psycopg.Connection, c: ControlInput, actor: str, now: datetime) -> ControlView:
    """The control-log use case: validate, store (and link and audit) a control; returns it as
    stored. A client key already used answers the control stored under it (``replayed``)."""
    control_id, replayed = _add(conn, c, actor, now)
    return _view(conn, control_id, replayed)


def control(conn: psycopg.Connection, control_id: int) -> ControlView:
    """One logged control; NotFound when there is none."""
    row = conn.cursor(row_factory=class_row(ControlRow)).execute(
        QUERIES["planner_control"], {"control_id": control_id}).fetchone()
    if row is None:
        raise NotFound(f"control {control_id} does not exist; `fartkoll planner control list` prints control ids")
    return control_view(row)


def item_control(conn: psycopg.Connection, item_id: int) -> int | None:
    """The logged control that carried out a planned control (None: not done yet, or no such item).
    A form for a planned control sent again under a new key (the page fetched anew) is answered
    with it: one planned control is done once."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(QUERIES["plans_item"], {"item_id": item_id}).fetchone()
    return None if row is None else row["control_id"]


def list_controls(conn: psycopg.Connection, site_id: int | None = None) -> list[ControlRow]:
    """Logged controls, newest first (optionally of one site)."""
    with conn.cursor(row_factory=class_row(ControlRow)) as cur:
        return cur.execute(QUERIES["planner_controls"], {"site_id": site_id}).fetchall()
