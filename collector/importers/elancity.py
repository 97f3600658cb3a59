"""Elan City sign exports (SQLite ``<MAC>-ELANCITY_RADAR__.db``) into vehicle passes.

``measure(meas_id, meas_date unix s UTC, meas_speed in the sign's unit, meas_direction 1
approaching / 0 receding)``; a row with meas_date 0 and speed 0 (``0|0|2``) is a sentinel, not
a vehicle. Each ``campaign(camp_id, camp_date_begin, camp_date_end, camp_title)`` becomes a
deployment of the sign at a site named by the title, unless one site is given for everything.
Campaign dates are taken as unix seconds (or ISO text, UTC): unsure, the real schema only names
them. The unit is the sign's setting and is never guessed. Keys come from each vehicle's
content (see :mod:`.perpass`), not ``meas_id``: another export of the same sign, whose counter
may have restarted, stores only the vehicles that are new.

A file that is not SQLite, has another schema or a damaged page fails with a message naming the
file and, once vehicles were read, how far it got; no SQLite error leaves this module.
"""

from __future__ import annotations

import bisect
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import psycopg

from collector.passes import Direction, VehiclePass
from collector.plausible import TimeRule
from collector.units import to_kmh, unit_name

from . import columns, places
from .perpass import store_passes
from .report import ImportSummary, Problem

UTC = timezone.utc
_MAC = re.compile(r"^(?P<mac>[0-9A-Za-z:_.-]+?)-ELANCITY", re.I)
DIRECTIONS = {1: Direction.APPROACHING, 0: Direction.RECEDING}


@dataclass(frozen=True)
class Campaign:
    camp_id: int
    begin: datetime
    end: datetime | None          # last instant of the campaign (inclusive); None: not closed
    title: str


def serial_from_filename(path: str) -> str | None:
    """The sign's MAC address from ``<MAC>-ELANCITY_RADAR__.db`` (None when the name differs)."""
    m = _MAC.match(Path(path).name)
    return m.group("mac").upper() if m else None


def _instant(value: object, what: str) -> datetime | None:
    if value is None or value == "" or value == 0:
        return None
    try:
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
            return datetime.fromtimestamp(int(value), UTC)
        t = datetime.fromisoformat(str(value).strip())
        return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise places.ImportFailed(f"{what}={value!r} is neither unix seconds nor an ISO date: "
                                  "give --site to import everything onto one site") from None


