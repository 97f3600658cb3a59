"""Export a plan's controls as iCalendar (RFC 5545) and CSV, returned as strings.

iCalendar: CRLF line ends, content lines folded at 75 octets (never inside a UTF-8 character),
TEXT escaped (backslash, semicolon, comma, newline), a stable UID per control, DTSTAMP passed
in by the caller. Times are UTC (``...Z``) by default; with ``use_tzid`` they are local with a
TZID and a VTIMEZONE built from the zone's transitions over the plan.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from core import i18n
from planner.hourofweek import DEFAULT_TZ, offset_transitions
from planner.schedule import Control, Site

PRODID = "-//Fartkoll//Planner//EN"
DIRECTIONS = {0: "unknown direction", 1: "approaching", 2: "receding"}


def escape_text(value: str) -> str:
    """RFC 5545 TEXT escaping (3.3.11)."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def fold(line: str, limit: int = 75) -> str:
    """Fold one content line into CRLF-joined pieces of at most ``limit`` octets (3.1)."""
    out, piece, size = [], [], 0
    room = limit
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > room:
            out.append("".join(piece))
            piece, size, room = [], 0, limit - 1  # continuation lines start with a space
        piece.append(ch)
        size += n
    out.append("".join(piece))
    return "\r\n ".join(out)


