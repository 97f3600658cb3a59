"""Randomised control schedule: concrete 20-minute controls drawn at random, weighted by score.

Not a rota: each free control position in the officers' patrol slots draws a candidate cell
(site × direction × hour-of-week) with probability ∝ its score, among those the rules allow:

- visits to the same site at least ``min_days_between_visits`` days apart;
- no two controls within ``min_distance_km`` (haversine) that start less than an hour apart;
- every week, at least one control at each site with citizen complaints, and one on each focus
  street, placed before the free draw (reported when impossible).

Pure: a seeded numpy Generator, slots in local time; the same seed gives the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import ArrayLike, NDArray

from planner.hourofweek import DEFAULT_TZ, cell_of

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> NDArray[np.float64]:
    """Great-circle distance in km between points given in degrees (broadcasts)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True)
class PatrolSlot:
    """Time officers have for controls: a local date, start and end (end <= start: next day)."""

    day: date
    start: time
    end: time
    units: int = 1


@dataclass(frozen=True)
class Site:
    """Where a site is and what rules touch it."""

    lat: float
    lon: float
    street: str = ""
    complaints: bool = False


@dataclass(frozen=True)
class Rules:
    """Scheduling rules. Minutes and days are whole numbers."""

    control_minutes: int = 20
    gap_minutes: int = 10
    """Between one unit's consecutive controls (moving on)."""
    min_days_between_visits: int = 2
    min_distance_km: float = 1.0
    spacing_minutes: int = 60
    """Controls starting closer than this in time must be ``min_distance_km`` apart."""
    weekly_complaint_sites: bool = True
    focus_streets: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Control:
    """One planned control; ``start``/``end`` are aware datetimes in the site time zone."""

    site_id: int
    direction: int
    start: datetime
    end: datetime
    unit: int
    slot: int
    hour_of_week: int
    weight: float
    reason: str
    """'score', 'complaints' or 'focus street'."""


@dataclass(frozen=True)
class Plan:
    controls: tuple[Control, ...]
    unmet: tuple[str, ...] = field(default=())
    """Rules that could not be met and positions left empty, as sentences."""


@dataclass(frozen=True)
class _Position:
    slot: int
    unit: int
    start_utc: datetime
    local: datetime
    cell: int
    week: tuple[int, int]


def _positions(slots: list[PatrolSlot], rules: Rules, zone: ZoneInfo) -> list[_Position]:
    step = timedelta(minutes=rules.control_minutes + rules.gap_minutes)
    length = timedelta(minutes=rules.control_minutes)
    out = []
    for i, s in enumerate(slots):
        begin = datetime.combine(s.day, s.start, zone).astimezone(timezone.utc)
        end_day = s.day if s.end > s.start else s.day + timedelta(days=1)
        finish = datetime.combine(end_day, s.end, zone).astimezone(timezone.utc)
        for unit in range(1, s.units + 1):
            t = begin
            while t + length <= finish:
                local = t.astimezone(zone)
                out.append(_Position(i, unit, t, local, cell_of(local), local.isocalendar()[:2]))
                t += step
    return out


class _Planner:
    def __init__(self, site_id, direction, how, weight, sites, rules, zone, rng):
        self.site, self.direction, self.how, self.weight = site_id, direction, how, weight
        self.lat = np.array([sites[s].lat for s in site_id], dtype=np.float64)
        self.lon = np.array([sites[s].lon for s in site_id], dtype=np.float64)
        self.rules, self.zone, self.rng = rules, zone, rng
        self.visits: dict[int, list[date]] = {}
        self.placed: list[tuple[_Position, int, str]] = []
        self.taken: set[int] = set()

    def allowed(self, pos: _Position, idx: NDArray[np.int64]) -> NDArray[np.int64]:
        """Candidate indices (among idx) the rules allow at this position."""
        gap = self.rules.min_days_between_visits
        day = pos.local.date()
        blocked = [s for s, days in self.visits.items() if any(abs((d - day).days) < gap for d in days)]
        idx = idx[(self.how[idx] == pos.cell) & (self.weight[idx] > 0) & ~np.isin(self.site[idx], blocked)]
        window = timedelta(minutes=self.rules.spacing_minutes)
        near = [c for p, c, _ in self.placed if abs(p.start_utc - pos.start_utc) < window]
        if near and idx.size:
            dist = haversine_km(self.lat[idx][:, None], self.lon[idx][:, None], self.lat[near], self.lon[near])
            idx = idx[(dist >= self.rules.min_distance_km).all(axis=1)]
        return idx

    def place(self, pos_i: int, pos: _Position, cand: int, reason: str) -> None:
        self.taken.add(pos_i)
        self.placed.append((pos, cand, reason))
        self.visits.setdefault(int(self.site[cand]), []).append(pos.local.date())

    def draw(self, options: list[tuple[int, int]]) -> tuple[int, int]:
        w = self.weight[[c for _, c in options]]
        return options[self.rng.choice(len(options), p=w / w.sum())]


