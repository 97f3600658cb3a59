"""Demo traffic: vehicle passes per site and UTC hour, generated with numpy from a seed.

Pure: takes a :class:`~fartkoll.demo.world.World` and a seed, returns columnar arrays. Each site
draws from its own generator (``default_rng([seed, site number])``), so a site's passes do not
depend on the others. Patterns are in Stockholm local time: hourly profiles for weekdays,
Saturdays and Sundays/holidays, a school-morning peak on school days at the school site, daily
volume noise. Speeds are lognormal per site, shifted in km/h by night, congestion, heavy
vehicles, the sign's display (approaching drivers see it), a lowered limit, police controls
(an effect during the control, then decaying with a half-life) and day-to-day noise, then
quantised the way the sign reports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist

import numpy as np

from .world import TZ, UTC, Deployment, World, holidays, is_school_day

HOUR_US = 3_600_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WEEKDAY, SATURDAY, SUNDAY = 0, 1, 2

# Relative traffic per local hour 0..23.
_PROFILES = np.array([
    [0.6, 0.35, 0.25, 0.25, 0.5, 1.6, 4.2, 8.0, 7.0, 5.0, 4.6, 5.0,
     5.5, 5.3, 5.6, 6.8, 8.2, 7.8, 5.8, 4.4, 3.6, 2.8, 1.9, 1.1],
    [1.2, 0.8, 0.6, 0.4, 0.4, 0.6, 1.2, 2.2, 3.6, 5.2, 6.6, 7.4,
     7.6, 7.4, 7.0, 6.6, 6.2, 5.8, 5.0, 4.2, 3.4, 2.8, 2.2, 1.6],
    [1.4, 1.0, 0.7, 0.5, 0.4, 0.4, 0.7, 1.2, 2.2, 3.6, 5.2, 6.4,
     7.0, 7.0, 6.8, 6.6, 6.4, 6.2, 5.6, 4.6, 3.6, 2.6, 1.8, 1.0],
])
# The school site on a school day: drop-off 7-8, pick-up 14-15.
_SCHOOL_PROFILE = _PROFILES[WEEKDAY] * np.array(
    [1] * 7 + [3.2, 1.5] + [1] * 5 + [1.7, 1.6] + [1] * 8)
_PROFILES = _PROFILES / _PROFILES.sum(axis=1, keepdims=True)
_SCHOOL_PROFILE = _SCHOOL_PROFILE / _SCHOOL_PROFILE.sum()
# Mon..Sun volume factors; holidays count as Sundays.
_DAY_FACTOR = np.array([0.97, 1.0, 1.0, 1.02, 1.06, 0.72, 0.58])
_HOLIDAY_FACTOR = 0.55
_NIGHT_HOURS = (22, 23, 0, 1, 2, 3, 4)
_PEAK_HOURS = (7, 16, 17)
_ROUNDING = {"truncate": 0, "round": 1, "exact": 2}


@dataclass(frozen=True)
class Calendar:
    """Local-time facts for each UTC hour of the period (arrays indexed by hour - first)."""

    first: int                # epoch hour of the period start
    local_hour: np.ndarray    # 0..23
    day: np.ndarray           # local day number from the first day of the period
    kind: np.ndarray          # WEEKDAY, SATURDAY or SUNDAY (incl. holidays)
    volume: np.ndarray        # day factor (weekday pattern, holidays)
    school: np.ndarray        # bool: a school day

    @property
    def n_days(self) -> int:
        return int(self.day[-1]) + 1


def epoch_hour(t: datetime) -> int:
    return int(t.timestamp()) // 3600


def calendar(world: World) -> Calendar:
    first, last = epoch_hour(world.start), epoch_hour(world.end)
    first_day = world.start.astimezone(TZ).date()
    cols: list[tuple[int, int, int, float, bool]] = []
    for h in range(first, last):
        t = datetime.fromtimestamp(h * 3600, UTC).astimezone(TZ)
        d = t.date()
        holiday = d in holidays(d.year)
        kind = SUNDAY if holiday or d.weekday() == 6 else SATURDAY if d.weekday() == 5 else WEEKDAY
        factor = _HOLIDAY_FACTOR if holiday else float(_DAY_FACTOR[d.weekday()])
        cols.append((t.hour, (d - first_day).days, kind, factor, is_school_day(d)))
    hour, day, kind, factor, school = zip(*cols, strict=False)
    return Calendar(first, np.array(hour, np.int8), np.array(day, np.int32), np.array(kind, np.int8),
                    np.array(factor), np.array(school, bool))


def active_hours(world: World) -> list[tuple[Deployment, np.ndarray]]:
    """Each deployment with the epoch hours in which its sign measured (deployed, in the period,
    not in an outage). Deployment and outage bounds fall on whole hours."""
    out = []
    p0, p1 = epoch_hour(world.start), epoch_hour(world.end)
    for d in world.deployments:
        lo = max(p0, epoch_hour(d.valid_from))
        hi = p1 if d.valid_to is None else min(p1, epoch_hour(d.valid_to))
        hours = np.arange(lo, max(lo, hi), dtype=np.int64)
        for o in world.outages:
            if o.sign == d.sign:
                hours = hours[(hours < epoch_hour(o.start)) | (hours >= epoch_hour(o.end))]
        out.append((d, hours))
    return out


@dataclass(frozen=True)
class SitePasses:
    """The passes of one site, in time order; ``ordinal`` numbers passes within their hour."""

    site: str
    time_us: np.ndarray       # int64, UTC microseconds since the epoch
    hour: np.ndarray          # int64 epoch hour
    ordinal: np.ndarray       # int32
    speed_kmh: np.ndarray     # float32, as the sign reports it
    direction: np.ndarray     # int8: 1 approaching, 2 receding
    display: np.ndarray       # int8: 0 stealth, 1 display
    sign: np.ndarray          # int16 index into world.signs
    length_m: np.ndarray      # float32, NaN when the sign does not measure length

    def __len__(self) -> int:
        return len(self.time_us)


def generate(world: World, seed: int) -> Iterator[SitePasses]:
    """Every site's passes, site by site in world order."""
    cal = calendar(world)
    active = active_hours(world)
    for number, site in enumerate(world.sites, start=1):
        yield site_passes(world, cal, active, site.key, np.random.default_rng([seed, number]))


