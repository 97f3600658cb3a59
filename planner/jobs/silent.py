"""Silent signs: deployed, but no vehicle pass and no heartbeat for longer than a threshold.

A sign is expected to speak while it has an open deployment. Heartbeats count as life (a quiet
street at night sends no passes but the sign still reports). Each silence is alerted once: an
``audit_log`` row (action ``sign.silent``) records the sign and when it fell silent, and later
runs list the sign again without writing a second row. Nothing is e-mailed; the scheduler's log
and the audit log carry the alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg.types.json import Jsonb

from sql import QUERIES

DEFAULT_LOOKBACK = timedelta(days=31)
"""How far back the last pass of a silent sign is looked for."""


@dataclass(frozen=True)
class SilentSign:
    sign_id: int
    serial: str
    site_id: int
    site_name: str
    last_seen: datetime | None
    """Latest pass or heartbeat (None: none within the lookback)."""
    since: datetime
    """When it fell silent: ``last_seen``, or when it was set up at the site if it never spoke."""
    silent_hours: float
    new: bool = True
    """No earlier alert covers this silence."""

    def __str__(self) -> str:
        seen = f"last heard {self.last_seen:%Y-%m-%d %H:%M}Z" if self.last_seen else "never heard at this site"
        return (f"sign {self.serial} (id {self.sign_id}) at {self.site_name}: silent for {self.silent_hours:.1f} h, "
                f"{seen}" + ("" if self.new else " (already alerted)"))


def find_silent_signs(
    conn: psycopg.Connection, *, now: datetime, hours: float, lookback: timedelta = DEFAULT_LOOKBACK
) -> list[SilentSign]:
    """Signs with an open deployment at ``now`` and no pass or heartbeat in the ``hours`` before it."""
    if now.tzinfo is None:
        raise ValueError(f"`now` must be timezone-aware, got {now!r}")
    if hours <= 0:
        raise ValueError(f"silent threshold must be above 0 hours, got {hours}; set jobs.silent_hours")
    threshold = timedelta(hours=hours)
    rows = conn.execute(QUERIES["jobs_silent_candidates"],
                        {"now": now, "silent": threshold, "lookback": lookback}).fetchall()
    out = []
    for sign_id, serial, site_id, site_name, standing_since, last_hb, last_reading in rows:
        seen = [t for t in (last_hb, last_reading) if t is not None]
        last_seen = max(seen) if seen else None
        since = last_seen or standing_since
        if now - since <= threshold:
            continue  # a heartbeat in the window, or set up only recently
        out.append(SilentSign(sign_id, serial, site_id, site_name, last_seen, since,
                              (now - since).total_seconds() / 3600))
    return out


def _key(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat()


def alert_silent_signs(
    conn: psycopg.Connection, *, now: datetime, hours: float, lookback: timedelta = DEFAULT_LOOKBACK
) -> list[SilentSign]:
    """Find silent signs and write one audit row per new silence. Never commits.

    Returns every silent sign; ``new`` tells which ones got an audit row in this call.
    """
    found = find_silent_signs(conn, now=now, hours=hours, lookback=lookback)
    if not found:
        return []
    alerted = {(int(sid), since) for sid, since in conn.execute(
        QUERIES["jobs_silent_alerted"], {"sign_ids": [str(s.sign_id) for s in found]})}
    out = []
    for s in found:
        new = (s.sign_id, _key(s.since)) not in alerted
        if new:
            conn.execute(QUERIES["jobs_audit"], {
                "action": "sign.silent", "entity": "sign", "entity_id": str(s.sign_id),
                "detail": Jsonb({"serial": s.serial, "site_id": s.site_id, "site": s.site_name,
                                 "since": _key(s.since), "checked_at": _key(now),
                                 "silent_hours": round(s.silent_hours, 2), "threshold_hours": hours}),
            })
        out.append(SilentSign(s.sign_id, s.serial, s.site_id, s.site_name, s.last_seen, s.since,
                              s.silent_hours, new))
    return out


@dataclass(frozen=True)
class Gap:
    """A silence of one sign within a window: [start, end); ``to_window_end`` when it lasted to the end."""

    serial: str
    site_name: str
    start: datetime
    end: datetime
    to_window_end: bool


def silences(conn: psycopg.Connection, *, start: datetime, end: datetime, hours: float) -> list[Gap]:
    """Every silence longer than ``hours`` of a deployed sign within [start, end)."""
    if hours <= 0:
        raise ValueError(f"silent threshold must be above 0 hours, got {hours}; set jobs.silent_hours")
    rows = conn.execute(QUERIES["jobs_sign_gaps"], {"start": start, "end": end, "threshold": timedelta(hours=hours)})
    return [Gap(*r) for r in rows]
