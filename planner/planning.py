"""Make a control plan: rank → draw (planner.schedule) → store (plans, planned_controls, audit).

``propose_plan`` is the one use case the CLI, the scheduled plan job and the API call (slots from
a file or the settings' weekly slots, a seed, rank, draw, store); it returns a
:class:`PlanOutcome` whose ``view()`` is the plan's JSON shape (:class:`PlanView`). ``make_plan`` ``parse_slots`` reads patrol
slots from CSV or TOML text; ``draw_plan`` is the pure draw from a ranking. The same data, slots
and seed give the same plan. Exports are in planner.calendar_export and planner.plan_html.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from core.errors import InvalidInput
from planner.load import Period
from planner.names import DirectionName, direction_name
from planner.ranking import RankResult, rank
from planner.schedule import PatrolSlot, Plan, Site, plan_controls
from planner.settings import PlannerSettings
from sql import QUERIES


class PlanError(InvalidInput):
    """A plan cannot be made as asked; the message names the value and what to do."""


class PlannedControlView(BaseModel):
    """One control of a plan; times are ISO 8601 in the site's zone (with offset).

    ``id`` is the plan item (``fartkoll planner control done ID``); ``control_id`` the logged
    control that carried it out (null: not done yet)."""

    id: int | None = None
    site_id: int
    site_name: str
    direction: DirectionName
    start: datetime
    end: datetime
    unit: int
    slot: int
    hour_of_week: int
    score: float
    reason: str
    """'score', 'complaints' or 'focus street'."""
    street: str = ""
    control_id: int | None = None


PlanStatus = Literal["draft", "approved", "cancelled"]


class PlanView(BaseModel):
    """A stored plan as the CLI's ``--json`` and the API give it."""

    plan_id: int
    created_at: datetime
    created_by: str
    seed: int
    time_zone: str
    first_day: date
    last_day: date
    data_from: datetime
    data_to: datetime
    controls: list[PlannedControlView]
    unmet: list[str]
    status: PlanStatus = "draft"
    approved_by: str | None = None
    approved_at: datetime | None = None
    cancelled_by: str | None = None
    cancelled_at: datetime | None = None
    language: Literal["sv", "en"] = "sv"


@dataclass(frozen=True)
class PlanOutcome:
    plan_id: int
    created_at: datetime
    plan: Plan
    slots: tuple[PatrolSlot, ...]
    seed: int
    ranking: RankResult
    site_names: dict[int, str]
    sites: dict[int, Site]
    time_zone: str
    created_by: str = ""
    item_ids: tuple[int | None, ...] = ()
    """The stored plan item of each of ``plan.controls`` (the id ``planner control done`` takes)."""

    def view(self) -> PlanView:
        days = [s.day for s in self.slots]
        return PlanView(
            plan_id=self.plan_id, created_at=self.created_at, created_by=self.created_by, seed=self.seed,
            time_zone=self.time_zone, first_day=min(days), last_day=max(days),
            data_from=self.ranking.period.start, data_to=self.ranking.period.end,
            controls=[PlannedControlView(
                id=self.item_ids[k] if k < len(self.item_ids) else None, site_id=c.site_id, site_name=self.site_names.get(c.site_id, ""), direction=direction_name(c.direction),
                start=c.start, end=c.end, unit=c.unit, slot=c.slot, hour_of_week=c.hour_of_week,
                score=round(float(c.weight), 4), reason=c.reason) for k, c in enumerate(self.plan.controls)],
            unmet=list(self.plan.unmet))


def next_monday(today: date) -> date:
    """The Monday after ``today`` (a week from today when today is a Monday)."""
    return today + timedelta(days=7 - today.weekday())


def _time(value: object, where: str, field: str) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        raise PlanError(f"{where}: {field} {value!r} is not a time like 07:30") from None


