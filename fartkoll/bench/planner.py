"""`fartkoll bench planner`: ranking and a 4-week schedule on a year of hourly rollups, beside a
baseline that computes the same ranking from raw ``readings`` in the same run.

Data (in a scratch database): ``sites`` sites with a legal limit each and a sign deployed a
fortnight at a time (display mode as the rollups), reporting coverage every hour; raw vehicle passes for the
last ``raw_weeks`` weeks (both directions, a day profile, lognormal whole-km/h speeds) written
with INSERT … SELECT, not through the write path; their hourly rollups recomputed from them
exactly as the write path builds them (planner.jobs.consistency.rebuild_rollups); older weeks
filled with copies of that fortnight's rollups shifted back (display mode alternating per
fortnight) up to ``weeks`` weeks. Raw readings exist only for the last ``raw_weeks`` weeks, so
the like-for-like comparison ranks the last week (and, for the trend, the week before) both ways
and checks that the two rankings agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import psycopg

from planner.cellcache import refresh
from planner.jobs.consistency import rebuild_rollups
from planner.load import CELL_COLUMNS, CellData, Period, complete_cells, load_sites, load_spans, load_tips
from planner.planning import draw_plan, make_plan, next_monday
from planner.ranking import RankResult, build_cells, current_limit_mask, rank
from planner.scoring import Ranking, rank_cells
from planner.settings import PlannerSettings
from sql import QUERIES

from .scratch import scratch_database

UTC = timezone.utc
TZ = "Europe/Stockholm"
END = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday (01:00 local); data ends here
# share of a weekday's vehicles per local hour 0..23 (the demo's weekday profile)
PROFILE = np.array([0.6, 0.35, 0.25, 0.25, 0.5, 1.6, 4.2, 8.0, 7.0, 5.0, 4.6, 5.0,
                    5.5, 5.3, 5.6, 6.8, 8.2, 7.8, 5.8, 4.4, 3.6, 2.8, 1.9, 1.1])
PROFILE = PROFILE / PROFILE.sum()


@dataclass(frozen=True)
class Timing:
    label: str
    ms: list[float]

    @property
    def best(self) -> float:
        return min(self.ms)

    @property
    def median(self) -> float:
        return float(np.median(self.ms))


@dataclass(frozen=True)
class PlannerFigures:
    sites: int
    weeks: int
    raw_weeks: int
    rollup_rows: int
    readings: int
    cells_year: int
    cells_default: int
    cells_week: int
    setup_s: float
    rank_year: Timing
    rank_default: Timing
    rank_week: Timing
    raw_week: Timing
    draw: Timing
    plan_end_to_end: Timing
    raw_plan: Timing
    controls: int
    same_ranking: bool
    default_weeks: int
    floor_default: Timing
    totals_build_s: float
    totals_week_s: float
    totals_mb: float
    plain_year: Timing
    plain_default: Timing
    stale_default: Timing

    def report(self) -> str:
        r = self
        goal = lambda ms, g: "meets" if ms < g else "MISSES"  # noqa: E731
        scale = r.weeks  # raw cost grows with the weeks scanned
        return "\n".join([
            f"data: {r.sites} sites, {r.weeks} weeks of hourly rollups ({r.rollup_rows:,} rows) and hourly coverage "
            f"records; raw readings for the "
            f"last {r.raw_weeks} weeks only ({r.readings:,} vehicle passes); set up in {r.setup_s:.0f} s",
            "times: best of the runs (median in brackets), warm cache, one server",
            "",
            f"running totals (cell_weeks): built from all rollups in {r.totals_build_s:.1f} s ({r.totals_mb:,.0f} MB); "
            f"the last week rebuilt for every site (what the 10-minute job does) in {r.totals_week_s:.2f} s",
            "",
            "ranking (planner.ranking.rank: cells of the period and of the previous one, tips, scoring)",
            f"  {r.weeks} weeks, all cells ({r.cells_year:,} cells): {_t(r.rank_year)}  goal < 300 ms: {goal(r.rank_year.best, 300)}",
            f"  default period, {r.default_weeks} weeks ({r.cells_default:,} cells): {_t(r.rank_default)}  "
            f"goal < 300 ms: {goal(r.rank_default.best, 300)}",
            f"  default period, totals a day behind (24 h of rollups summed on top): {_t(r.stale_default)}",
            f"  last week, like for like ({r.cells_week:,} cells):  {_t(r.rank_week)}",
            f"  the same rankings summed from the hourly rollups alone (no running totals): {r.weeks} weeks "
            f"{_t(r.plain_year)} ({r.plain_year.best / r.rank_year.best:.1f}x), {r.default_weeks} weeks "
            f"{_t(r.plain_default)} ({r.plain_default.best / r.rank_default.best:.1f}x)",
            f"  reference: plain GROUP BY sums of the default period's rollups, no histogram work: {_t(r.floor_default)}",
            "baseline: the same ranking computed from raw readings (SQL aggregate over readings, same scoring)",
            f"  last week: {_t(r.raw_week)}  -> rollups are {r.raw_week.best / r.rank_week.best:.1f}x faster; "
            f"same ranking: {'yes' if r.same_ranking else 'NO'}",
            f"  {r.weeks} weeks from raw readings, extrapolated x{scale} from one week (not measured): "
            f"~{r.raw_week.best * scale / 1000:.0f} s vs {r.rank_year.best / 1000:.2f} s on rollups",
            "",
            f"4-week schedule ({r.controls} controls from the settings' patrol slots)",
            f"  draw only (planning.draw_plan -> schedule.plan_controls, pure): {_t(r.draw)}  "
            f"goal < 1 s: {goal(r.draw.best, 1000)}",
            f"  end to end (planning.make_plan: rank {r.default_weeks} weeks + draw + store): {_t(r.plan_end_to_end)}  "
            f"goal < 1 s: {goal(r.plan_end_to_end.best, 1000)}",
            f"  baseline: rank last week from raw readings + draw: {_t(r.raw_plan)} "
            f"(rollup ranking of the same week + draw: {r.rank_week.best + r.draw.best:,.0f} ms)",
        ])


def _t(t: Timing) -> str:
    return f"{t.best:8,.0f} ms ({t.median:,.0f})"


def _timed(label: str, fn: Callable[[], object], runs: int) -> tuple[Timing, object]:
    ms, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        ms.append(1000 * (time.perf_counter() - t))
    return Timing(label, ms), out


def build_data(conn: psycopg.Connection, *, sites: int, weeks: int, raw_weeks: int, seed: float = 0.42,
               log: Callable[[str], object] = print) -> None:
    """Write the benchmark's sites, raw readings and a year of rollups (see the module docstring)."""
    if raw_weeks < 2 or raw_weeks % 2 or weeks % raw_weeks:
        raise ValueError(f"raw_weeks ({raw_weeks}) must be even and divide weeks ({weeks})")
    conn.execute(QUERIES["bench_planner_seed"], {"seed": seed})
    conn.execute(QUERIES["bench_planner_sites"], {"sites": sites})
    conn.execute(QUERIES["bench_planner_limits"], {})
    conn.execute(QUERIES["bench_planner_params_create"], {})
    raw_start = END - timedelta(weeks=raw_weeks)
    t = time.perf_counter()
    for k in range(raw_weeks):  # a week per statement keeps memory flat
        lo = raw_start + timedelta(weeks=k)
        conn.execute(QUERIES["bench_planner_readings"], {"start": lo, "end": lo + timedelta(weeks=1),
                                                         "profile": PROFILE.tolist()})
        conn.commit()
    log(f"  raw readings: {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    rebuild_rollups(conn, raw_start, END)
    conn.commit()
    log(f"  their rollups: {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    for k in range(1, weeks // raw_weeks):
        conn.execute(QUERIES["bench_planner_copy_rollups"],
                     {"k": k * raw_weeks // 2, "start": raw_start, "end": END})
    conn.execute(QUERIES["bench_planner_tips"], {"end": END, "n": max(1, sites // 20)})
    conn.commit()
    log(f"  older rollups: {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    conn.execute(QUERIES["bench_planner_signs"], {"end": END, "fortnights": weeks // 2})
    conn.execute(QUERIES["bench_planner_coverage"], {"start": END - timedelta(weeks=weeks), "end": END})
    conn.commit()
    log(f"  signs and coverage: {time.perf_counter() - t:.0f} s")
    conn.execute("ANALYZE")
    conn.commit()


def raw_rank(conn: psycopg.Connection, planner: PlannerSettings, period: Period, over_kmh: float) -> Ranking:
    """The ranking of ``rank`` for ``period``, with cells aggregated from raw readings instead of rollups."""
    sites = load_sites(conn)

    def cells(p: Period) -> CellData:
        rows = conn.execute(QUERIES["bench_planner_raw_cells"],
                            {"start": p.start, "end": p.end, "over_kmh": over_kmh}).fetchall()
        ints = {"site_id", "direction", "display", "limit_kmh", "hour_of_week", "n", "hours_with_data", "weeks"}
        cols = {name: np.array([r[i] for r in rows], dtype=np.int64 if name in ints else np.float64)
                for i, name in enumerate(CELL_COLUMNS)}
        order = np.lexsort([cols[k] for k in ("hour_of_week", "limit_kmh", "display", "direction", "site_id")])
        cols = {k: v[order] for k, v in cols.items()}
        spans = load_spans(conn, p, sites, planner, over_kmh)
        # coverage, quality and thresholds as the ranking adds them, from coverage_hourly
        c = complete_cells(conn, cols, p, spans, sites, planner)
        return c.where(current_limit_mask(c))

    cur, prev = cells(period), cells(period.previous())
    tips = load_tips(conn, period.end - timedelta(days=planner.tips_days), period.end, planner.tip_radius_m)
    return rank_cells(build_cells(cur, prev, sites, tips), planner.weights.score_weights())


def same_ranking(a: Ranking, b: Ranking, rows: int = 200) -> bool:
    """The same cells in the same order with the same totals (first ``rows``)."""
    ca, cb = a.columns, b.columns
    if len(a) != len(b):
        return False
    k = min(rows, len(a))
    keys = ("site_id", "direction", "display", "hour_of_week")
    return all(np.array_equal(ca[n][:k], cb[n][:k]) for n in keys) and np.allclose(ca["total"][:k], cb["total"][:k],
                                                                                   rtol=1e-9)


def run(server_url: str, *, sites: int = 200, weeks: int = 52, raw_weeks: int = 2, runs: int = 3,
        log: Callable[[str], object] = print) -> PlannerFigures:
    planner = PlannerSettings()
    over = 6.0
    with scratch_database(server_url, "planner") as url, psycopg.connect(url) as conn:
        log(f"generating {sites} sites x {weeks} weeks ...")
        t0 = time.perf_counter()
        build_data(conn, sites=sites, weeks=weeks, raw_weeks=raw_weeks, log=log)
        setup_s = time.perf_counter() - t0
        counts = conn.execute(QUERIES["bench_planner_counts"], {}).fetchone()
        year = Period(END - timedelta(weeks=weeks), END)
        default = Period(END - timedelta(weeks=planner.period_weeks), END)
        week = Period(END - timedelta(weeks=1), END)

        log("running totals ...")
        t = time.perf_counter()
        refresh(conn, planner, over_kmh=over, until=END)
        totals_build_s = time.perf_counter() - t
        totals_mb = conn.execute(QUERIES["bench_planner_totals_size"]).fetchone()[0] / 1e6
        conn.execute(QUERIES["bench_planner_totals_back"], {"through": END - timedelta(days=7)})
        conn.commit()
        t = time.perf_counter()
        refresh(conn, planner, over_kmh=over, until=END)
        totals_week_s = time.perf_counter() - t

        log("ranking ...")
        rank_year, res_year = _timed("year", lambda: rank(conn, planner, over_kmh=over, period=year), max(1, runs - 1))
        rank_default, res_default = _timed("default", lambda: rank(conn, planner, over_kmh=over, period=default), runs)
        rank_week, res_week = _timed("week", lambda: rank(conn, planner, over_kmh=over, period=week), runs)
        plain_year, plain_res = _timed("plain year", lambda: rank(conn, planner, over_kmh=over, period=year,
                                                                  use_cache=False), 1)
        plain_default, _ = _timed("plain default", lambda: rank(conn, planner, over_kmh=over, period=default,
                                                                use_cache=False), runs)
        if not same_ranking(res_year.ranking, plain_res.ranking, rows=len(res_year.ranking)):
            raise AssertionError("the ranking from the running totals differs from the one summed from the rollups")
        conn.execute(QUERIES["bench_planner_totals_back"], {"through": END - timedelta(days=1)})
        stale_default, _ = _timed("stale", lambda: rank(conn, planner, over_kmh=over, period=default), runs)
        conn.rollback()
        floor, _ = _timed("floor", lambda: conn.execute(QUERIES["bench_planner_floor"], {
            "start": default.start, "end": default.end}).fetchall(), runs)
        log("baseline from raw readings ...")
        raw_week, raw_ranking = _timed("raw", lambda: raw_rank(conn, planner, week, over), runs)
        if not (isinstance(res_week, RankResult) and isinstance(res_default, RankResult)):
            raise TypeError("the rankings did not return RankResult")

        log("schedule ...")
        first = next_monday(date(2026, 1, 5))
        slots = planner.slots_for(first, 4)
        draw, drawn = _timed("draw", lambda: draw_plan(res_default, slots, 7, planner, TZ), runs)

        def end_to_end():
            out = make_plan(conn, planner, slots=slots, seed=7, actor="bench", tz=TZ, over_kmh=over, period=default)
            conn.rollback()
            return out

        plan_e2e, _ = _timed("make_plan", end_to_end, runs)

        def raw_plan():
            ranking = raw_rank(conn, planner, week, over)
            return draw_plan(RankResult(week, week.previous(), ranking, (), res_week.site_info, res_week.tips, (), (),
                                        res_week.cells), slots, 7, planner, TZ)

        raw_plan_t, _ = _timed("raw plan", raw_plan, runs)
        return PlannerFigures(
            sites, weeks, raw_weeks, counts[0], counts[1], len(res_year.ranking), len(res_default.ranking),
            len(res_week.ranking), setup_s, rank_year, rank_default, rank_week, raw_week, draw, plan_e2e, raw_plan_t,
            len(drawn[0].controls), same_ranking(res_week.ranking, raw_ranking), planner.period_weeks, floor,
            totals_build_s, totals_week_s, totals_mb, plain_year, plain_default, stale_default)
