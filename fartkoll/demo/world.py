"""The demo world: places, signs, deployments, limits, controls and tips as plain data, and the
Swedish calendar it lives by (holidays, school terms).

Two fictional small municipalities in Västmanland share one local police area. Everything is a
pure function of ``(weeks, end)``: the period is the ``weeks`` whole local days before ``end``
(Europe/Stockholm; ``end`` itself has no data), and events sit at fixed fractions of it, so a
one-week world has the same story as an eight-week one. Rows refer to each other by natural
keys (site key, sign serial, e-mail); the seeder resolves them to ids. Fields below a
``# truth`` comment drive the traffic generator and are not stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Europe/Stockholm")
UTC = timezone.utc
FIRST_LIMIT_FROM = date(2010, 1, 1)


@dataclass(frozen=True)
class Municipality:
    name: str
    town: str                     # the main town, used in site names
    code: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Site:
    key: str                      # stable demo identifier, used in pass keys
    name: str                     # sites.name (unique)
    municipality: str
    street: str
    lat: float
    lon: float
    tags: tuple[str, ...]
    limit_kmh: int                # the legal limit at the start of the period
    approach_heading: str
    # truth
    daily_volume: int             # vehicles on an ordinary weekday, both directions
    share_over: float             # stealth daytime share over the limit, 0..1
    spread: float                 # standard deviation of log speed
    display_effect_kmh: float     # how much slower approaching drivers go when the sign shows speeds
    approach_share: float         # share of morning traffic approaching the sensor (afternoon: 1 - it)


@dataclass(frozen=True)
class SpeedLimit:
    site: str
    valid_from: datetime
    valid_to: datetime | None
    limit_kmh: int


@dataclass(frozen=True)
class Sign:
    serial: str
    vendor: str
    model: str
    protocol: str
    rounding: str                 # truncate | round | exact
    configured_limit_kmh: int
    reports_length: bool


@dataclass(frozen=True)
class Deployment:
    sign: str
    site: str
    valid_from: datetime
    valid_to: datetime | None     # None: still standing there
    display: int                  # 0 stealth, 1 display
    approach_heading: str
    note: str = ""


@dataclass(frozen=True)
class Outage:
    """A sign that measured nothing (no passes, no heartbeat) in [start, end)."""

    sign: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Control:
    site: str
    start: datetime
    end: datetime
    method: str
    direction: int | None
    vehicles_checked: int
    reports_written: int
    planned: bool
    note: str
    created_by: str               # user e-mail
    # truth
    during_kmh: float = 7.0       # speed drop while police are visible
    after_kmh: float = 4.0        # speed drop right after, halving every half_life_h
    half_life_h: float = 60.0


@dataclass(frozen=True)
class Tip:
    site: str
    received_at: datetime
    text: str
    status: str


@dataclass(frozen=True)
class User:
    email: str
    name: str
    role: str
    police_area: str | None = None
    municipality: str | None = None


@dataclass(frozen=True)
class World:
    start: datetime               # UTC, local midnight of the first day
    end: datetime                 # UTC, local midnight of ``end`` (exclusive)
    police_area: str
    municipalities: tuple[Municipality, ...]
    sites: tuple[Site, ...]
    limits: tuple[SpeedLimit, ...]
    signs: tuple[Sign, ...]
    deployments: tuple[Deployment, ...]
    outages: tuple[Outage, ...]
    controls: tuple[Control, ...]
    tips: tuple[Tip, ...]
    users: tuple[User, ...]

    def site(self, key: str) -> Site:
        return next(s for s in self.sites if s.key == key)

    def sign(self, serial: str) -> Sign:
        return next(s for s in self.signs if s.serial == serial)


POLICE_AREA = "Lokalpolisområde Mälardalen Väst"
ANGSVIK = Municipality("Ängsviks kommun", "Ängsvik", "9901", 59.392, 15.842)
TALLBACKA = Municipality("Tallbacka kommun", "Tallbacka", "9902", 59.296, 16.051)

# key, street, place on it, municipality, lat, lon, tags, limit, heading,
# daily volume, share over, spread, display effect, approach share
_SITES = [
    ("storgatan", "Storgatan", "vid torget", ANGSVIK, 59.3925, 15.8405, ("main road", "centre"), 40, "E",
     5200, 0.52, 0.15, 4.0, 0.55),
    ("skolvagen", "Skolvägen", "vid Ängsviksskolan", ANGSVIK, 59.3968, 15.8331, ("school", "residential"), 30, "N",
     1100, 0.62, 0.20, 4.5, 0.60),
    ("bjorkvagen", "Björkvägen", "16", ANGSVIK, 59.3889, 15.8512, ("residential",), 40, "SW",
     950, 0.42, 0.17, 3.5, 0.45),
    ("kungsgatan", "Kungsgatan", "vid Kvarnbacken", ANGSVIK, 59.3901, 15.8297, ("main road",), 50, "W",
     4200, 0.47, 0.14, 3.5, 0.50),
    ("vastra-ringvagen", "Västra Ringvägen", "vid Ica", ANGSVIK, 59.3942, 15.8214, ("main road", "ring road"), 60, "S",
     6000, 0.30, 0.12, 3.0, 0.50),
    ("angsviksvagen", "Ängsviksvägen", "infarten från E18", ANGSVIK, 59.3841, 15.8602, ("main road", "entry"), 70, "NW",
     4800, 0.22, 0.11, 3.0, 0.62),
    ("jarnvagsgatan", "Järnvägsgatan", "vid stationen", TALLBACKA, 59.2968, 16.0489, ("centre",), 40, "N",
     2600, 0.57, 0.16, 4.0, 0.55),
    ("kyrkogatan", "Kyrkogatan", "12", TALLBACKA, 59.2987, 16.0541, ("residential",), 30, "E",
     900, 0.68, 0.20, 4.5, 0.50),
    ("sjovagen", "Sjövägen", "vid badplatsen", TALLBACKA, 59.2921, 16.0610, ("residential",), 50, "SE",
     1500, 0.36, 0.15, 3.5, 0.45),
    ("industrivagen", "Industrivägen", "vid återvinningscentralen", TALLBACKA, 59.3012, 16.0395, ("industrial",), 50,
     "NE", 2800, 0.15, 0.13, 2.5, 0.60),
    ("tallbackavagen", "Tallbackavägen", "norra infarten", TALLBACKA, 59.3049, 16.0512, ("main road", "entry"), 60, "S",
     5600, 0.38, 0.12, 3.0, 0.58),
    ("prastgardsgatan", "Prästgårdsgatan", "vid kyrkan", TALLBACKA, 59.2979, 16.0566, ("residential",), 40, "W",
     1700, 0.47, 0.16, 4.0, 0.50),
]

# serial, vendor, model, protocol, rounding, reports length, home site
_SIGNS = [
    ("ICOMS-TMS-21014", "ICOMS Detections", "TMS-SA", "icoms-tma296", "truncate", True, "storgatan"),
    ("HR-SS300-88102", "Houston Radar", "SS300", "houston-dr500", "round", False, "skolvagen"),
    ("OPS-243A-4410", "OmniPreSense", "OPS243-A (kommunbyggd skylt)", "ops-json", "exact", False, "bjorkvagen"),
    ("ICOMS-TMS-21022", "ICOMS Detections", "TMS-SA", "icoms-tma296", "truncate", True, "kungsgatan"),
    ("STK-SSS-70551", "Stalker", "Stationary Speed Sensor", "stalker-a", "truncate", True, "vastra-ringvagen"),
    ("STK-SSS-70552", "Stalker", "Stationary Speed Sensor", "stalker-a", "truncate", True, "angsviksvagen"),
    ("HR-SS300-88117", "Houston Radar", "SS300", "houston-dr500", "round", False, "jarnvagsgatan"),
    ("DEC-SI3-3307", "Decatur", "SI-3", "decatur-si3", "truncate", False, "kyrkogatan"),
    ("HR-SS300-88125", "Houston Radar", "SS300", "houston-dr500", "round", False, "sjovagen"),
    ("ICOMS-TMS-21031", "ICOMS Detections", "TMS-SA", "icoms-tma296", "truncate", True, "industrivagen"),
    ("STK-SSS-70560", "Stalker", "Stationary Speed Sensor", "stalker-a", "truncate", True, "tallbackavagen"),
]

MOVED_SIGN = "DEC-SI3-3307"           # stands at Prästgårdsgatan, then moves to Kyrkogatan
MOVED_FROM, MOVED_TO = "prastgardsgatan", "kyrkogatan"
DEAD_SIGN = "HR-SS300-88125"          # Sjövägen: three days without power
LIMIT_SITE, NEW_LIMIT = "kungsgatan", 40
MISCONFIGURED_SIGN = "ICOMS-TMS-21022"  # still set to 50 after Kungsgatan went down to 40

ADMIN = "admin@demo.fartkoll.example"
OFFICER = "polis@demo.fartkoll.example"
PLANNER = "trafik@demo.fartkoll.example"


def local(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """A Stockholm wall-clock moment as an aware UTC datetime."""
    return datetime.combine(day, time(hour, minute), TZ).astimezone(UTC)


def easter(year: int) -> date:
    """Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def holidays(year: int) -> set[date]:
    """Swedish public holidays plus the de-facto ones (midsummer, Christmas and New Year's Eve)."""
    e = easter(year)
    midsummer_eve = next(date(year, 6, d) for d in range(19, 26) if date(year, 6, d).weekday() == 4)
    all_saints = next(date(year, 10, 31) + timedelta(days=k) for k in range(7)
                      if (date(year, 10, 31) + timedelta(days=k)).weekday() == 5)
    fixed = [(1, 1), (1, 6), (5, 1), (6, 6), (12, 24), (12, 25), (12, 26), (12, 31)]
    return {date(year, m, d) for m, d in fixed} | {
        e - timedelta(days=2), e, e + timedelta(days=1), e + timedelta(days=39),
        midsummer_eve, midsummer_eve + timedelta(days=1), all_saints,
    }