def _slot(rec: dict, where: str) -> PatrolSlot:
    missing = [k for k in ("date", "start", "end") if k not in rec or rec[k] in (None, "")]
    if missing:
        raise PlanError(f"{where}: missing {', '.join(missing)} (columns: date, start, end, units)")
    d = rec["date"]
    if not isinstance(d, date):
        try:
            d = date.fromisoformat(str(d).strip())
        except ValueError:
            raise PlanError(f"{where}: date {rec['date']!r} is not a date like 2024-11-05") from None
    start, end = _time(rec["start"], where, "start"), _time(rec["end"], where, "end")
    label = f"{where} ({d} {start:%H:%M}–{end:%H:%M})"
    if start == end:
        raise _slot_error(label, "end", f"{end:%H:%M}", f"start and end are both {start:%H:%M}; give the slot's end")
    overnight = _flag(rec.get("overnight", False), label)
    if end < start and not overnight:
        raise _slot_error(label, "end", f"{end:%H:%M}", f"ends before its start {start:%H:%M}; mark the slot "
                          "overnight (column overnight = yes) if it runs past midnight")
    if end > start and overnight:
        raise _slot_error(label, "overnight", "yes", "marked overnight but ends the same day")
    units = rec.get("units", 1)
    try:
        units = int(units if units not in (None, "") else 1)
    except (TypeError, ValueError):
        raise PlanError(f"{where}: units {units!r} is not a whole number") from None
    if not 1 <= units <= 20:
        raise PlanError(f"{where}: units {units} must be between 1 and 20")
    return PatrolSlot(d, start, end, units, overnight, str(rec.get("area") or "").strip())