def site_passes(world: World, cal: Calendar, active: list[tuple[Deployment, np.ndarray]], key: str,
                rng: np.random.Generator) -> SitePasses:
    site = world.site(key)
    serials = [s.serial for s in world.signs]
    parts = [(h, np.full(len(h), serials.index(d.sign), np.int16), np.full(len(h), d.display, np.int8))
             for d, h in active if d.site == key]
    if parts:
        hours, sign_h, disp_h = (np.concatenate(x) for x in zip(*parts, strict=False))
        order = np.argsort(hours, kind="stable")
        hours, sign_h, disp_h = hours[order], sign_h[order], disp_h[order]
    else:
        hours, sign_h, disp_h = np.zeros(0, np.int64), np.zeros(0, np.int16), np.zeros(0, np.int8)
    ix = hours - cal.first

    # Volumes: expected vehicles per hour, then Poisson counts.
    day_volume = np.clip(np.exp(rng.normal(0.0, 0.07, cal.n_days)), 0.85, 1.15)
    profile = _PROFILES[cal.kind[ix], cal.local_hour[ix]]
    if "school" in site.tags:
        profile = np.where(cal.school[ix], _SCHOOL_PROFILE[cal.local_hour[ix]], profile)
    lam = site.daily_volume * cal.volume[ix] * day_volume[cal.day[ix]] * profile
    counts = rng.poisson(lam)
    n = int(counts.sum())

    # Arrival times, sorted, numbered within their hour.
    at = np.repeat(np.arange(len(hours)), counts)
    time_us = hours[at] * HOUR_US + rng.integers(0, HOUR_US, n)
    order = np.argsort(time_us, kind="stable")
    time_us, at = time_us[order], at[order]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    ordinal = (np.arange(n) - starts[at]).astype(np.int32)
    lh = cal.local_hour[ix][at]

    # Direction: the morning flow approaches the sensor with approach_share, the afternoon flow reverses.
    p_approach = np.where(lh < 12, site.approach_share, 1.0 - site.approach_share)
    direction = np.where(rng.random(n) < p_approach, 1, 2).astype(np.int8)

    # Vehicle class: car, van, heavy.
    cls = np.searchsorted([0.88, 0.96], rng.random(n), side="right")
    length = np.choose(cls, [rng.lognormal(np.log(4.6), 0.08, n), rng.lognormal(np.log(5.9), 0.07, n),
                             rng.uniform(9.0, 18.5, n)])

    # Speeds.
    limit0 = site.limit_kmh
    mu = np.log(limit0) - site.spread * NormalDist().inv_cdf(1.0 - site.share_over)
    v = np.exp(mu + site.spread * rng.standard_normal(n))
    shift = rng.normal(0.0, 0.5, cal.n_days)[cal.day[ix][at]]
    shift += np.isin(lh, _NIGHT_HOURS) * 0.08 * limit0
    if site.daily_volume >= 4500:
        shift -= ((cal.kind[ix][at] == WEEKDAY) & np.isin(lh, _PEAK_HOURS)) * 0.05 * limit0
    shift -= (cls == 2) * 0.06 * limit0
    display = disp_h[at]
    shift -= display * np.where(direction == 1, 1.0, 0.2) * site.display_effect_kmh
    shift -= 0.45 * (limit0 - _limit_at(world, key, time_us))
    for c in world.controls:
        if c.site != key:
            continue
        s, e = _us(c.start), _us(c.end)
        shift -= ((time_us >= s) & (time_us < e)) * c.during_kmh
        after = np.maximum(time_us - e, 0) / HOUR_US
        shift -= (time_us >= e) * c.after_kmh * 0.5 ** (after / c.half_life_h)
    v = np.maximum(v + shift, 5.0)

    sign = sign_h[at]
    rounding = np.array([_ROUNDING[s.rounding] for s in world.signs], np.int8)[sign]
    v = np.choose(rounding, [np.floor(v), np.floor(v + 0.5), np.round(v, 1)])
    reports_length = np.array([s.reports_length for s in world.signs])[sign]
    length = np.where(reports_length, np.round(length, 1), np.nan)

    return SitePasses(key, time_us, hours[at], ordinal, v.astype(np.float32), direction, display, sign,
                      length.astype(np.float32))


def _us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


def _limit_at(world: World, key: str, time_us: np.ndarray) -> np.ndarray:
    rows = sorted((lim for lim in world.limits if lim.site == key), key=lambda lim: lim.valid_from)
    starts = np.array([_us(lim.valid_from) for lim in rows])
    values = np.array([lim.limit_kmh for lim in rows])
    return values[np.searchsorted(starts, time_us, side="right") - 1]
