"""Randomised control schedule: concrete 20-minute controls drawn at random, weighted by score.

Not a rota: each patrol unit walks through its slot in time order; at each step it draws a
candidate cell (site × direction × hour-of-week) with probability ∝ its score, among those the
rules allow:

- a unit's next control starts no sooner than the travel time from its last site (great-circle
  distance × ``detour_factor`` at ``travel_kmh``) plus ``setup_minutes``, and never sooner than
  ``gap_minutes`` after the last one ended;
- a slot with an ``area`` keeps its units at sites of that area (municipality or police area);
- visits to the same site at least ``min_days_between_visits`` days apart;
- no two controls within ``min_distance_km`` (haversine) that start less than an hour apart;
- candidates scoring below ``min_score_share`` of the best are not drawn;
- every week, at least one control at each site with citizen complaints, and one on each focus
  street: each such rule gets a randomly chosen unit-slot of the week where it goes first.

Every rule that cannot be met, and every stretch of a slot left empty, is reported as a sentence
naming the rule, the site and the slot. Pure: a seeded numpy Generator, slots in local time; the
same seed gives the same plan.
"""

from __future__ import annotations

import heapq
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
    """Time officers have for controls: a local date, start and end, units.

    ``end`` before ``start`` is only allowed with ``overnight`` (the slot ends the next day);
    ``area`` (a municipality or police-area name, '' = anywhere) keeps the slot's units there.
    """

    day: date
    start: time
    end: time
    units: int = 1
    overnight: bool = False
    area: str = ""

    def __post_init__(self) -> None:
        if self.end == self.start:
            raise ValueError(f"{self.label()}: start and end are both {self.start:%H:%M}")
        if self.end < self.start and not self.overnight:
            raise ValueError(f"{self.label()}: ends before it starts; mark it overnight if it runs past midnight")
        if self.end > self.start and self.overnight:
            raise ValueError(f"{self.label()}: marked overnight but ends the same day")

    def label(self) -> str:
        """The slot as people name it: 'slot 2026-04-06 07:00–09:00'."""
        return f"slot {self.day:%Y-%m-%d} {self.start:%H:%M}–{self.end:%H:%M}" + (f" ({self.area})" if self.area else "")


@dataclass(frozen=True)
class Site:
    """Where a site is and what rules touch it; ``areas``: names of its municipality and police area."""

    lat: float
    lon: float
    street: str = ""
    complaints: bool = False
    areas: frozenset[str] = frozenset()
    name: str = ""


