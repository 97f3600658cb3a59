"""Traffic Logix SafePace cloud statistics (saved JSON bodies or pulled by
:mod:`collector.importers.trafficlogix_api`) into ``binned_counts`` and ``rollup_hourly``.

Body: ``{"LocInfo": {"Location": {"geocode": "(43.66,-79.37)", "address": …, "name": "Dundas St W
SB 16101191"}, "raw_records": [{"datetime": "2018-10-29 10:00:00", "counter": [{"speed": 47,
"count": 2}]}]}}``. Each counter is ``count`` vehicles at an exact integer speed (km/h with
``speed_units/0``) in a bin of about 5 minutes starting at ``datetime`` (the account's local time,
hence ``tz``). Stored as the 1 km/h bin [v, v+1) over [start, start + 5 min).

Rollups: yes. A counter is per-vehicle speeds binned by time, finer than the hourly rollup in
both time and speed, so adding it to ``rollup_hourly`` (hour of the bin's start) loses nothing the
rollup keeps, and the planner, which reads only rollups, sees these sites like any other. It is
done in the same statement as the insert and only for bins that were new, so a re-import adds
nothing. Consequence: for these sites rollup n counts binned vehicles, not ``readings`` rows —
the invariant is sum(rollup n) = count(readings) + sum(binned_counts.count WHERE source =
'trafficlogix'). A bin straddling an hour boundary counts in the hour it starts.

Direction: the heading in the sign's name (NB/SB/EB/WB) is the way the traffic the sign faces
travels, so it goes into the deployment's ``approach_heading`` and the counts are stored as
approaching; a name without a heading gives direction unknown.

Keys: ``<location name>|<local start>|<speed>`` — what the counter says (saved files carry no
location id, so the name keys both files and pulls); the file's bytes, layout and order play no
part. Several counters for the same (start, speed) in one body are summed; a sum beyond the
column (integer) is rejected, and so are starts outside the plausible-time rule.

Any JSON is read without a traceback: a body of another shape is a rejected record naming the
path into the body (``raw_records[3].counter``) and the value found.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

import psycopg

from collector.plausible import TimeRule

from . import columns, places
from .binned import BinnedCount, store_bins
from .report import ImportSummary, Problem

SOURCE = "trafficlogix"
BIN = timedelta(minutes=5)
_HEADING = re.compile(r"\b(NB|SB|EB|WB)\b", re.I)
_GEOCODE = re.compile(r"^\(\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)$")
BATCH_BINS = 20_000


@dataclass(frozen=True)
class Location:
    name: str
    address: str
    lat: float | None
    lon: float | None

    @property
    def heading(self) -> str:
        m = _HEADING.search(self.name)
        return m.group(1).upper() if m else ""

    @property
    def street(self) -> str:
        """The name without heading and trailing sign number: ``Dundas St W SB 16101191`` → ``Dundas St W``."""
        s = _HEADING.sub(" ", self.name)
        s = re.sub(r"\s+\d+\s*$", "", s)
        return re.sub(r"\s+", " ", s).strip() or self.name


@dataclass(frozen=True)
class Counter:
    start: datetime     # aware
    local: str          # the datetime as the cloud wrote it
    speed: int
    count: int


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def parse_body(body: Any, record: str, tz: ZoneInfo, rule: TimeRule, received: datetime
               ) -> tuple[Location | None, list[Counter], list[Problem], int]:
    """A statistics body as (location, counters, problems, counters read). ``record`` names the
    body (file and index, or location and day) in problems; starts are checked with ``rule``
    for an import at ``received``."""
    if isinstance(body, dict) and "error_message" in body and "LocInfo" not in body:
        return None, [], [Problem(record, "error_message", _short(body["error_message"]), "the cloud answered with an error")], 0
    info = body.get("LocInfo") if isinstance(body, dict) else None
    loc = info.get("Location") if isinstance(info, dict) else None
    if not isinstance(loc, dict):
        return None, [], [Problem(record, "LocInfo.Location", _short(body), "not a SafePace statistics body "
                                  '(expected {"LocInfo": {"Location": {...}, "raw_records": [...]}})')], 0
    raw = info.get("raw_records")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        return None, [], [Problem(record, "LocInfo.raw_records", _short(raw), "must be a list of records")], 0
    name = str(loc.get("name") or "").strip() if isinstance(loc.get("name"), (str, int, type(None))) else ""
    if not name:
        return None, [], [Problem(record, "LocInfo.Location.name", _short(loc.get("name")), "empty: the sign cannot be named")], 0
    lat = lon = None
    m = _GEOCODE.match(str(loc.get("geocode") or "").strip())
    if m:
        lat, lon = float(m.group(1)), float(m.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            lat = lon = None
    location = Location(name, str(loc.get("address") or "").strip(), lat, lon)
    problems: list[Problem] = []
    sums: dict[tuple[str, int], int] = defaultdict(int)
    starts: dict[str, datetime] = {}
    where_of: dict[tuple[str, int], str] = {}
    read = 0
    for i, rec in enumerate(raw):
        where = f"{record} raw_records[{i}]"
        if not isinstance(rec, dict):
            read += 1
            problems.append(Problem(where, "raw_records", _short(rec), "not a record {\"datetime\": …, \"counter\": [...]}"))
            continue
        stamp, counters = rec.get("datetime"), rec.get("counter")
        if counters is None:
            counters = []
        if not isinstance(counters, list):
            read += 1
            problems.append(Problem(where, "counter", _short(counters), "must be a list of {speed, count}"))
            continue
        try:
            start = datetime.strptime(str(stamp), "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
            why = rule.problem(start, received)
        except (ValueError, OverflowError):
            read += len(counters) or 1
            problems.append(Problem(where, "datetime", _short(stamp), "not YYYY-MM-DD HH:MM:SS"))
            continue
        if why:
            read += len(counters) or 1
            problems.append(Problem(where, "datetime", stamp, why))
            continue
        for j, c in enumerate(counters):
            read += 1
            speed, count = (c.get("speed"), c.get("count")) if isinstance(c, dict) else (None, None)
            if not isinstance(speed, int) or isinstance(speed, bool) or not 0 < speed < 300:
                problems.append(Problem(f"{where} counter[{j}]", "speed", _short(speed) if not isinstance(speed, int) else speed,
                                        "must be a whole km/h above 0 and below 300"))
                continue
            n = columns.count(count)
            if isinstance(n, str):
                problems.append(Problem(f"{where} counter[{j}]", "count", count if isinstance(count, int) else _short(count), n))
            elif n:
                sums[(str(stamp), speed)] += n
                starts[str(stamp)] = start
                where_of.setdefault((str(stamp), speed), f"{where} counter[{j}]")
    counters_out = []
    for (s, v), n in sorted(sums.items()):
        ok = columns.count(n)
        if isinstance(ok, str):
            problems.append(Problem(where_of[(s, v)], "count", n, f"the counters at {s} for {v} km/h add up to {n:,}, which {ok}"))
        else:
            counters_out.append(Counter(starts[s], s, v, n))
    return location, counters_out, problems, read


def import_bodies(conn: psycopg.Connection, bodies: Iterable[tuple[str, Any] | Problem], *, tz: str,
                  area: places.Area, rule: TimeRule, received: datetime, display: int = 1, target: str = "",
                  after_batch: Callable[[ImportSummary], object] = lambda s: None) -> ImportSummary:
    """Store the counters of each body once (and in the rollups). ``bodies`` yields (record label,
    parsed JSON) or a :class:`Problem` for a body that could not be fetched. Never commits."""
    zone = ZoneInfo(tz)
    summary = ImportSummary("trafficlogix", target, unit="counters", stored_unit="bins")
    summary.note(f"times read as {tz}; display mode: {'display' if display else 'stealth'}")
    summary.note("each counter stored as a 1 km/h bin over 5 minutes and added to the hourly rollups")
    for item in bodies:
        if isinstance(item, Problem):
            summary.rejected.append(item)
            continue
        record, body = item
        location, counters, problems, read = parse_body(body, record, zone, rule, received)
        summary.read += read
        summary.rejected.extend(problems)
        if location is None or not counters:
            summary.done += read
            after_batch(summary)
            continue
        site_id, new_site = places.site(conn, area, location.street, location.name, tz)
        summary.made("sites", int(new_site))
        sign_id, new_sign = places.sign(conn, f"TL {location.name}", vendor="Traffic Logix", model="SafePace",
                                        protocol="safepace-cloud", unit="kmh")
        summary.made("signs", int(new_sign))
        _, new_dep = places.deployment(
            conn, sign_id=sign_id, site_id=site_id, valid_from=min(c.start for c in counters),
            valid_to=max(c.start for c in counters) + BIN, display=display, approach_heading=location.heading,
            note="Traffic Logix SafePace cloud", what=f"{record} (sign {location.name!r})", bridge_gaps=True)
        summary.made("deployments", int(new_dep))
        direction = 1 if location.heading else 0
        if not location.heading:
            summary.note(f"{location.name!r}: no NB/SB/EB/WB in the name: direction stored as unknown")
        for k in range(0, len(counters), BATCH_BINS):
            chunk = counters[k:k + BATCH_BINS]
            w, refused = store_bins(conn, [
                (f"{record} {c.local} {c.speed} km/h", BinnedCount(
                    site_id=site_id, sign_id=sign_id, direction=direction, display=display,
                    period_start=c.start, period_end=c.start + BIN, speed_lo=c.speed, speed_hi=c.speed + 1,
                    count=c.count, source=SOURCE, source_key=f"{location.name}|{c.local}|{c.speed}"))
                for c in chunk], rollup=True)
            summary.stored += w.inserted
            summary.duplicates += w.duplicates
            summary.vehicles_stored += w.vehicles
            summary.rejected.extend(Problem(label, "count", b.count, reason) for label, b, reason in refused)
        summary.done += read
        after_batch(summary)
    return summary


def read_json(path: str) -> Any:
    """A saved file's JSON; :class:`places.ImportFailed` naming the file, line, column and byte
    offset when it is not UTF-8 or not JSON."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise places.ImportFailed(f"{path}: {e.strerror}") from None
    if not data.strip():
        raise places.ImportFailed(f"{path}: the file is empty (expected a SafePace statistics body in JSON)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise places.ImportFailed(f"{path}: byte {data[e.start:e.start + 1]!r} at line {line}, column {column} "
                                  f"(byte offset {e.start}) is not UTF-8, which JSON must be: convert the file to UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise places.ImportFailed(f"{path}: not JSON: {e.msg} at line {e.lineno}, column {e.colno} (byte offset "
                                  f"{len(text[:e.pos].encode())})") from None
    except ValueError as e:             # e.g. a number of more digits than Python converts
        raise places.ImportFailed(f"{path}: not JSON that can be read: {e}") from None
    except RecursionError:
        raise places.ImportFailed(f"{path}: not a SafePace statistics body: the JSON is nested too deeply") from None


def file_bodies(path: str, data: Any) -> list[tuple[str, Any]]:
    """The bodies in a saved JSON file: one body, or a list of them."""
    if isinstance(data, list):
        return [(f"{path}[{i}]", b) for i, b in enumerate(data)]
    return [(path, data)]
