"""What a situation picture holds: plain data, gathered by ``report.data``, drawn by ``report.render``.

Shares are 0..1, speeds km/h, times aware datetimes; ``None`` marks a figure that cannot be
given (too few vehicles, no data). Site and sign names are the database's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.errors import InvalidInput
from planner.names import DirectionName, DisplayName


class WeekError(InvalidInput):
    """A week was given in a form that is not understood; the message shows the accepted forms."""


@dataclass(frozen=True)
class Week:
    """An ISO week (Monday to Sunday) in a local time zone."""

    year: int
    week: int
    time_zone: str = "Europe/Stockholm"

    @classmethod
    def containing(cls, day: date, time_zone: str = "Europe/Stockholm") -> "Week":
        iso = day.isocalendar()
        return cls(iso.year, iso.week, time_zone)

    @classmethod
    def last_complete(cls, now: datetime, time_zone: str = "Europe/Stockholm") -> "Week":
        """The latest week that has ended at ``now`` (aware)."""
        today = now.astimezone(ZoneInfo(time_zone)).date()
        return cls.containing(today - timedelta(days=7), time_zone)

    @classmethod
    def parse(cls, text: str, now: datetime, time_zone: str = "Europe/Stockholm") -> "Week":
        """'2024-W44', '2024W44', '2024-44' or '44' (this ISO year at ``now``)."""
        t = text.strip().upper().replace("W", "-").replace("--", "-")
        parts = [p for p in t.split("-") if p]
        bad = WeekError(f"week {text!r} is not understood: give an ISO week such as 2024-W44 "
                        f"(or 44 for this year's week 44)")
        if len(parts) not in (1, 2) or not all(p.isascii() and p.isdigit() for p in parts):
            raise bad
        numbers = [int(p) for p in parts]
        if len(numbers) == 1:
            year, wk = now.astimezone(ZoneInfo(time_zone)).date().isocalendar().year, numbers[0]
        else:
            year, wk = numbers
        try:
            date.fromisocalendar(year, wk, 1)
        except ValueError:  # only the calendar's own range check: week 0 or 54, year 0
            raise bad from None
        return cls(year, wk, time_zone)

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def start(self) -> datetime:
        """Monday 00:00 local, as an aware datetime."""
        return datetime.combine(self.monday, datetime.min.time(), ZoneInfo(self.time_zone))

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 local (exclusive)."""
        return datetime.combine(self.monday + timedelta(days=7), datetime.min.time(), ZoneInfo(self.time_zone))

    def shifted(self, weeks: int) -> "Week":
        return Week.containing(self.monday + timedelta(weeks=weeks), self.time_zone)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class KeyFigures:
    """The week at a glance, over all sites (display modes kept apart)."""

    vehicles: int
    stealth_vehicles: int
    stealth_share_over_limit: float | None
    display_vehicles: int
    display_share_over_limit: float | None
    controls: int
    reports_written: int
    new_tips: int
    silent_signs: int


@dataclass(frozen=True)
class BestHour:
    """One of a site's best cells: weekday 0 Monday .. 6 Sunday, local hour, direction."""

    weekday: int
    hour: int
    direction: DirectionName
    score: float


@dataclass(frozen=True)
class TopCell:
    """One ranked site, by its best site × direction × hour-of-week cell (ranking over
    ``ranking_weeks``), with its best hours; each site appears once."""

    rank: int
    site_id: int
    site_name: str
    direction: DirectionName
    weekday: int
    """0 Monday .. 6 Sunday, local."""
    hour: int
    vehicles_per_hour: float
    share_over_threshold: float
    expected_reportable: float
    """Reportable vehicles per 20-minute control."""
    score: float
    tips: int
    school: bool
    flags: int = 0
    """planner.quality.Quality bits."""
    best_hours: tuple[BestHour, ...] = ()
    """The site's best cells, best first (the first is this row's)."""


@dataclass(frozen=True)
class WeekPoint:
    week: str
    n: int
    share_over_limit: float | None
    display: DisplayName | None
    """Which mode the figure is from (None: no data)."""
    limit_kmh: int | None = None
    """The legal limit in force at the week's end (None: unknown)."""


@dataclass(frozen=True)
class SiteTrend:
    """Share over the limit per week for one site, oldest first, one mode per week (never pooled)."""

    site_id: int
    site_name: str
    points: tuple[WeekPoint, ...]

    @property
    def change_pp(self) -> float | None:
        """This week minus the previous week with data in the same mode, percentage points."""
        last = self.points[-1] if self.points else None
        if last is None or last.share_over_limit is None:
            return None
        for p in reversed(self.points[:-1]):
            if p.share_over_limit is not None and p.display == last.display:
                return 100 * (last.share_over_limit - p.share_over_limit)
        return None


@dataclass(frozen=True)
class ControlEffect:
    """A control held in the report's window with its measured effect so far."""

    control_id: int
    site_name: str
    start: datetime
    end: datetime
    method: str
    vehicles_checked: int | None
    reports_written: int | None
    planned: bool
    """The control log's flag, as the follow-up says."""
    during_pp: float | None
    """Difference in differences of the share over the limit during the control, percentage points."""
    during_low_pp: float | None
    during_high_pp: float | None
    week_after_pp: float | None
    week_after_low_pp: float | None
    week_after_high_pp: float | None
    during_days: int
    week_after_days: int
    baseline_days: int
    """Days with data the baseline rests on (too few: nothing computed)."""
    increase: bool
    """The share over the limit rose significantly during the control."""
    halo_days: int | None
    return_from: date | None
    """The day the effect has worn off."""
    notes: tuple[str, ...] = ()
    """The follow-up's own notes (English)."""
    note: str = ""
    """The officer's note in the control log."""

    @property
    def significant(self) -> bool:
        """The effect during the control is told apart from no effect (its interval excludes 0)."""
        lo, hi = self.during_low_pp, self.during_high_pp
        return lo is not None and hi is not None and (lo > 0 or hi < 0)


@dataclass(frozen=True)
class Silence:
    """A deployed sign that sent nothing for longer than the threshold."""

    serial: str
    site_name: str
    start: datetime
    end: datetime
    ongoing: bool

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


@dataclass(frozen=True)
class Tip:
    received_at: datetime
    place: str
    text: str
    status: str


@dataclass(frozen=True)
class PromiseWeek:
    week: str
    controls: int
    """Controls at sites citizens complained about."""


@dataclass(frozen=True)
class Promise:
    """Progress on the citizen promise: at least one control a week where citizens complained."""

    sites: tuple[str, ...]
    weeks: tuple[PromiseWeek, ...]
    target_per_week: int = 1

    @property
    def weeks_met(self) -> int:
        return sum(w.controls >= self.target_per_week for w in self.weeks)


@dataclass(frozen=True)
class SituationPicture:
    week: Week
    area: str
    generated_at: datetime
    ranking_weeks: int
    figures: KeyFigures
    top: tuple[TopCell, ...]
    trends: tuple[SiteTrend, ...]
    controls: tuple[ControlEffect, ...]
    silences: tuple[Silence, ...]
    tips: tuple[Tip, ...]
    promise: Promise
    silent_hours: float
    notes: tuple[str, ...] = field(default=())
    latest_data: datetime | None = None
    """The latest hour with vehicles anywhere (UTC), to say when data stopped."""
