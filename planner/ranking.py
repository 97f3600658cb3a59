"""Rank sites and site × direction × hour-of-week cells for enforcement: load + scoring.

``rank(conn, planner_settings)`` loads the period's cells (planner.load), keeps the data under
the legal limit in force at the period's end (older limits would mix two regimes; the cells are
flagged LIMIT_CHANGED), adds school zones, citizen tips and the trend against the previous period
of equal length, and scores with planner.scoring (stealth data preferred, Wilson lower bounds).
``build_cells`` and ``rank_sites`` are the pure parts.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import psycopg
from numpy.typing import NDArray

from planner.load import (
    CellData,
    Period,
    SiteInfo,
    default_period,
    load_cells,
    load_site_rules,
    load_sites,
    load_tips,
    previous_cells,
)
from planner.scoring import Cells, Ranking, ScoreRow, ScoreWeights, rank_cells
from planner.settings import PlannerSettings

if TYPE_CHECKING:
    from planner.rankview import RankingView


@dataclass(frozen=True)
class SiteRank:
    """One site's place in the ranking: its best cell and the sum of its three best cells."""

    site_id: int
    name: str
    best_total: float
    top3_total: float
    cells: int
    vehicles: int
    tips: int
    pinned: bool
    best: ScoreRow
    top: tuple[ScoreRow, ...] = ()
    """The site's best cells (up to TOP_CELLS), best first: its best hours."""


TOP_CELLS = 3


@dataclass(frozen=True)
class RankResult:
    period: Period
    previous: Period
    ranking: Ranking
    sites: tuple[SiteRank, ...]
    site_info: dict[int, SiteInfo]
    tips: dict[int, int]
    pinned: tuple[int, ...]
    excluded: tuple[int, ...]
    cells: CellData
    """The scored period's cells (current limit only), as loaded."""
    timings_ms: dict[str, float] = field(default_factory=dict)

    def view(self, limit: int | None = None, *, sites: Collection[int] | None = None,
             every_site: bool = False) -> "RankingView":
        """The typed JSON shape (planner.rankview): period, sites and the first ``limit`` cells
        (see :func:`planner.rankview.ranking_view` for ``sites`` and ``every_site``)."""
        from planner.rankview import ranking_view

        return ranking_view(self, limit, sites=sites, every_site=every_site)

    def site_ids(self) -> set[int]:
        """Every site ranked or with ranked cells."""
        return {s.site_id for s in self.sites} | self.ranking.site_ids()

    def as_dict(self, limit: int | None = None) -> dict:
        """JSON-ready: period, sites and the first ``limit`` cells with every part of the score."""
        return self.view(limit).model_dump(mode="json", by_alias=True)


def current_limit_mask(cells: CellData) -> NDArray[np.bool_]:
    """Cells under the limits in force at the period's end: per site its last standing span and,
    where one reaches the end, its timed span (a school zone's weekday hours keep their cells)."""
    last: dict[tuple[int, bool], int] = {}
    for s in sorted(cells.spans, key=lambda s: s.start):
        if not s.timed or s.end >= cells.period.end:
            last[(s.site_id, s.timed)] = s.limit_kmh
        elif last.get((s.site_id, True)) is not None:
            del last[(s.site_id, True)]
    site, limit = cells["site_id"], cells["limit_kmh"]
    standing = _per_site(site, {k[0]: v for k, v in last.items() if not k[1]}, -1)
    timed = _per_site(site, {k[0]: v for k, v in last.items() if k[1]}, -1)
    return (limit == standing) | (limit == timed)


def _per_site(site: NDArray, values: dict[int, int | bool], default: int | bool) -> NDArray:
    """values[site] for each element of ``site`` (``default`` for sites not in ``values``)."""
    ids = np.array(sorted(values), dtype=np.int64)
    vals = np.array([values[int(i)] for i in ids] + [default])
    if not len(ids):
        return np.full(len(site), default)
    j = np.clip(np.searchsorted(ids, site), 0, len(ids) - 1)
    return np.where(ids[j] == site, vals[j], vals[-1])


def _key(c: CellData) -> NDArray[np.int64]:
    return ((c["site_id"].astype(np.int64) * 4 + c["direction"]) * 2 + c["display"]) * 168 + c["hour_of_week"]


