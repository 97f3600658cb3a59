"""The follow-up as a typed model: what ``fartkoll planner followup --json`` prints and the API
answers (the control log's model is planner.controls.ControlView). Display modes are names."""

from __future__ import annotations

import math
from datetime import date, datetime

from pydantic import BaseModel

from planner.effect import Estimate
from planner.followup import Followup
from planner.names import DisplayName, display_name


class EstimateView(BaseModel):
    """Difference in differences (treated change − comparison change) with its 95 % interval."""

    days: int
    treated_change: float | None
    comparison_change: float | None
    did: float | None
    low: float | None
    high: float | None
    significant: bool


class EffectView(BaseModel):
    baseline: tuple[date, date]
    baseline_days: int
    share_over_limit: dict[str, EstimateView]
    v85_kmh: dict[str, EstimateView]
    halo_days: int | None
    revisit: date | None
    notes: list[str]


class FollowupView(BaseModel):
    control_id: int
    site_id: int
    site_name: str
    start: datetime
    end: datetime
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
                        did=_num(e.did), low=_num(e.low), high=_num(e.high), significant=e.significant)


def followup_view(f: Followup) -> FollowupView:
    r = f.report
    return FollowupView(
        control_id=f.control.id, site_id=f.control.site_id, site_name=f.control.site_name,
        start=f.control.start_time, end=f.control.end_time, selected_on=f.selected_on,
        selection_basis=f.selection_basis, comparison_sites=list(f.comparison_sites),
        display=None if f.display is None else display_name(f.display), notes=list(f.notes),
        effect=None if r is None else EffectView(
            baseline=(r.baseline_start, r.baseline_end), baseline_days=r.baseline_days,
            share_over_limit={k: _estimate(e) for k, e in r.share_over_limit.items()},
            v85_kmh={k: _estimate(e) for k, e in r.v85.items()},
            halo_days=r.halo_days, revisit=r.revisit, notes=list(r.notes)))