def _flag(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    if text in ("", "no", "false", "0", "nej"):
        return False
    if text in ("yes", "true", "1", "ja"):
        return True
    raise _slot_error(where, "overnight", value, "must be yes or no")


def _slot_error(where: str, field: str, value: object, reason: str) -> PlanError:
    return PlanError(f"{where}: {field} {value!r}: {reason}",
                     errors=[{"record": where, "field": field, "value": str(value), "reason": reason}])


def check_slots_in_period(slots: list[PatrolSlot], first_day: date, last_day: date) -> None:
    """Refuse, naming it, a slot that starts before ``first_day`` or after ``last_day`` (local days)."""
    for s in slots:
        if not first_day <= s.day <= last_day:
            raise _slot_error(s.label(), "date", s.day.isoformat(),
                              f"outside the plan's period {first_day} .. {last_day}")


def parse_slots(text: str, fmt: str) -> list[PatrolSlot]:
    """Patrol slots from CSV (header date,start,end[,units]) or TOML ([[slot]] tables)."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        slots = [_slot({k.strip().lower(): v for k, v in row.items() if k}, f"slots line {i}")
                 for i, row in enumerate(reader, start=2)]
    elif fmt == "toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise PlanError(f"slots file is not valid TOML: {e}") from None
        slots = [_slot(rec, f"[[slot]] #{i}") for i, rec in enumerate(data.get("slot", []), start=1)]
    else:
        raise PlanError(f"slots format {fmt!r} is not csv or toml")
    if not slots:
        raise PlanError("the slots file has no slots (CSV: date,start,end,units rows; TOML: [[slot]] tables)")
    return sorted(slots, key=lambda s: (s.day, s.start))


def read_slots(path: str | Path) -> list[PatrolSlot]:
    """Slots from a .csv or .toml file."""
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    if fmt not in ("csv", "toml"):
        raise PlanError(f"slots file {p} must end in .csv or .toml")
    try:
        return parse_slots(p.read_text(encoding="utf-8"), fmt)
    except FileNotFoundError:
        raise PlanError(f"slots file {p} does not exist") from None


def schedule_sites(result: RankResult) -> dict[int, Site]:
    """schedule.Site per ranked site with a position; complaints = citizen tips or a pin."""
    out = {}
    for sid, s in result.site_info.items():
        if s.lat is None or s.lon is None:
            continue
        out[sid] = Site(s.lat, s.lon, s.street, complaints=result.tips.get(sid, 0) > 0 or sid in result.pinned,
                        areas=frozenset({s.municipality, s.police_area}), name=s.name)
    return out


def draw_plan(result: RankResult, slots: list[PatrolSlot], seed: int, planner: PlannerSettings,
              tz: str) -> tuple[Plan, dict[int, Site]]:
    """Draw controls from the ranked cells (weight = total score). Pure: same input, same plan."""
    sites = schedule_sites(result)
    c = result.ranking.columns
    keep = np.isin(c["site_id"], list(sites))
    plan = plan_controls(slots, c["site_id"][keep], c["direction"][keep], c["hour_of_week"][keep],
                         c["total"][keep], sites, np.random.default_rng(seed), planner.schedule_rules(), tz)
    return plan, sites


def store_plan(conn: psycopg.Connection, plan: Plan, result: RankResult, slots: list[PatrolSlot], seed: int,
               actor: str, tz: str, planner: PlannerSettings) -> tuple[int, datetime]:
    """Insert the plan, its controls and an audit row; returns (plan id, created_at). No commit."""
    days = [s.day for s in slots]
    slot_json = [{"date": s.day.isoformat(), "start": s.start.strftime("%H:%M"), "end": s.end.strftime("%H:%M"),
                  "units": s.units} for s in slots]
    plan_id, created_at = conn.execute(QUERIES["planner_plan_insert"], {
        "created_by": actor, "data_from": result.period.start, "data_to": result.period.end,
        "first_day": min(days), "last_day": max(days), "seed": seed, "time_zone": tz, "slots": Jsonb(slot_json),
        "pinned": list(result.pinned), "excluded": list(result.excluded), "unmet": list(plan.unmet),
        "settings": Jsonb(json.loads(planner.model_dump_json())),
    }).fetchone()
    with conn.cursor() as cur:
        cur.executemany(QUERIES["planner_planned_control_insert"], [
            {"plan_id": plan_id, "site_id": c.site_id, "direction": c.direction, "start_time": c.start,
             "end_time": c.end, "unit": c.unit, "slot": c.slot, "hour_of_week": c.hour_of_week,
             "score": c.weight, "reason": c.reason} for c in plan.controls])
    conn.execute(QUERIES["planner_audit"], {
        "actor": actor, "action": "plan.create", "entity": "plans", "entity_id": str(plan_id),
        "detail": Jsonb({"seed": seed, "controls": len(plan.controls), "unmet": len(plan.unmet),
                         "first_day": min(days).isoformat(), "last_day": max(days).isoformat(),
                         "data_from": result.period.start.isoformat(), "data_to": result.period.end.isoformat()})})
    return plan_id, created_at


def make_plan(conn: psycopg.Connection, planner: PlannerSettings, *, slots: list[PatrolSlot], seed: int,
              actor: str, tz: str, over_kmh: float = 6.0, period: Period | None = None,
              pins: tuple[int, ...] = (), excludes: tuple[int, ...] = ()) -> PlanOutcome:
    """Rank, draw and store a plan (the caller commits)."""
    if not slots:
        raise PlanError("no patrol slots: give --slots FILE or set planner.patrol_slots")
    result = rank(conn, planner, over_kmh=over_kmh, period=period, pins=pins, excludes=excludes)
    plan, sites = draw_plan(result, slots, seed, planner, tz)
    plan_id, created_at = store_plan(conn, plan, result, slots, seed, actor, tz, planner)
    names = {i: s.name for i, s in result.site_info.items()}
    with conn.cursor(row_factory=dict_row) as cur:  # a unit is at one place at a time: (start, unit) is unique
        stored = {(r["start_time"], r["unit"]): r["id"]
                  for r in cur.execute(QUERIES["plans_item_ids"], {"plan_id": plan_id})}
    ids = tuple(stored.get((c.start, c.unit)) for c in plan.controls)
    return PlanOutcome(plan_id, created_at, plan, tuple(slots), seed, result, names, sites, tz, actor, ids)


MAX_WEEKS = 12


def check_weeks(weeks: int) -> None:
    """Weeks of default patrol slots: 1..12, else a PlanError naming the value."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise PlanError(f"weeks {weeks} must be between 1 and {MAX_WEEKS}",
                        errors=[{"record": None, "field": "weeks", "value": weeks,
                                 "reason": f"must be between 1 and {MAX_WEEKS}"}])


def propose_plan(conn: psycopg.Connection, planner: PlannerSettings, *, now: datetime, tz: str, actor: str,
                 slots: list[PatrolSlot] | None = None, first_day: date | None = None, weeks: int = 1,
                 seed: int | None = None, over_kmh: float = 6.0, period: Period | None = None,
                 pins: tuple[int, ...] = (), excludes: tuple[int, ...] = ()) -> PlanOutcome:
    """Draw and store a plan: the given slots, or the settings' weekly patrol slots for ``weeks`` weeks
    from ``first_day`` (default: the Monday after ``now`` in ``tz``). No seed: an unpredictable one,
    stored with the plan. The same data, slots and seed give the same plan. The caller commits."""
    check_weeks(weeks)
    if slots is None:
        first = first_day or next_monday(now.astimezone(ZoneInfo(tz)).date())
        slots = planner.slots_for(first, weeks)
    elif first_day is not None:
        check_slots_in_period(slots, first_day, first_day + timedelta(days=7 * weeks - 1))
    seed = secrets.randbelow(2**31) if seed is None else seed
    return make_plan(conn, planner, slots=slots, seed=seed, actor=actor, tz=tz, over_kmh=over_kmh,
                     period=period, pins=pins, excludes=excludes)