@dataclass(frozen=True)
class Rules:
    """Scheduling rules. Minutes and days are whole numbers."""

    control_minutes: int = 20
    gap_minutes: int = 10
    """Least time between one unit's consecutive controls, whatever the distance."""
    min_days_between_visits: int = 2
    min_distance_km: float = 1.0
    spacing_minutes: int = 60
    """Controls starting closer than this in time must be ``min_distance_km`` apart."""
    weekly_complaint_sites: bool = True
    focus_streets: frozenset[str] = frozenset()
    travel_kmh: float = 40.0
    """Average driving speed between sites."""
    detour_factor: float = 1.4
    """Road distance / great-circle distance."""
    setup_minutes: int = 5
    """To set up at a new site (park, measure, set up the device)."""
    min_score_share: float = 0.0
    """Candidates scoring below this share of the best score are not drawn (0..1)."""
    step_minutes: int = 10
    """When nothing is allowed, the unit waits this long and draws again."""

    def travel_minutes(self, km: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """Driving time for a great-circle distance, in minutes (no set-up)."""
        return np.asarray(km, dtype=np.float64) * self.detour_factor / self.travel_kmh * 60.0

    def break_minutes(self, km: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """Least minutes from the end of one control to the start of the next, ``km`` apart."""
        return np.maximum(float(self.gap_minutes), self.travel_minutes(km) + self.setup_minutes)


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
    """Rules that could not be met and stretches left empty, as sentences naming rule, site and slot."""


@dataclass(frozen=True)
class _Group:
    reason: str
    rule: str
    label: str
    idx: NDArray[np.int64]


@dataclass
class _Walk:
    """One unit in one slot, walking forward in time."""

    slot: int
    unit: int
    t: datetime
    finish: datetime
    week: tuple[int, int]
    last: int | None = None
    last_end: datetime | None = None
    idle_from: datetime | None = None
    idle_why: str = ""


def _round_up(t: datetime, minutes: int) -> datetime:
    """``t`` rounded up to a whole multiple of ``minutes`` past the hour (UTC)."""
    step = 60 * minutes
    s = int(t.timestamp())
    return datetime.fromtimestamp(-(-s // step) * step, timezone.utc)


class _Planner:
    def __init__(self, site, direction, how, weight, sites, rules, zone, rng):
        self.site, self.direction, self.how, self.weight = site, direction, how, weight
        self.sites = sites
        self.lat = np.array([sites[s].lat for s in site], dtype=np.float64)
        self.lon = np.array([sites[s].lon for s in site], dtype=np.float64)
        self.rules, self.zone, self.rng = rules, zone, rng
        self.visits: dict[int, list[date]] = {}
        self.placed: list[tuple[datetime, int, _Walk, str]] = []

    def name(self, cand: int) -> str:
        s = int(self.site[cand])
        n = self.sites[s].name
        return f"site {s} ({n})" if n else f"site {s}"

    def starts(self, w: _Walk, idx: NDArray[np.int64]) -> list[datetime]:
        """The earliest start of each candidate for this unit: its break after the last control."""
        if w.last is None:
            return [w.t] * idx.size
        km = haversine_km(self.lat[w.last], self.lon[w.last], self.lat[idx], self.lon[idx])
        brk = np.atleast_1d(self.rules.break_minutes(km))
        out = []
        for b in brk:
            earliest = w.last_end + timedelta(minutes=float(b))
            out.append(max(w.t, _round_up(earliest, 5)))
        return out

    def allowed(self, w: _Walk, idx: NDArray[np.int64], area: str) -> tuple[list[tuple[int, datetime]], str]:
        """(candidate, start) pairs the rules allow for this unit now, and why the best was refused."""
        r = self.rules
        length = timedelta(minutes=r.control_minutes)
        idx = idx[self.weight[idx] > 0]
        hours, t = set(), w.t
        while t + length <= w.finish:  # the hours-of-week a control could still start in
            hours.add(cell_of(t.astimezone(self.zone)))
            t += timedelta(minutes=30)
        hours.add(cell_of((w.finish - length).astimezone(self.zone)))
        idx = idx[np.isin(self.how[idx], list(hours))]
        if area:
            idx = idx[np.array([area in self.sites[int(s)].areas for s in self.site[idx]], dtype=bool)]
        if idx.size == 0:
            return [], f"rule area: no site with a score in {area!r}" if area else "rule score: no site with a score"
        starts = self.starts(w, idx)
        ok: list[tuple[int, datetime]] = []
        why: dict[int, str] = {}
        window = timedelta(minutes=r.spacing_minutes)
        for c, start in zip(idx.tolist(), starts, strict=True):
            local = start.astimezone(self.zone)
            if self.how[c] != cell_of(local):
                continue
            if start + length > w.finish:
                why[c] = f"rule travel time: {self.name(c)} cannot be reached and controlled before the slot ends"
                continue
            s = int(self.site[c])
            day = local.date()
            if any(abs((d - day).days) < r.min_days_between_visits for d in self.visits.get(s, ())):
                why[c] = f"rule days between visits: {self.name(c)} was visited less than " \
                         f"{r.min_days_between_visits} days before or after"
                continue
            near = [p for t, p, _, _ in self.placed if abs(t - start) < window]
            if near:
                dist = haversine_km(self.lat[c], self.lon[c], self.lat[near], self.lon[near])
                if (np.atleast_1d(dist) < r.min_distance_km).any():
                    why[c] = f"rule distance: {self.name(c)} is within {r.min_distance_km:g} km of a control " \
                             f"starting less than {r.spacing_minutes} minutes apart"
                    continue
            ok.append((c, start))
        if ok or not why:
            return ok, "" if ok else "rule score: no candidate scored for this hour"
        best = max(why, key=lambda c: (self.weight[c], -c))
        return ok, why[best]

    def draw(self, options: list[tuple[int, datetime]]) -> tuple[int, datetime]:
        w = self.weight[[c for c, _ in options]]
        return options[self.rng.choice(len(options), p=w / w.sum())]

    def place(self, w: _Walk, cand: int, start: datetime, reason: str) -> None:
        self.placed.append((start, cand, w, reason))
        self.visits.setdefault(int(self.site[cand]), []).append(start.astimezone(self.zone).date())
        w.last, w.last_end = cand, start + timedelta(minutes=self.rules.control_minutes)
        w.t = w.last_end


def _walks(slots: list[PatrolSlot], zone: ZoneInfo) -> list[_Walk]:
    out = []
    for i, s in enumerate(slots):
        begin = datetime.combine(s.day, s.start, zone).astimezone(timezone.utc)
        end_day = s.day + timedelta(days=1) if s.overnight else s.day
        finish = datetime.combine(end_day, s.end, zone).astimezone(timezone.utc)
        for unit in range(1, s.units + 1):
            out.append(_Walk(i, unit, begin, finish, begin.astimezone(zone).isocalendar()[:2]))
    return out


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
    wt = np.asarray(weight, dtype=np.float64)
    p = _Planner(site, np.asarray(direction, dtype=np.int64), np.asarray(hour_of_week, dtype=np.int64),
                 wt, sites, rules, zone, rng)
    slots = sorted(slots, key=lambda s: (s.day, s.start))
    walks = _walks(slots, zone)
    unmet: list[str] = []
    groups: list[_Group] = []
    if rules.weekly_complaint_sites:
        for s in sorted(k for k, v in sites.items() if v.complaints):
            n = f"site {s} ({sites[s].name})" if sites[s].name else f"site {s}"
            groups.append(_Group("complaints", "weekly complaint site", f"{n} (citizen complaints)",
                                 np.flatnonzero(site == s)))
    for street in sorted(rules.focus_streets):
        on = [k for k, v in sites.items() if v.street == street]
        groups.append(_Group("focus street", "weekly focus street", f"focus street {street!r}",
                             np.flatnonzero(np.isin(site, on))))
    # each weekly rule goes first from a random unit-slot of its week until it is met
    weeks = sorted({w.week for w in walks})
    first_walk: dict[tuple[int, tuple[int, int]], int] = {}
    for week in weeks:
        in_week = [k for k, w in enumerate(walks) if w.week == week]
        for g in range(len(groups)):
            first_walk[(g, week)] = in_week[int(rng.integers(len(in_week)))]
    met: set[tuple[int, tuple[int, int]]] = set()
    best = float(wt.max()) if wt.size else 0.0
    free = np.flatnonzero(wt >= rules.min_score_share * best) if wt.size else np.arange(0)
    step = timedelta(minutes=rules.step_minutes)
    length = timedelta(minutes=rules.control_minutes)
    heap = [(w.t, k) for k, w in enumerate(walks)]
    heapq.heapify(heap)
    while heap:
        _, k = heapq.heappop(heap)
        w = walks[k]
        if w.t + length > w.finish:
            _close_idle(w, w.finish, slots, zone, unmet, length)
            continue
        area = slots[w.slot].area
        chosen = None
        for g, grp in enumerate(groups):
            key = (g, w.week)
            if key in met or first_walk[key] > k:
                continue
            opts, _ = p.allowed(w, grp.idx, area)
            if opts:
                c, start = p.draw(opts)
                chosen = (c, start, grp.reason)
                met.add(key)
                break
        if chosen is None:
            opts, why = p.allowed(w, free, area)
            if opts:
                c, start = p.draw(opts)
                chosen = (c, start, "score")
        if chosen is None:
            if w.idle_from is None:
                w.idle_from, w.idle_why = w.t, why
            w.t += step
        else:
            c, start, reason = chosen
            _close_idle(w, start, slots, zone, unmet, length)
            p.place(w, c, start, reason)
        heapq.heappush(heap, (w.t, k))
    for week in weeks:
        for g, grp in enumerate(groups):
            if (g, week) not in met:
                week_slots = sorted({slots[w.slot].label() for w in walks if w.week == week})
                unmet.append(f"rule {grp.rule}: {grp.label}: no control possible in week {week[0]}-W{week[1]:02d} "
                             f"({len(week_slots)} slots tried, first {week_slots[0]})")
    controls = sorted(
        (Control(int(site[c]), int(p.direction[c]), start.astimezone(zone), (start + length).astimezone(zone),
                 w.unit, w.slot, int(p.how[c]), float(wt[c]), reason)
         for start, c, w, reason in p.placed),
        key=lambda c: (c.start, c.unit),
    )
    return Plan(tuple(controls), tuple(unmet))


def _close_idle(w: _Walk, until: datetime, slots: list[PatrolSlot], zone: ZoneInfo, unmet: list[str],
                length: timedelta) -> None:
    """Report the unit's idle stretch [idle_from, until) when a control would have fit in it."""
    if w.idle_from is not None and until - w.idle_from >= length:
        a, b = w.idle_from.astimezone(zone), until.astimezone(zone)
        unmet.append(f"{slots[w.slot].label()} unit {w.unit}: {a:%H:%M}–{b:%H:%M} left empty: {w.idle_why}")
    w.idle_from, w.idle_why = None, ""
