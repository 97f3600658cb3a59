"""The follow-up as a typed model: what ``fartkoll planner followup --json`` prints and the API
answers (the control log's model is planner.controls.ControlView). Display modes are names;
times carry the site's local offset (ISO 8601)."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from planner.effect import Estimate
from planner.followup import Followup
from planner.names import DisplayName, display_name

Verdict = Literal["decrease", "increase", "no measurable effect", "unknown"]


class EstimateView(BaseModel):
    """Difference in differences (treated change − comparison change) with its 95 % interval,
    over ``days`` days of the window (against the baseline's days)."""

    days: int
    treated_change: float | None
    comparison_change: float | None
    did: float | None
    low: float | None
    high: float | None
    significant: bool
    verdict: Verdict
    """'increase' when the interval lies above 0: a rise is never 'no measurable effect'."""


class EffectView(BaseModel):
    baseline: tuple[date, date]
    """First day and the selection date (exclusive); never before the site's first data."""
    baseline_days: int
    """Days with data the baseline rests on."""
    baseline_requested_days: int
    computed: bool
    """False: too few baseline days; no estimate is given."""
    share_over_limit: dict[str, EstimateView]
    v85_kmh: dict[str, EstimateView]
    halo_days: int | None
    return_from: date | None
    """The day the effect has worn off: return from then."""
    notes: list[str]


class FollowupView(BaseModel):
    control_id: int
    site_id: int
    site_name: str
    time_zone: str
    start: datetime
    end: datetime
    planned: bool
    selected_on: date
    selection_basis: str
    comparison_sites: list[int]
    display: DisplayName | None
    """The display mode the treated series keeps (null: both)."""
    notes: list[str]
    effect: EffectView | None


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else round(x, 4)


def _estimate(e: Estimate) -> EstimateView:
    return EstimateView(days=e.days, treated_change=_num(e.treated_change), comparison_change=_num(e.comparison_change),
                        did=_num(e.did), low=_num(e.low), high=_num(e.high), significant=e.significant,
                        verdict=e.verdict)


def followup_view(f: Followup) -> FollowupView:
    r = f.report
    zone = ZoneInfo(f.time_zone)
    return FollowupView(
        control_id=f.control.id, site_id=f.control.site_id, site_name=f.control.site_name, time_zone=f.time_zone,
        start=f.control.start_time.astimezone(zone), end=f.control.end_time.astimezone(zone), planned=f.planned,
        selected_on=f.selected_on, selection_basis=f.selection_basis, comparison_sites=list(f.comparison_sites),
        display=None if f.display is None else display_name(f.display), notes=list(f.notes),
        effect=None if r is None else EffectView(
            baseline=(r.baseline_start, r.baseline_end), baseline_days=r.baseline_days,
            baseline_requested_days=r.baseline_requested_days, computed=r.computed,
            share_over_limit={k: _estimate(e) for k, e in r.share_over_limit.items()},
            v85_kmh={k: _estimate(e) for k, e in r.v85.items()},
            halo_days=r.halo_days, return_from=r.return_from, notes=list(r.notes)))