def is_workday(d: date) -> bool:
    """Monday to Friday and not a holiday."""
    return d.weekday() < 5 and d not in holidays(d.year)


def is_school_day(d: date) -> bool:
    """Approximate Swedish compulsory-school term: weekdays outside holidays and the usual breaks
    (summer 12 June–19 August, Christmas 21 December–7 January, sportlov week 8, påsklov the week
    of Easter Monday, höstlov week 44)."""
    if d.weekday() >= 5 or d in holidays(d.year):
        return False
    if (6, 12) <= (d.month, d.day) <= (8, 19) or (d.month, d.day) >= (12, 21) or (d.month, d.day) <= (1, 7):
        return False
    week = d.isocalendar().week
    easter_week = (easter(d.year) + timedelta(days=1)).isocalendar().week
    return week not in (8, 44, easter_week)


def block_weeks(weeks: int) -> int:
    """Length of a display or stealth block: two weeks, or one in periods under four weeks."""
    return 2 if weeks >= 4 else 1


def build_world(*, weeks: int, end: date) -> World:
    """The whole demo world for the ``weeks`` weeks of local days before ``end``."""
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, got {weeks}")
    days = 7 * weeks
    first = end - timedelta(days=days)

    def at(frac: float, hour: int, minute: int = 0, on=(lambda d: True,)) -> datetime:
        """Local time on the day at ``frac`` of the period, or the nearest day (later ones first) that
        the first satisfiable predicate of ``on`` accepts."""
        target = int(days * frac)
        near = sorted(range(days), key=lambda k: (abs(k - target), k < target))
        for accept in on:
            for k in near:
                if accept(first + timedelta(days=k)):
                    return local(first + timedelta(days=k), hour, minute)
        return local(first + timedelta(days=target), hour, minute)

    workday = (is_workday,)
    school_day = (is_school_day, is_workday)

    sites = tuple(
        Site(key, f"{street} {place}, {m.town}", m.name, street, lat, lon, tags, limit,
             heading, vol, share, spread, disp, appr)
        for key, street, place, m, lat, lon, tags, limit, heading, vol, share, spread, disp, appr in _SITES
    )
    signs = tuple(
        Sign(serial, vendor, model, proto, rounding,
             50 if serial == MISCONFIGURED_SIGN else next(s.limit_kmh for s in sites if s.key == home), length)
        for serial, vendor, model, proto, rounding, length, home in _SIGNS
    )

    limits_from = min(local(FIRST_LIMIT_FROM), local(first) - timedelta(days=365))
    change = at(0.6, 0)
    limits = []
    for s in sites:
        if s.key == LIMIT_SITE:
            limits.append(SpeedLimit(s.key, limits_from, change, s.limit_kmh))
            limits.append(SpeedLimit(s.key, change, None, NEW_LIMIT))
        else:
            limits.append(SpeedLimit(s.key, limits_from, None, s.limit_kmh))

    period_start, period_end = local(first), local(end)
    removed, installed = at(0.5, 9, on=workday), at(0.5, 13, on=workday)
    block = timedelta(days=7 * block_weeks(weeks))
    deployments = []
    for i, (serial, *_, home) in enumerate(_SIGNS):
        if serial == MOVED_SIGN:
            stands = [(MOVED_FROM, period_start, removed), (MOVED_TO, installed, None)]
        else:
            stands = [(home, period_start, None)]
        for site_key, frm, to in stands:
            heading = next(s.approach_heading for s in sites if s.key == site_key)
            note = "flyttad från Prästgårdsgatan" if site_key == MOVED_TO else ""
            deployments += _blocks(serial, site_key, frm, to, period_start, period_end, block, i % 2, heading, note)

    dead_from = at(0.3, 15)
    outages = (Outage(DEAD_SIGN, dead_from, dead_from + timedelta(hours=72)),)

    controls = (
        Control("storgatan", at(0.2, 7, 30, workday), at(0.2, 9, 0, workday), "laser", None, 61, 9, True,
                "Morgonkontroll vid torget.", OFFICER),
        Control("skolvagen", at(0.35, 7, 15, school_day), at(0.35, 8, 30, school_day), "laser", 1, 38, 11, True,
                "Skolstart; riktat efter medborgarlöftet.", OFFICER),
        Control("tallbackavagen", at(0.6, 15, 0, workday), at(0.6, 16, 30, workday), "radar", 1, 94, 14, True,
                "Eftermiddagstrafik norra infarten.", OFFICER),
        Control("jarnvagsgatan", at(0.75, 16, 0, workday), at(0.75, 17, 0, workday), "presence", None, 0, 0, False,
                "Synlig närvaro efter tips från boende.", OFFICER,
                during_kmh=5.0, after_kmh=2.5, half_life_h=36.0),
        Control("storgatan", at(0.8, 20, 0, workday), at(0.8, 21, 10, workday), "laser", 2, 27, 5, False,
                "Kvällskontroll, utfart mot Kungsgatan.", OFFICER),
    )
    tips = (
        Tip("kyrkogatan", at(0.1, 19, 42),
            "Bilar kör alldeles för fort på Kyrkogatan på kvällarna, barn leker här.", "linked"),
        Tip("kyrkogatan", at(0.65, 7, 58), "Fortkörning varje morgon förbi nummer 12.", "new"),
        Tip("skolvagen", at(0.15, 8, 5),
            "Föräldrar som lämnar barn kör fort förbi skolan, nästan olycka i morse.", "linked"),
        Tip("kungsgatan", at(0.7, 22, 17), "Kungsgatan är en racerbana efter klockan tio.", "new"),
    )
    users = (
        User(ADMIN, "Demo-administratör", "admin"),
        User(OFFICER, "Demo-polis (trafik)", "officer", police_area=POLICE_AREA),
        User(PLANNER, "Demo-trafikplanerare", "planner", municipality=ANGSVIK.name),
    )
    return World(period_start, period_end, POLICE_AREA, (ANGSVIK, TALLBACKA), sites, tuple(limits), signs,
                 tuple(deployments), outages, controls, tips, users)


def _blocks(sign: str, site: str, frm: datetime, to: datetime | None, period_start: datetime,
            period_end: datetime, block: timedelta, phase: int, heading: str, note: str) -> list[Deployment]:
    """One stand of a sign cut at the period's block boundaries, alternating stealth and display.

    Boundaries fall at local midnight (computed in UTC via the local date, so DST is respected).
    ``phase`` 0 starts the period in stealth mode, 1 in display mode.
    """
    out = []
    k = 0
    first_day = period_start.astimezone(TZ).date()
    while True:
        b0 = local(first_day + k * block)
        b1 = local(first_day + (k + 1) * block)
        lo, hi = max(b0, frm), b1 if to is None else min(b1, to)
        last = b1 >= period_end or (to is not None and to <= b1)
        if hi > lo:
            out.append(Deployment(sign, site, lo, None if (last and to is None) else hi, (k + phase) % 2, heading,
                                  note))
        if last:
            return out
        k += 1