def plan_controls(
    slots: list[PatrolSlot],
    site_id: ArrayLike,
    direction: ArrayLike,
    hour_of_week: ArrayLike,
    weight: ArrayLike,
    sites: dict[int, Site],
    rng: np.random.Generator,
    rules: Rules = Rules(),
    tz: str = DEFAULT_TZ,
) -> Plan:
    """Draw a plan. Candidates are parallel arrays (e.g. a Ranking's columns, weight = total)."""
    zone = ZoneInfo(tz)
    site = np.asarray(site_id, dtype=np.int64)
    missing = sorted(set(site.tolist()) - set(sites))
    if missing:
        raise ValueError(f"candidate sites {missing[:5]} have no position in `sites`")
    p = _Planner(site, np.asarray(direction, dtype=np.int64), np.asarray(hour_of_week, dtype=np.int64),
                 np.asarray(weight, dtype=np.float64), sites, rules, zone, rng)
    positions = _positions(sorted(slots, key=lambda s: (s.day, s.start)), rules, zone)
    unmet: list[str] = []
    weeks = sorted({pos.week for pos in positions})
    groups: list[tuple[str, str, NDArray[np.int64]]] = []
    if rules.weekly_complaint_sites:
        for s in sorted(k for k, v in sites.items() if v.complaints):
            groups.append(("complaints", f"site {s} (citizen complaints)", np.flatnonzero(site == s)))
    for street in sorted(rules.focus_streets):
        on = [k for k, v in sites.items() if v.street == street]
        groups.append(("focus street", f"focus street {street!r}", np.flatnonzero(np.isin(site, on))))
    for week in weeks:
        in_week = [(i, pos) for i, pos in enumerate(positions) if pos.week == week]
        for g in rng.permutation(len(groups)):
            reason, label, idx = groups[g]
            done = any(pos.week == week and int(site[c]) in set(site[idx].tolist()) for pos, c, _ in p.placed)
            if done:
                continue
            options = [(i, int(c)) for i, pos in in_week if i not in p.taken for c in p.allowed(pos, idx)]
            if not options:
                unmet.append(f"{label}: no control possible in week {week[0]}-W{week[1]:02d}")
                continue
            i, c = p.draw(options)
            p.place(i, positions[i], c, reason)
    every = np.arange(site.size)
    empty: list[int] = []
    for i in rng.permutation(len(positions)):
        if i in p.taken:
            continue
        pos = positions[i]
        allowed = p.allowed(pos, every)
        if allowed.size == 0:
            empty.append(int(i))
            continue
        _, c = p.draw([(i, int(c)) for c in allowed])
        p.place(i, pos, c, "score")
    for i in sorted(empty):
        unmet.append(f"{positions[i].local:%Y-%m-%d %H:%M} unit {positions[i].unit}: no candidate the rules allow")
    length = timedelta(minutes=rules.control_minutes)
    controls = sorted(
        (Control(int(site[c]), int(p.direction[c]), pos.local, (pos.start_utc + length).astimezone(zone),
                 pos.unit, pos.slot, pos.cell, float(p.weight[c]), reason)
         for pos, c, reason in p.placed),
        key=lambda c: (c.start, c.unit),
    )
    return Plan(tuple(controls), tuple(unmet))
