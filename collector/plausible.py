"""The plausible-time rule: a record's time must lie between a configured earliest date and a
margin after the moment it was received (for importers: the import time). Pure: the caller
passes the receive time.

The database enforces a fixed, wider sane range too (see migration 0006), so even psql cannot
store a time at ``'infinity'`` or in year 9999.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

DEFAULT_EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
DEFAULT_FUTURE_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True)
class TimeRule:
    """Times before ``earliest`` or more than ``future_margin`` after the receive time are refused."""

    earliest: datetime = DEFAULT_EARLIEST
    future_margin: timedelta = DEFAULT_FUTURE_MARGIN

    def problem(self, t: datetime, received: datetime) -> str | None:
        """Why ``t`` is implausible for a record received at ``received``, or None if it is fine."""
        if t < self.earliest:
            return f"is before the earliest plausible time {self.earliest.date().isoformat()} (setting collector.earliest_time)"
        latest = received + self.future_margin
        if t > latest:
            return (f"is more than {_minutes(self.future_margin)} after the receive time "
                    f"{received.astimezone(timezone.utc).isoformat(timespec='seconds')} "
                    "(check the sign's clock; setting collector.future_margin_s)")
        return None


def _minutes(d: timedelta) -> str:
    s = int(d.total_seconds())
    return f"{s // 60} min" if s % 60 == 0 else f"{s} s"