def read_campaigns(db: sqlite3.Connection) -> list[Campaign]:
    """The export's campaigns in start order ([] when the table is missing)."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'campaign'").fetchone():
        return []
    out = []
    try:
        rows = db.execute("SELECT camp_id, camp_date_begin, camp_date_end, camp_title FROM campaign "
                          "ORDER BY camp_date_begin, camp_id").fetchall()
    except sqlite3.Error as e:
        raise places.ImportFailed(f"the campaign table is not an Elan City one ({e}): expected campaign(camp_id, "
                                  "camp_date_begin, camp_date_end, camp_title); give --site to ignore it") from None
    for camp_id, begin, end, title in rows:
        b = _instant(begin, f"campaign {camp_id} camp_date_begin")
        if b is None:
            raise places.ImportFailed(f"campaign {camp_id} has no camp_date_begin ({begin!r}): give --site to import "
                                      "everything onto one site")
        e = _instant(end, f"campaign {camp_id} camp_date_end")
        if e is not None and e < b:
            raise places.ImportFailed(f"campaign {camp_id}: camp_date_end={end!r} is before camp_date_begin={begin!r}: "
                                      "give --site to import everything onto one site")
        out.append(Campaign(camp_id, b, e, str(title if title is not None else "").strip()))
    return out


def is_sentinel(meas_date: int, meas_speed: int, meas_direction: int) -> bool:
    """The ``0|0|2`` rows: no time and no speed, not a vehicle."""
    return meas_date == 0 and meas_speed == 0


def to_pass(row: tuple, *, unit: str, sign_id: int, rule: TimeRule, received: datetime) -> VehiclePass | Problem:
    """One ``measure`` row as a pass (site and display still to be set; no key: it comes from
    the content), or the problem with it."""
    meas_id, meas_date, meas_speed, meas_direction = row
    record = f"meas_id {meas_id}"
    if isinstance(meas_direction, bool) or meas_direction not in DIRECTIONS:
        return Problem(record, "meas_direction", meas_direction, "must be 1 (approaching) or 0 (receding)")
    if not isinstance(meas_date, int) or meas_date <= 0:
        return Problem(record, "meas_date", meas_date, "must be unix seconds after 1970")
    try:
        t = datetime.fromtimestamp(meas_date, UTC)
    except (ValueError, OverflowError, OSError):
        return Problem(record, "meas_date", meas_date, "is not a representable time")
    why = rule.problem(t, received)
    if why:
        return Problem(record, "meas_date", meas_date, f"{t.isoformat()} {why}")
    if not isinstance(meas_speed, (int, float)) or isinstance(meas_speed, bool) or not meas_speed > 0:
        return Problem(record, "meas_speed", meas_speed, f"must be a speed above 0 {unit}")
    try:
        speed = columns.speed_kmh(to_kmh(meas_speed, unit))
    except OverflowError:
        speed = "not a finite number"
    if isinstance(speed, str):
        return Problem(record, "meas_speed", meas_speed, f"{speed} ({unit} in the file)")
    return VehiclePass(time=t, speed_kmh=speed, direction=DIRECTIONS[meas_direction], sign_id=sign_id)


def _campaign_spans(db: sqlite3.Connection, campaigns: list[Campaign], latest: int) -> list[tuple[Campaign, datetime, datetime]]:
    """Each campaign with the half-open span of its deployment: [begin, end + 1 s), or for a
    campaign without an end, up to the next campaign's start or one second after its last vehicle
    (at or before ``latest``, unix seconds: the latest plausible time)."""
    spans = []
    cap = datetime.fromtimestamp(latest, UTC)
    for i, c in enumerate(campaigns):
        if c.begin > cap:
            raise places.ImportFailed(f"campaign {c.camp_id}: camp_date_begin {c.begin.isoformat()} is after the latest "
                                      "plausible time: give --site to import everything onto one site")
        if c.end is not None:
            spans.append((c, c.begin, min(c.end, cap) + timedelta(seconds=1)))
            continue
        nxt = campaigns[i + 1].begin if i + 1 < len(campaigns) else None
        last = db.execute("SELECT max(meas_date) FROM measure WHERE typeof(meas_date) = 'integer' AND meas_date >= ? "
                          "AND meas_date <= ? AND (? IS NULL OR meas_date < ?)",
                          (int(c.begin.timestamp()), latest, nxt and int(nxt.timestamp()), nxt and int(nxt.timestamp()))).fetchone()[0]
        end = datetime.fromtimestamp(last, UTC) + timedelta(seconds=1) if last else c.begin + timedelta(seconds=1)
        spans.append((c, c.begin, min(end, nxt) if nxt else end))
    return spans


def import_elancity(conn: psycopg.Connection, path: str, *, unit: str, area: places.Area, rule: TimeRule,
                    received: datetime, site: str | None = None, display: int = 0, serial: str | None = None,
                    time_zone: str = "Europe/Stockholm",
                    after_batch: Callable[[ImportSummary], object] = lambda s: None) -> ImportSummary:
    """Import an Elan City export. ``unit`` is the sign's speed unit; ``site`` puts every vehicle
    on one site (created when missing), else each campaign title names a site. Vehicles timed
    outside ``rule`` for an import at ``received`` are rejected. Never commits."""
    try:
        unit = unit_name(unit)
    except ValueError as e:
        raise places.ImportFailed(f"--unit: {e}") from None
    serial = serial or serial_from_filename(path)
    if not serial:
        raise places.ImportFailed(f"{path}: no MAC address in the file name (expected <MAC>-ELANCITY_RADAR__.db): "
                                  "give --sign SERIAL")
    if not Path(path).is_file():
        raise places.ImportFailed(f"{path}: no such file")
    summary = ImportSummary("elancity", path, unit="measure rows", stored_unit="vehicles")
    try:
        db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise places.ImportFailed(f"{path}: cannot open as SQLite ({e})") from None
    try:
        return _import(conn, db, path, summary, unit=unit, area=area, rule=rule, received=received, site=site,
                       display=display, serial=serial, time_zone=time_zone, after_batch=after_batch)
    except sqlite3.Error as e:
        got = f" after {summary.read:,} measure rows" if summary.read else ""
        raise places.ImportFailed(f"{path}: the file is damaged or not an Elan City export{got} ({e})") from None
    finally:
        db.close()


def _import(conn: psycopg.Connection, db: sqlite3.Connection, path: str, summary: ImportSummary, *, unit: str,
            area: places.Area, rule: TimeRule, received: datetime, site: str | None, display: int, serial: str,
            time_zone: str, after_batch: Callable[[ImportSummary], object]) -> ImportSummary:
    mode = "display" if display else "stealth"
    summary.note(f"display mode: {mode}" + (" (the default; give --display display if the sign showed speeds)" if not display else ""))
    summary.note(f"speeds read as {unit}")
    earliest = max(int(rule.earliest.timestamp()), 1)
    latest = int((received + rule.future_margin).timestamp())
    try:
        first, last, total = db.execute(
            "SELECT min(meas_date), max(meas_date), count(*) FROM measure WHERE typeof(meas_date) = 'integer' "
            "AND meas_date BETWEEN ? AND ?", (earliest, latest)).fetchone()
        summary.total = db.execute("SELECT count(*) FROM measure").fetchone()[0]
        db.execute("SELECT meas_id, meas_date, meas_speed, meas_direction FROM measure LIMIT 0")
    except sqlite3.DatabaseError as e:
        raise places.ImportFailed(f"{path}: not an Elan City export ({e}): expected a table "
                                  "measure(meas_id, meas_date, meas_speed, meas_direction)") from None
    sign_id, new_sign = places.sign(conn, serial, vendor="Elan City", model="radar sign", protocol="elancity-export", unit=unit)
    summary.made("signs", int(new_sign))
    # where each vehicle goes: (start, end, site_id) spans sorted by start
    spans: list[tuple[datetime, datetime, int]] = []
    if site is not None:
        if total:
            site_id, new = places.site(conn, area, site, site, time_zone)
            summary.made("sites", int(new))
            begin = datetime.fromtimestamp(first, UTC)
            end = datetime.fromtimestamp(last, UTC) + timedelta(seconds=1)
            _, new_dep = places.deployment(conn, sign_id=sign_id, site_id=site_id, valid_from=begin, valid_to=end,
                                           display=display, note=f"imported from {Path(path).name}",
                                           what=f"sign {serial} at site {site!r}")
            summary.made("deployments", int(new_dep))
            spans.append((begin, end, site_id))
    else:
        campaigns = read_campaigns(db)
        if not campaigns and total:
            raise places.ImportFailed(f"{path}: the export has no campaigns to name sites by: give --site NAME")
        for c, begin, end in _campaign_spans(db, campaigns, latest):
            name = c.title or f"{serial} campaign {c.camp_id}"
            site_id, new = places.site(conn, area, name, name, time_zone)
            summary.made("sites", int(new))
            _, new_dep = places.deployment(conn, sign_id=sign_id, site_id=site_id, valid_from=begin, valid_to=end,
                                           display=display, note=f"campaign {c.camp_id} of {Path(path).name}",
                                           what=f"campaign {c.camp_id} {name!r}")
            summary.made("deployments", int(new_dep))
            spans.append((begin, end, site_id))
    spans.sort()
    starts = [s[0] for s in spans]
    after_batch(summary)

    def items() -> Iterator[tuple[str, VehiclePass] | Problem]:
        cur = db.execute("SELECT meas_id, meas_date, meas_speed, meas_direction FROM measure ORDER BY meas_date, meas_id")
        for row in cur:
            if is_sentinel(row[1], row[2], row[3]):
                summary.skipped.append(Problem(f"meas_id {row[0]}", "meas_date|meas_speed|meas_direction",
                                               f"{row[1]}|{row[2]}|{row[3]}", "sentinel row, not a vehicle"))
                summary.read += 1
                summary.done += 1
                continue
            p = to_pass(row, unit=unit, sign_id=sign_id, rule=rule, received=received)
            if isinstance(p, Problem):
                yield p
                continue
            i = bisect.bisect_right(starts, p.time) - 1
            if i < 0 or p.time >= spans[i][1]:
                yield Problem(f"meas_id {row[0]}", "meas_date", row[1],
                              f"{p.time.isoformat()} is outside every campaign: give --site to import it")
                continue
            yield f"meas_id {row[0]}", VehiclePass(time=p.time, speed_kmh=p.speed_kmh, direction=p.direction,
                                                   sign_id=sign_id, site_id=spans[i][2], display=display)

    store_passes(conn, items(), summary, source="elancity", rule=rule, received=received, time_field="meas_date",
                 after_batch=after_batch)
    return summary
