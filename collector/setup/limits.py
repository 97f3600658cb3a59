"""Legal speed limits of a site over time, posted in km/h or mph.

A limit is set from a local date of the site (its midnight) and, optionally, to one (exclusive:
the day the next limit starts). Setting one closes the limit in force at its start, so periods
never overlap. A UK site is posted at 30 mph: the posted value and unit are stored as such;
``limit_kmh`` holds the km/h value rounded down (30 mph → 48) for code that reads km/h.

A limit may hold on some weekdays and local hours only (``hours="mon-fri 07-17"``: Monday to
Friday from 07:00 to 17:00): while it applies it overrides the standing limit. Standing and timed
limits each have their own history; setting one closes only the one of its kind in force.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Literal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from core.errors import Conflict
from sql import QUERIES

from . import audit, checks, refs

KMH_PER_MPH = 1.609344
RANGE = {"kmh": (5, 130), "mph": (5, 80)}

Unit = Literal["kmh", "mph"]
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(?P<days>[a-z,\-\s]+?)\s+(?P<lo>\d{1,2})(?::00)?\s*-\s*(?P<hi>\d{1,2})(?::00)?\s*$")


def parse_hours(text: str) -> tuple[list[int], int, int]:
    """``"mon-fri 07-17"`` → (ISO weekdays [1..5], 7, 17): days as names, ranges or a comma list
    (``"mon,wed,fri"``, ``"sat-sun"``), then local hours [from, to) with to up to 24."""
    def bad(reason: str) -> Exception:
        return checks.invalid("hours", text, reason)

    m = _HOURS.match(text.lower()) if isinstance(text, str) else None
    if m is None:
        raise bad('is not weekdays and hours like "mon-fri 07-17" (local hours from-to, to exclusive)')
    days: set[int] = set()
    for part in m["days"].replace(" ", "").split(","):
        ends = part.split("-")
        if len(ends) > 2 or any(e not in DAY_NAMES for e in ends):
            raise bad(f"day {part!r} is not one of {', '.join(DAY_NAMES)} or a range of them such as mon-fri")
        a, b = DAY_NAMES.index(ends[0]) + 1, DAY_NAMES.index(ends[-1]) + 1
        if b < a:
            raise bad(f"day range {part!r} runs backwards: write it from the earlier day, e.g. mon-fri")
        days.update(range(a, b + 1))
    lo, hi = int(m["lo"]), int(m["hi"])
    if not (0 <= lo <= 23 and 1 <= hi <= 24 and hi > lo):
        raise bad(f"hours {lo:02d}-{hi:02d} must run forwards within the day: from 00-23, to 01-24 and after from")
    return sorted(days), lo, hi


def format_hours(days: list[int] | None, lo: int | None, hi: int | None) -> str | None:
    """The canonical text of a timed limit's days and hours (``"mon-fri 07-17"``); None if standing."""
    if not days:
        return None
    runs: list[list[int]] = []
    for d in sorted(days):
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    text = ",".join(DAY_NAMES[r[0] - 1] if len(r) == 1 else f"{DAY_NAMES[r[0] - 1]}-{DAY_NAMES[r[-1] - 1]}"
                    for r in runs)
    return f"{text} {lo:02d}-{hi:02d}"


class LimitOut(BaseModel):
    """One legal-limit period of a site: [valid_from, valid_to), valid_to None while in force."""

    site_id: int
    site: str
    time_zone: str                      # the site's: from_date and to_date are its local dates
    posted_value: int
    posted_unit: Unit
    limit_kmh: int                      # the posted value in km/h, rounded down
    valid_from: datetime
    valid_to: datetime | None
    from_date: date                     # local date of the site on which it took effect
    to_date: date | None                # local date on which it ended (the next one's first day)
    hours: str | None = None            # weekdays and local hours it holds ("mon-fri 07-17"); None: always


class LimitSet(BaseModel):
    """A limit set, and the one it closed (None when none was in force at its start)."""

    limit: LimitOut
    closed: LimitOut | None


def kmh_of(value: int, unit: Unit) -> int:
    """The km/h value stored beside a posted limit, rounded down."""
    return value if unit == "kmh" else math.floor(value * KMH_PER_MPH)


def _out(r: dict) -> LimitOut:
    tz = r["time_zone"]
    return LimitOut(site_id=r["site_id"], site=r["site"], time_zone=tz, posted_value=r["posted_value"], posted_unit=r["posted_unit"],
                    limit_kmh=r["limit_kmh"], valid_from=r["valid_from"], valid_to=r["valid_to"],
                    from_date=checks.local_date(r["valid_from"], tz), to_date=checks.local_date(r["valid_to"], tz),
                    hours=format_hours(r["days"], r["hour_from"], r["hour_to"]))


