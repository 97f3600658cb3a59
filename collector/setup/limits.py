"""Legal speed limits of a site over time, posted in km/h or mph.

A limit is set from a local date of the site (its midnight) and, optionally, to one (exclusive:
the day the next limit starts). Setting one closes the limit in force at its start, so periods
never overlap. A UK site is posted at 30 mph: the posted value and unit are stored as such;
``limit_kmh`` holds the km/h value rounded down (30 mph → 48) for code that reads km/h.
"""

from __future__ import annotations

import math
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
                    from_date=checks.local_date(r["valid_from"], tz), to_date=checks.local_date(r["valid_to"], tz))


def list_limits(conn: psycopg.Connection, site_id: int) -> list[LimitOut]:
    """The site's limit history, oldest first."""
    rows = conn.cursor(row_factory=dict_row).execute(QUERIES["setup_limits"], {"site_id": site_id}).fetchall()
    return [_out(r) for r in rows]


def _fmt(valid_from: datetime, valid_to: datetime | None, tz: str) -> str:
    end = checks.local_date(valid_to, tz)
    return f"{checks.local_date(valid_from, tz)} to {end if end else 'open'}"


def set_limit(conn: psycopg.Connection, *, actor: str, site_id: int, value: int, unit: Unit,
              from_date: date, to_date: date | None = None) -> LimitSet:
    """Set the legal limit of a site from local day ``from_date`` (to ``to_date``, exclusive, or
    open), closing the limit in force at that start. Never commits."""
    site = refs.site_by_id(conn, site_id)
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
    before = {r.valid_from: r for r in list_limits(conn, site_id)}
    if valid_from in before:
        old = before[valid_from]
        raise Conflict(f"site {site.name!r} already has a limit of {old.posted_value} {old.posted_unit} from "
                       f"{from_date.isoformat()}; set the new one from another day",
                       errors=[{"record": None, "field": "from", "value": from_date.isoformat(),
                                "reason": "a limit starts that day already"}])
    in_force = cur.execute(QUERIES["setup_limit_in_force"], {"site_id": site_id, "at": valid_from}).fetchone()
    closed = None
    with conn.transaction():  # a savepoint: a refused limit leaves the one in force open
        if in_force is not None:
            conn.execute(QUERIES["setup_limit_close"], {"site_id": site_id, "valid_from": in_force["valid_from"],
                                                        "valid_to": valid_from})
            closed = in_force["valid_from"]
        later = cur.execute(QUERIES["setup_limits_overlapping"], {"site_id": site_id, "valid_from": valid_from,
                                                                  "valid_to": valid_to}).fetchall()
        if later:
            first = later[0]
            raise Conflict(
                f"site {site.name!r} has a limit of {first['posted_value']} {first['posted_unit']} from "
                f"{_fmt(first['valid_from'], first['valid_to'], site.time_zone)}, which a limit from "
                f"{_fmt(valid_from, valid_to, site.time_zone)} would overlap; give --to "
                f"{checks.local_date(first['valid_from'], site.time_zone)} (to) or set it from a later day",
                errors=[{"record": None, "field": "to", "value": to_date.isoformat() if to_date else None,
                         "reason": "overlaps a later limit"}])
        try:
            with conn.transaction():
                conn.execute(QUERIES["setup_limit_insert"], {
                    "site_id": site_id, "valid_from": valid_from, "valid_to": valid_to,
                    "limit_kmh": kmh_of(value, unit), "posted_value": value, "posted_unit": unit})
        except (psycopg.errors.ExclusionViolation, psycopg.errors.UniqueViolation):
            # another writer set an overlapping limit of this site at the same moment
            raise Conflict(f"site {site.name!r} got another limit overlapping {_fmt(valid_from, valid_to, site.time_zone)} "
                           "while this one was set: list them with `fartkoll limit list` and try again") from None
    after = {r.valid_from: r for r in list_limits(conn, site_id)}
    out = LimitSet(limit=after[valid_from], closed=after[closed] if closed is not None else None)
    audit.record(conn, actor=actor, action="set", entity="speed_limit", entity_id=site_id,
                 detail=out.model_dump(mode="json"))
    return out