def _utc(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError(f"datetime {dt.isoformat()} has no time zone; pass an aware datetime")
    return dt.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def control_uid(c: Control, domain: str) -> str:
    """Stable UID: the same control (site, direction, start, unit) always gets the same one."""
    key = f"{c.site_id}|{c.direction}|{_utc(c.start)}|{c.unit}"
    return f"{hashlib.sha256(key.encode()).hexdigest()[:24]}@{domain}"


def _offset(seconds: int) -> str:
    sign = "+" if seconds >= 0 else "-"
    h, rest = divmod(abs(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h:02d}{m:02d}" + (f"{s:02d}" if s else "")


def vtimezone(tz: str, first: datetime, last: datetime) -> list[str]:
    """VTIMEZONE lines for ``tz`` with every offset change between ``first`` and ``last``."""
    zone = ZoneInfo(tz)
    starts, offsets = offset_transitions(int(first.timestamp()), int(last.timestamp()), zone)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{tz}"]
    for i, (start, off) in enumerate(zip(starts, offsets, strict=True)):
        before = offsets[i - 1] if i else off
        at = datetime.fromtimestamp(start, timezone.utc).astimezone(zone)
        kind = "DAYLIGHT" if at.dst() else "STANDARD"
        onset = datetime.fromtimestamp(start + before, timezone.utc) if i else datetime(1970, 1, 1)
        lines += [
            f"BEGIN:{kind}",
            f"DTSTART:{onset:%Y%m%dT%H%M%S}",
            f"TZOFFSETFROM:{_offset(before)}",
            f"TZOFFSETTO:{_offset(off)}",
            f"TZNAME:{at.tzname()}",
            f"END:{kind}",
        ]
    return lines + ["END:VTIMEZONE"]


def _title(c: Control, names: Mapping[int, str]) -> str:
    return f"{names.get(c.site_id, f'site {c.site_id}')} ({DIRECTIONS.get(c.direction, c.direction)})"


def to_icalendar(
    controls: Iterable[Control],
    dtstamp: datetime,
    *,
    site_names: Mapping[int, str] | None = None,
    sites: Mapping[int, Site] | None = None,
    uid_domain: str = "fartkoll.invalid",
    use_tzid: bool = False,
    tz: str = DEFAULT_TZ,
    calendar_name: str = "Fartkoll speed controls",
) -> str:
    """A VCALENDAR with one VEVENT per control. ``dtstamp``: when the plan was made (aware)."""
    controls = list(controls)
    names = site_names or {}
    zone = ZoneInfo(tz)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{escape_text(calendar_name)}"]
    if use_tzid and controls:
        lines += vtimezone(tz, min(c.start for c in controls), max(c.end for c in controls))

    def when(prop: str, dt: datetime) -> str:
        if use_tzid:
            return f"{prop};TZID={tz}:{dt.astimezone(zone):%Y%m%dT%H%M%S}"
        return f"{prop}:{_utc(dt)}"

    stamp = _utc(dtstamp)
    for c in controls:
        title = _title(c, names)
        desc = (f"Speed control, unit {c.unit}, chosen by {c.reason} (score {c.weight:.1f}).\n"
                f"Site {c.site_id}, direction {c.direction}.")
        lines += ["BEGIN:VEVENT", f"UID:{control_uid(c, uid_domain)}", f"DTSTAMP:{stamp}",
                  when("DTSTART", c.start), when("DTEND", c.end),
                  f"SUMMARY:{escape_text('Speed control: ' + title)}",
                  f"DESCRIPTION:{escape_text(desc)}",
                  f"LOCATION:{escape_text(names.get(c.site_id, f'site {c.site_id}'))}"]
        if sites and c.site_id in sites:
            lines.append(f"GEO:{sites[c.site_id].lat:.6f};{sites[c.site_id].lon:.6f}")
        lines += ["TRANSP:OPAQUE", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


CSV_COLUMNS = ("site_id", "site_name", "direction", "date", "start", "end", "start_utc", "end_utc",
               "unit", "slot", "hour_of_week", "score", "reason")


def to_csv(controls: Iterable[Control], site_names: Mapping[int, str] | None = None) -> str:
    """CSV (RFC 4180, CRLF) with local date/start/end and UTC instants, one row per control."""
    names = site_names or {}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for c in controls:
        w.writerow([c.site_id, names.get(c.site_id, ""), c.direction, c.start.date().isoformat(),
                    f"{c.start:%H:%M}", f"{c.end:%H:%M}",
                    c.start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    c.end.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    c.unit, c.slot, c.hour_of_week, f"{c.weight:.3f}", c.reason])
    return buf.getvalue()


def plan_calendar(view, page_url: str, uid_domain: str = "fartkoll.invalid") -> str:
    """A stored plan (planner.planning.PlanView) as iCalendar in the plan's language (catalogue
    ``core/i18n/plan.json``): site name, street, direction in words, why it was chosen, and a link
    to the plan's page (``URL`` and in the description)."""
    lang = view.language if view.language in i18n.LANGS else i18n.DEFAULT
    t = i18n.translator(lang)
    tz = view.time_zone
    zone = ZoneInfo(tz)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text(t('calendar_name', plan_id=view.plan_id))}"]
    if view.controls:
        lines += vtimezone(tz, min(c.start for c in view.controls), max(c.end for c in view.controls))
    stamp = _utc(view.created_at)
    for c in view.controls:
        direction = t(f"plan_direction_{c.direction}")
        desc = "\n".join((t("calendar_street", street=c.street),
                          t("calendar_where", site=c.site_name, direction=direction, unit=c.unit),
                          t("calendar_chosen", reason=t(f"plan_reason_{c.reason}"), score=i18n.number(c.score, lang, 1)),
                          t("calendar_plan_link", plan_id=view.plan_id, url=page_url)))
        uid = f"plan{view.plan_id}-item{c.id}@{uid_domain}"
        lines += ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{stamp}",
                  f"DTSTART;TZID={tz}:{c.start.astimezone(zone):%Y%m%dT%H%M%S}",
                  f"DTEND;TZID={tz}:{c.end.astimezone(zone):%Y%m%dT%H%M%S}",
                  f"SUMMARY:{escape_text(t('calendar_summary', site=c.site_name, direction=direction))}",
                  f"DESCRIPTION:{escape_text(desc)}", f"LOCATION:{escape_text(c.site_name + ', ' + c.street)}",
                  f"URL:{page_url}", "CLASS:CONFIDENTIAL", "TRANSP:OPAQUE", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


PLAN_CSV_COLUMNS = ("item", "site_id", "site_name", "street", "direction", "date", "start", "end", "utc_offset",
                    "unit", "reason", "score", "done_by_control")


def plan_csv(view) -> str:
    """A stored plan as CSV (RFC 4180, CRLF): local date and times with their UTC offset, one row per item."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(PLAN_CSV_COLUMNS)
    for c in view.controls:
        out.writerow([c.id, c.site_id, c.site_name, c.street, c.direction, c.start.date().isoformat(),
                      f"{c.start:%H:%M}", f"{c.end:%H:%M}", c.start.strftime("%z"), c.unit, c.reason,
                      f"{c.score:.3f}", c.control_id or ""])
    return buf.getvalue()