def list_limits(conn: psycopg.Connection, site_id: int) -> list[LimitOut]:
    """The site's limit history, oldest first."""
    rows = conn.cursor(row_factory=dict_row).execute(QUERIES["setup_limits"], {"site_id": site_id}).fetchall()
    return [_out(r) for r in rows]


def _fmt(valid_from: datetime, valid_to: datetime | None, tz: str) -> str:
    end = checks.local_date(valid_to, tz)
    return f"{checks.local_date(valid_from, tz)} to {end if end else 'open'}"


def set_limit(conn: psycopg.Connection, *, actor: str, site_id: int, value: int, unit: Unit,
              from_date: date, to_date: date | None = None, hours: str | None = None) -> LimitSet:
    """Set the legal limit of a site from local day ``from_date`` (to ``to_date``, exclusive, or
    open), closing the limit of its kind (standing, or timed with ``hours``) in force at that
    start. Never commits."""
    site = refs.site_by_id(conn, site_id)
    timed = hours is not None
    days, hour_from, hour_to = parse_hours(hours) if timed else (None, None, None)
    kind = f"timed limit ({format_hours(days, hour_from, hour_to)})" if timed else "limit"
    if unit not in RANGE:
        raise checks.invalid("unit", unit, "must be kmh or mph")
    lo, hi = RANGE[unit]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise checks.invalid("posted_value", value, f"a limit in {unit} must be a whole number {lo}–{hi}")
    valid_from = checks.instant(checks.local_midnight(from_date, site.time_zone), "from")
    valid_to = None
    if to_date is not None:
        valid_to = checks.instant(checks.local_midnight(to_date, site.time_zone), "to")
        if valid_to <= valid_from:
            raise checks.invalid("to", to_date.isoformat(), f"must be after the first day {from_date.isoformat()}")
    cur = conn.cursor(row_factory=dict_row)
    before = {r.valid_from: r for r in list_limits(conn, site_id) if (r.hours is not None) == timed}
    if valid_from in before:
        old = before[valid_from]
        raise Conflict(f"site {site.name!r} already has a {kind} of {old.posted_value} {old.posted_unit} from "
                       f"{from_date.isoformat()}; set the new one from another day",
                       errors=[{"record": None, "field": "from", "value": from_date.isoformat(),
                                "reason": "a limit starts that day already"}])
    in_force = cur.execute(QUERIES["setup_limit_in_force"], {"site_id": site_id, "at": valid_from,
                                                             "timed": timed}).fetchone()
    closed = None
    with conn.transaction():  # a savepoint: a refused limit leaves the one in force open
        if in_force is not None:
            conn.execute(QUERIES["setup_limit_close"], {"site_id": site_id, "valid_from": in_force["valid_from"],
                                                        "valid_to": valid_from, "timed": timed})
            closed = in_force["valid_from"]
        later = cur.execute(QUERIES["setup_limits_overlapping"], {"site_id": site_id, "valid_from": valid_from,
                                                                  "valid_to": valid_to, "timed": timed}).fetchall()
        if later:
            first = later[0]
            raise Conflict(
                f"site {site.name!r} has a {kind} of {first['posted_value']} {first['posted_unit']} from "
                f"{_fmt(first['valid_from'], first['valid_to'], site.time_zone)}, which a limit from "
                f"{_fmt(valid_from, valid_to, site.time_zone)} would overlap; give --to "
                f"{checks.local_date(first['valid_from'], site.time_zone)} (to) or set it from a later day",
                errors=[{"record": None, "field": "to", "value": to_date.isoformat() if to_date else None,
                         "reason": "overlaps a later limit"}])
        try:
            with conn.transaction():
                conn.execute(QUERIES["setup_limit_insert"], {
                    "site_id": site_id, "valid_from": valid_from, "valid_to": valid_to,
                    "limit_kmh": kmh_of(value, unit), "posted_value": value, "posted_unit": unit,
                    "days": days, "hour_from": hour_from, "hour_to": hour_to})
        except (psycopg.errors.ExclusionViolation, psycopg.errors.UniqueViolation):
            # another writer set an overlapping limit of this site at the same moment
            raise Conflict(f"site {site.name!r} got another limit overlapping {_fmt(valid_from, valid_to, site.time_zone)} "
                           "while this one was set: list them with `fartkoll limit list` and try again") from None
    after = {r.valid_from: r for r in list_limits(conn, site_id) if (r.hours is not None) == timed}
    out = LimitSet(limit=after[valid_from], closed=after[closed] if closed is not None else None)
    audit.record(conn, actor=actor, action="set", entity="speed_limit", entity_id=site_id,
                 detail=out.model_dump(mode="json"))
    return out
