"""The ranking as a typed model: what ``fartkoll planner rank --json`` prints and the API answers.
Every part of each cell's score is shown; direction and display mode are names."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import asdict
from datetime import datetime

from pydantic import BaseModel

from planner.names import DirectionName, DisplayName, direction_name, display_name
from planner.scoring import WEEKDAYS, ScoreRow
from planner.sitestats import PeriodView


class RunningTotals(BaseModel):
    """Sites whose cells came from the running totals (cell_weeks), and the earliest hour they reach."""

    sites: int
    through: datetime | None


class CellView(BaseModel):
    """One site × direction × local hour-of-week cell with every part of its score (null: unknown)."""

    site_id: int
    site_name: str
    direction: DirectionName
    display: DisplayName
    hour_of_week: int
    weekday: str
    hour: int
    n: int
    share_over_threshold: float | None
    share_low: float | None
    share_high: float | None
    vehicles_per_hour: float | None
    expected_reportable: float | None
    """Vehicles per hour × share over threshold / 3: reportable vehicles per 20-minute control."""
    reportable_low: float | None
    """The same with the Wilson lower bound: the score's base."""
    severity_kmh: float | None
    severity_factor: float | None
    vulnerability_factor: float | None
    tips: int
    tips_factor: float | None
    trend_pp: float | None
    trend_factor: float | None
    pinned: bool
    total: float | None
    flags: int
    warnings: list[str]


class SiteRankView(BaseModel):
    """A site's place: its best cell and the sum of its three best."""

    site_id: int
    name: str
    best_total: float | None
    top3_total: float | None
    cells: int
    vehicles: int
    tips: int
    pinned: bool
    best_cell: CellView
    best_hours: list[CellView]
    """The site's best cells (up to three), best first; the first is ``best_cell``."""


class RankingView(BaseModel):
    period: PeriodView
    previous_period: PeriodView
    running_totals: RunningTotals
    pinned: list[int]
    excluded: list[int]
    sites: list[SiteRankView]
    cells: list[CellView]


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)


def cell_view(r: ScoreRow, names: dict[int, str]) -> CellView:
    day, hour = divmod(int(r.hour_of_week), 24)
    d = {k: (_num(v) if isinstance(v, float) else v) for k, v in asdict(r).items()}
    d.update(site_name=names.get(r.site_id, ""), weekday=WEEKDAYS[day], hour=hour,
             direction=direction_name(r.direction), display=display_name(r.display), warnings=r.warnings)
    return CellView(**d)


def ranking_view(result, limit: int | None = None, *, sites: Collection[int] | None = None,
                 every_site: bool = False) -> RankingView:
    """The first ``limit`` sites and cells of a :class:`planner.ranking.RankResult` (every site
    with ``every_site``); only those of ``sites`` when given (a viewer's scope), so no view is
    built for a cell that is not shown."""
    names = {i: s.name for i, s in result.site_info.items()}
    ranked = [s for s in result.sites if sites is None or s.site_id in sites][:None if every_site else limit]
    through = result.cells.through
    return RankingView(
        period=PeriodView(from_=result.period.start, to=result.period.end),
        previous_period=PeriodView(from_=result.previous.start, to=result.previous.end),
        running_totals=RunningTotals(sites=len(through), through=min(through.values()) if through else None),
        pinned=list(result.pinned), excluded=list(result.excluded),
        sites=[SiteRankView(site_id=s.site_id, name=s.name, best_total=_num(s.best_total),
                            top3_total=_num(s.top3_total), cells=s.cells, vehicles=s.vehicles, tips=s.tips,
                            pinned=s.pinned, best_cell=cell_view(s.best, names),
                            best_hours=[cell_view(r, names) for r in s.top]) for s in ranked],
        cells=[cell_view(r, names) for r in result.ranking.rows(limit, sites)])
