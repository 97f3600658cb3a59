"""The planner benchmark runs end to end on a small load: the ranking from the running totals,
from the rollups alone and from raw readings agree (figures are printed, not asserted)."""

from fartkoll.bench.planner import PlannerFigures, run


def test_bench_planner_ranks_three_ways_and_plans(server_url):
    figures = run(server_url, sites=5, weeks=4, raw_weeks=2, runs=1, log=lambda m: None)
    assert isinstance(figures, PlannerFigures)
    assert figures.same_ranking  # rollups vs raw readings, last week
    assert figures.cells_year > 0 and figures.cells_default > 0 and figures.controls > 0
    assert figures.totals_mb > 0 and 0 < figures.rollup_rows <= 5 * 2 * 4 * 168
    text = figures.report()
    for label in ("running totals", "goal < 300 ms", "rollups alone", "raw readings", "goal < 1 s"):
        assert label in text