def build_cells(current: CellData, previous: CellData | None, sites: dict[int, SiteInfo],
                tips: dict[int, int]) -> Cells:
    """scoring.Cells from loaded cells (already restricted to one limit per site).

    ``prev_share`` is the previous period's share over the threshold in the same site ×
    direction × display × hour-of-week under the same limit (NaN otherwise: trend unknown).
    """
    prev = np.full(len(current), np.nan)
    if previous is not None and len(previous):
        pk = _key(previous)
        order = np.argsort(pk)
        pk = pk[order]
        with np.errstate(divide="ignore", invalid="ignore"):
            p_share = (previous["over_threshold"] / previous["n"])[order]
        p_lim = previous["limit_kmh"][order]
        k = _key(current)
        j = np.clip(np.searchsorted(pk, k), 0, max(len(pk) - 1, 0))
        hit = (pk[j] == k) & (p_lim[j] == current["limit_kmh"])
        prev = np.where(hit, p_share[j], np.nan)
    site = current["site_id"]
    school = _per_site(site, {i: s.school for i, s in sites.items()}, False).astype(bool)
    n_tips = _per_site(site, tips, 0).astype(np.int64)
    return Cells(
        site_id=site, direction=current["direction"], hour_of_week=current["hour_of_week"], n=current["n"],
        over_threshold=current["over_threshold"], over_limit=current["over_limit"],
        excess_sum_kmh=current["excess_sum_kmh"], hours_observed=current["hours_observed"],
        weeks_observed=current["weeks"], limit_kmh=current["limit_kmh"], display=current["display"],
        school=school, tips=n_tips, prev_share=prev, quality=current["quality"],
    )


def rank_sites(ranking: Ranking, sites: dict[int, SiteInfo], tips: dict[int, int]) -> list[SiteRank]:
    """Sites ordered pinned first, then by their best cell's total (ties: top-3 sum, id)."""
    c = ranking.columns
    site = c["site_id"]
    if not len(site):
        return []
    # rows are sorted best first: a site's first row is its best, its first three its top 3
    ids, first, inv, count = np.unique(site, return_index=True, return_inverse=True, return_counts=True)
    grouped = np.argsort(inv, kind="stable")
    place = np.empty(len(site), dtype=np.int64)
    place[grouped] = np.arange(len(site)) - np.repeat(np.cumsum(count) - count, count)
    top3 = np.bincount(inv, weights=np.where(place < 3, c["total"], 0.0), minlength=len(ids))
    vehicles = np.bincount(inv, weights=c["n"], minlength=len(ids))
    names = [f.name for f in fields(ScoreRow)]
    tops: dict[int, list[int]] = {}
    for row in np.flatnonzero(place < TOP_CELLS).tolist():  # rows best first
        tops.setdefault(int(inv[row]), []).append(row)

    def row_at(i: int) -> ScoreRow:
        return ScoreRow(*(c[name][i].item() for name in names))

    out = []
    for k, sid in enumerate(ids.tolist()):
        best = row_at(first[k])
        out.append(SiteRank(sid, sites[sid].name if sid in sites else str(sid), best.total, float(top3[k]),
                            int(count[k]), int(vehicles[k]), tips.get(sid, 0), best.pinned, best,
                            tuple(row_at(i) for i in tops.get(k, []))))
    out.sort(key=lambda s: (not s.pinned, -s.best_total, -s.top3_total, s.site_id))
    return out


def rank(
    conn: psycopg.Connection,
    planner: PlannerSettings,
    *,
    over_kmh: float = 6.0,
    period: Period | None = None,
    pins: tuple[int, ...] | list[int] = (),
    excludes: tuple[int, ...] | list[int] = (),
    stored_rules: bool = True,
    weights: ScoreWeights | None = None,
    use_cache: bool = True,
) -> RankResult:
    """Rank the period (default: ``planner.period_weeks`` ending at the latest data).

    ``pins``/``excludes`` (site ids) add to the stored ones (planner_site_rules) unless
    ``stored_rules`` is False; a site both pinned and excluded is excluded. ``use_cache=False``
    sums every cell from the hourly rollups instead of the running totals (the same result).
    """
    t0 = time.perf_counter()
    period = period or default_period(conn, planner.period_weeks)
    sites = load_sites(conn)
    cur = load_cells(conn, period, planner, over_kmh=over_kmh, sites=sites, with_previous=True, use_cache=use_cache)
    prev_period = period.previous()
    prev = previous_cells(cur)
    t2 = time.perf_counter()
    tips = load_tips(conn, period.end - timedelta(days=planner.tips_days), period.end, planner.tip_radius_m)
    rules = load_site_rules(conn) if stored_rules else {"pin": [], "exclude": []}
    pinned = tuple(sorted(set(rules["pin"]) | set(pins)))
    excluded = tuple(sorted(set(rules["exclude"]) | set(excludes)))
    cur = cur.where(current_limit_mask(cur))
    prev = prev.where(current_limit_mask(prev))
    cells = build_cells(cur, prev, sites, tips)
    ranking = rank_cells(cells, weights or planner.weights.score_weights(), pinned, excluded)
    site_ranks = rank_sites(ranking, sites, tips)
    t3 = time.perf_counter()
    timings = {"load": 1000 * (t2 - t0), "score": 1000 * (t3 - t2), "total": 1000 * (t3 - t0)}
    return RankResult(period, prev_period, ranking, tuple(site_ranks), sites, tips, pinned, excluded, cur, timings)
