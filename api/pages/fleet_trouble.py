"""What is wrong with each sign of the fleet, and the fleet sorted by it (pure: ``now`` is given)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from collector.protocols import PROTOCOLS
from collector.setup.signs import SignOut
from planner.fleet import SignStatus

SILENT_AFTER = timedelta(hours=2)
LOW_BATTERY_V = 11.8
CLOCK_OFF_S = 5.0


@dataclass(frozen=True)
class Trouble:
    key: str          # catalogue key of the trouble's name: trouble_<key>
    weight: int       # 3 the sign is silent, 2 its figures are wrong or soon gone, 1 worth a look
    detail: str = ""


@dataclass(frozen=True)
class FleetRow:
    status: SignStatus
    sign: SignOut | None
    last_seen: datetime | None
    time_zone: str
    troubles: list[Trouble]

    @property
    def weight(self) -> int:
        return sum(t.weight for t in self.troubles)


def troubles(s: SignStatus, sign: SignOut | None, *, now: datetime) -> list[Trouble]:
    """What is wrong with a sign, worst first (pure: ``now`` is given)."""
    found = []
    seen = max((t for t in (s.last_heartbeat, s.last_data_hour) if t is not None), default=None)
    if seen is None:
        found.append(Trouble("never_seen", 3))
    elif now - seen > SILENT_AFTER:
        found.append(Trouble("silent", 3, f"{(now - seen) / timedelta(hours=1):.0f}"))
    if s.site_id is None:
        found.append(Trouble("not_deployed", 1))
    if s.limit_mismatch:
        found.append(Trouble("limit_mismatch", 2, f"{s.configured_limit_kmh}/{s.legal_limit_kmh}"))
    if s.battery_v is not None and s.battery_v < LOW_BATTERY_V:
        found.append(Trouble("battery_low", 2, f"{s.battery_v:.1f}"))
    if s.hours_without_data_7d > 0 and s.site_id is not None:
        found.append(Trouble("gaps", 2 if s.hours_without_data_7d > 24 else 1, str(s.hours_without_data_7d)))
    if s.clock_offset_s is not None and abs(s.clock_offset_s) > CLOCK_OFF_S:
        found.append(Trouble("clock_off", 2 if abs(s.clock_offset_s) > 60 else 1, f"{s.clock_offset_s:+.0f}"))
    if sign is not None and sign.protocol not in PROTOCOLS:
        found.append(Trouble("protocol_unknown", 1, sign.protocol))
    return sorted(found, key=lambda t: -t.weight)


def fleet_rows(statuses: list[SignStatus], by_id: dict[int, SignOut], *, now: datetime, default_tz: str) -> list[FleetRow]:
    """The fleet, the most troubled sign first, then the longest silent."""
    rows = []
    for s in statuses:
        sign = by_id.get(s.sign_id)
        seen = max((t for t in (s.last_heartbeat, s.last_data_hour) if t is not None), default=None)
        tz = sign.deployment.time_zone if sign is not None and sign.deployment is not None else default_tz
        rows.append(FleetRow(s, sign, seen, tz, troubles(s, sign, now=now)))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return sorted(rows, key=lambda r: (-r.weight, r.last_seen or epoch, r.status.serial))


def local(t: datetime | None, tz: str) -> str:
    """A time as the site's local time with its zone, e.g. 2026-05-01 14:05 CEST."""
    if t is None:
        return "–"
    return t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")
