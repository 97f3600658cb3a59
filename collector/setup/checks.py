"""Checking what a person typed before it reaches a table: time zones, local dates and times.
Each error names the field and the value and says what would be accepted."""

from __future__ import annotations

import difflib
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from core.errors import InvalidInput

# times outside this range are typing mistakes, not set-up dates
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def invalid(field: str, value: Any, reason: str, message: str | None = None) -> InvalidInput:
    """An :class:`InvalidInput` for one field, naming it and its value."""
    return InvalidInput(message or f"{field} {value!r}: {reason}",
                        errors=[{"record": None, "field": field, "value": value, "reason": reason}])


MAX_ID = 2**31 - 1                      # ids are PostgreSQL integers


def text(field: str, value: str, max_len: int = 200, *, required: bool = True) -> str:
    """``value`` stripped, if it is non-empty (when ``required``), at most ``max_len`` characters
    and free of control characters (a NUL cannot be stored; the others are typing accidents)."""
    value = value.strip()
    if required and not value:
        raise invalid(field, value, "must not be empty")
    if len(value) > max_len:
        raise invalid(field, value[:40] + "…", f"is longer than {max_len} characters ({len(value)})")
    bad = next((c for c in value if ord(c) < 32 and c not in "\n\t"), None)
    if bad is not None:
        raise invalid(field, value[:40], f"contains the control character U+{ord(bad):04X}")
    return value


def is_id(value: int | None) -> bool:
    """Whether ``value`` can be a row id (a positive PostgreSQL integer)."""
    return value is not None and 0 < value <= MAX_ID


def time_zone(value: str, field: str = "time_zone") -> str:
    """``value`` if it names an IANA time zone; the error suggests near names."""
    value = text(field, value, 100)
    try:
        ZoneInfo(value)
        return value
    except (ZoneInfoNotFoundError, ValueError):
        pass
    near = difflib.get_close_matches(value, sorted(available_timezones()), n=3)
    hint = f"; did you mean {', '.join(near)}?" if near else " such as Europe/Stockholm or Europe/London"
    raise invalid(field, value, "is not a known IANA time zone",
                  f"{field} {value!r} is not a known IANA time zone{hint}")


def local_midnight(day: date, tz: str) -> datetime:
    """The UTC instant at which local day ``day`` starts in zone ``tz``."""
    return datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(UTC)


def local_date(at: datetime | None, tz: str) -> date | None:
    """The local date of an instant in zone ``tz``."""
    return None if at is None else at.astimezone(ZoneInfo(tz)).date()


def instant(value: datetime, field: str) -> datetime:
    """``value`` as an aware UTC instant inside the sane range (a naive value is refused)."""
    if value.tzinfo is None:
        raise invalid(field, value.isoformat(), "needs a UTC offset or a zone")
    if not EARLIEST <= value < LATEST:
        raise invalid(field, value.isoformat(), f"is outside {EARLIEST:%Y}–{LATEST:%Y}")
    return value.astimezone(UTC)


def parse_local_time(typed: str, tz: str, field: str = "at") -> datetime:
    """What a person typed for a time at a site: ISO 8601 with an offset, or a local date
    (``2026-05-04``, local midnight) or local time (``2026-05-04T07:30``) in zone ``tz``."""
    try:
        value = datetime.fromisoformat(typed.strip())
    except ValueError:
        raise invalid(field, typed, "is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM[+HH:MM])") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return instant(value, field)
