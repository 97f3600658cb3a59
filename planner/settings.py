"""The planner's section of the settings (``[planner]`` in the TOML file, ``FARTKOLL_PLANNER__…``).

Pure data with validation: reporting-threshold rules per police area, the default ranking
period, patrol slots, control length, scoring weights and scheduling rules, follow-up windows.
``planner.scoring.ScoreWeights`` and ``planner.schedule.Rules`` are built from it here so the
core modules stay free of pydantic.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from planner.exceedance import threshold_npcc_kmh
from planner.schedule import PatrolSlot, Rules
from planner.scoring import ScoreWeights


def known_time_zone(v: str) -> str:
    """A settings validator: ``v`` unchanged if it names an IANA time zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("is not a known IANA time zone such as Europe/Stockholm") from None
    return v


WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ThresholdRule(BaseModel):
    """How an authority turns a legal limit L into its reporting threshold T (v ≥ T reportable).

    ``plus``: T = L + over_kmh (Sweden: +6 km/h, Police Region Väst's 20-minute method);
    ``over_kmh`` unset means the top-level ``threshold_over_kmh`` setting.
    ``npcc``: UK NPCC, T = 1.1·L + 2 mph, applied in mph and converted back to km/h.
    """

    kind: Literal["plus", "npcc"] = "plus"
    over_kmh: float | None = Field(None, ge=0, le=50)

    def threshold_kmh(self, limit_kmh: float, default_over_kmh: float = 6.0) -> float:
        """T in km/h for the limit L (km/h)."""
        if self.kind == "npcc":
            return float(threshold_npcc_kmh(limit_kmh))
        return float(limit_kmh) + (default_over_kmh if self.over_kmh is None else self.over_kmh)


class SlotSetting(BaseModel):
    """A weekly patrol slot: weekday (mon..sun), local start and end, units; end before start only
    with ``overnight = true``; ``area`` (municipality or police area) keeps its units there."""

    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    start: time
    end: time
    units: int = Field(1, ge=1, le=20)
    overnight: bool = False
    area: str = ""


class WeightsSetting(BaseModel):
    """Scoring weights (see planner.scoring); defaults as there."""

    severity_per_kmh: float = Field(0.1, ge=0)
    severity_max: float = Field(2.0, ge=1)
    school: float = Field(0.5, ge=0)
    limit_30: float = Field(0.3, ge=0)
    limit_40: float = Field(0.15, ge=0)
    per_tip: float = Field(0.1, ge=0)
    max_tips: int = Field(5, ge=0)
    trend_per_pp: float = Field(0.01, ge=0)
    trend_min: float = Field(0.8, gt=0, le=1)
    trend_max: float = Field(1.25, ge=1)
    stealth_min_n: int = Field(30, ge=0)

    def score_weights(self) -> ScoreWeights:
        return ScoreWeights(**self.model_dump())


class RulesSetting(BaseModel):
    """Scheduling rules (see planner.schedule)."""

    gap_minutes: int = Field(10, ge=0, le=240)
    min_days_between_visits: int = Field(2, ge=0, le=60)
    min_distance_km: float = Field(1.0, ge=0)
    spacing_minutes: int = Field(60, ge=0, le=24 * 60)
    weekly_complaint_sites: bool = True
    focus_streets: list[str] = []
    travel_kmh: float = Field(40.0, gt=0, le=200)
    """Average driving speed between sites, km/h."""
    detour_factor: float = Field(1.4, ge=1, le=5)
    """Road distance / great-circle distance."""
    setup_minutes: int = Field(5, ge=0, le=120)
    """Time to set up at a new site, minutes."""
    min_score_share: float = Field(0.1, ge=0, le=1)
    """Candidates scoring below this share of the best score are not drawn."""


def _default_slots() -> list[SlotSetting]:
    return [
        SlotSetting(weekday="tue", start=time(7, 0), end=time(9, 0)),
        SlotSetting(weekday="wed", start=time(15, 0), end=time(17, 0)),
        SlotSetting(weekday="thu", start=time(20, 0), end=time(22, 0)),
        SlotSetting(weekday="sat", start=time(10, 0), end=time(12, 0)),
    ]


class PlannerSettings(BaseModel):
    """Everything the planner can be told; defaults follow docs/statistics.md."""

    threshold: ThresholdRule = ThresholdRule()
    threshold_by_police_area: dict[str, ThresholdRule] = {}
    """Police-area name → its rule, overriding ``threshold`` for sites in that area."""
    period_weeks: int = Field(4, ge=1, le=104)
    """Default ranking period: this many weeks ending at the latest data."""
    tips_days: int = Field(90, ge=1, le=3650)
    """Citizen tips count when received within this many days before the period's end."""
    tip_radius_m: float = Field(250.0, ge=0, le=5000)
    """A tip with only a position counts for sites within this distance."""
    min_coverage: float = Field(0.75, ge=0, le=1)
    control_minutes: int = Field(20, ge=5, le=240)
    patrol_slots: list[SlotSetting] = Field(default_factory=_default_slots)
    weights: WeightsSetting = WeightsSetting()
    rules: RulesSetting = RulesSetting()
    followup_baseline_weeks: int = Field(4, ge=1, le=26)
    followup_selection_days: int = Field(7, ge=0, le=90)
    """For a control not made from a plan: the site counts as selected this many days before it."""
    followup_min_revisit_days: int = Field(2, ge=0, le=60)

    @field_validator("patrol_slots")
    @classmethod
    def _slots_not_empty_length(cls, v: list[SlotSetting]) -> list[SlotSetting]:
        for s in v:
            if s.start == s.end:
                raise ValueError(f"patrol slot {s.weekday} {s.start} has start == end; give an end time")
            if s.end < s.start and not s.overnight:
                raise ValueError(f"patrol slot {s.weekday} {s.start}–{s.end} ends before it starts; "
                                 "set overnight = true if it runs past midnight")
            if s.end > s.start and s.overnight:
                raise ValueError(f"patrol slot {s.weekday} {s.start}–{s.end} is marked overnight but ends the same day")
        return v

    def threshold_kmh(self, limit_kmh: float, police_area: str | None, default_over_kmh: float = 6.0) -> float:
        """Reporting threshold (km/h) at a site of ``police_area`` with legal limit ``limit_kmh``."""
        rule = self.threshold_by_police_area.get(police_area or "", self.threshold)
        return rule.threshold_kmh(limit_kmh, default_over_kmh)

    def schedule_rules(self) -> Rules:
        r = self.rules
        return Rules(control_minutes=self.control_minutes, gap_minutes=r.gap_minutes,
                     min_days_between_visits=r.min_days_between_visits, min_distance_km=r.min_distance_km,
                     spacing_minutes=r.spacing_minutes, weekly_complaint_sites=r.weekly_complaint_sites,
                     focus_streets=frozenset(r.focus_streets), travel_kmh=r.travel_kmh,
                     detour_factor=r.detour_factor, setup_minutes=r.setup_minutes,
                     min_score_share=r.min_score_share)

    def slots_for(self, first_day: date, weeks: int = 1) -> list[PatrolSlot]:
        """The weekly patrol slots on the ``7·weeks`` days from ``first_day``."""
        out = []
        for k in range(7 * weeks):
            day = first_day + timedelta(days=k)
            for s in self.patrol_slots:
                if WEEKDAY_NAMES.index(s.weekday) == day.weekday():
                    out.append(PatrolSlot(day, s.start, s.end, s.units, s.overnight, s.area))
        return sorted(out, key=lambda p: (p.day, p.start))
