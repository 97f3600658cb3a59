import numpy as np
import pytest

from planner.quality import Quality
from planner.scoring import Cells, exceedance_counts, rank_cells


def cells(**kw):
    base = dict(site_id=[1], direction=[1], hour_of_week=[31], n=[400], over_threshold=[100],
                over_limit=[200], excess_sum_kmh=[1000.0], hours_observed=[4.0], weeks_observed=[4],
                limit_kmh=[50])
    base.update(kw)
    return Cells(**base)


def test_parts_by_hand():
    row = rank_cells(cells(school=[True], limit_kmh=[30], tips=[3], prev_share=[0.20])).rows()[0]
    # vehicles per hour 400 / 4 = 100; share 100/400 = 0.25 → 100 · 0.25 / 3 = 8.333
    assert row.vehicles_per_hour == 100
    assert row.expected_reportable == pytest.approx(25 / 3)
    # Wilson low of 100/400: centre 0.25 + 0.004802 = 0.254802; half = 1.96·√(0.00046875 + 0.0000060025)
    # = 0.0427061; low = (0.254802 − 0.0427061) / 1.009604 = 0.210078
    assert row.share_low == pytest.approx(0.210078, abs=1e-5)
    assert row.reportable_low == pytest.approx(100 * 0.210078 / 3, abs=1e-4)
    # severity 1000 / 400 = 2.5 km/h → 1.25; school + 30 km/h → 1.8; 3 tips → 1.3; +5 pp → 1.05
    assert row.severity_kmh == 2.5 and row.severity_factor == pytest.approx(1.25)
    assert row.vulnerability_factor == pytest.approx(1.8)
    assert row.tips_factor == pytest.approx(1.3)
    assert row.trend_pp == pytest.approx(5.0) and row.trend_factor == pytest.approx(1.05)
    assert row.total == pytest.approx(100 * 0.210078 / 3 * 1.25 * 1.8 * 1.3 * 1.05, abs=1e-3)
    assert "Tue 07–08" in row.explain() and "= 21.5" in row.explain()


def test_limit_40_vulnerability_unknown_trend_and_caller_flags():
    row = rank_cells(cells(limit_kmh=[40], quality=[Quality.LOW_COVERAGE])).rows()[0]
    assert row.flags == Quality.LOW_COVERAGE
    assert row.warnings == ["low coverage (sign measured < 75 % of the hours)"]
    assert row.vulnerability_factor == pytest.approx(1.15)
    assert np.isnan(row.trend_pp) and row.trend_factor == 1.0


def test_small_cell_does_not_outrank_busy_one_with_similar_share():
    # same traffic per hour (40/h); the small cell was observed one hour: 30 of 40 (75 %),
    # the busy one ten hours: 280 of 400 (70 %). Plain shares favour the small cell.
    r = rank_cells(cells(site_id=[1, 2], direction=[1, 1], hour_of_week=[8, 8], n=[40, 400],
                         over_threshold=[30, 280], over_limit=[35, 350], excess_sum_kmh=[350, 3500],
                         hours_observed=[1, 10], weeks_observed=[1, 10], limit_kmh=[50, 50]))
    rows = r.rows()
    assert [x.site_id for x in rows] == [2, 1]
    assert rows[1].share_over_threshold > rows[0].share_over_threshold
    assert rows[1].flags & Quality.FEW_WEEKS
    # and 3 of 4 in a quiet hour ranks below 700 of 1000 in a busy one
    r = rank_cells(cells(site_id=[1, 2], direction=[1, 1], hour_of_week=[8, 8], n=[4, 1000],
                         over_threshold=[3, 700], over_limit=[3, 800], excess_sum_kmh=[30, 8000],
                         hours_observed=[4, 4], weeks_observed=[4, 4], limit_kmh=[50, 50]))
    assert r.rows()[0].site_id == 2
    assert r.rows()[1].flags & Quality.INSUFFICIENT


def test_stealth_preferred_pinning_and_exclusion():
    c = cells(site_id=[1, 1, 2, 3, 4], direction=[1] * 5, hour_of_week=[8] * 5,
              display=[0, 1, 1, 0, 1], n=[200, 900, 100, 100, 50],
              over_threshold=[20, 600, 10, 50, 5], over_limit=[40] * 5, excess_sum_kmh=[100.0] * 5,
              hours_observed=[4] * 5, weeks_observed=[4] * 5, limit_kmh=[50] * 5)
    rows = rank_cells(c).rows()
    # site 1: the stealth row (200 vehicles) replaces the display-on row
    assert [(x.site_id, x.display) for x in rows if x.site_id == 1] == [(1, 0)]
    assert rows[0].site_id == 3
    rows = rank_cells(c, pinned_sites=[4], excluded_sites=[3]).rows()
    assert rows[0].site_id == 4 and rows[0].pinned
    assert 3 not in [x.site_id for x in rows]
    # too little stealth data: keep the display-on row too
    c2 = cells(site_id=[1, 1], direction=[1, 1], hour_of_week=[8, 8], display=[0, 1], n=[10, 900],
               over_threshold=[2, 600], over_limit=[4, 700], excess_sum_kmh=[10, 100],
               hours_observed=[4, 4], weeks_observed=[4, 4], limit_kmh=[50, 50])
    assert sorted(x.display for x in rank_cells(c2).rows()) == [0, 1]


def test_sorted_by_total_and_rows_limit():
    rng = np.random.default_rng(3)
    n = rng.integers(0, 500, 300)
    r = rank_cells(cells(site_id=np.arange(300), direction=1, hour_of_week=0, n=n,
                         over_threshold=(n * rng.random(300)).round(), over_limit=0, excess_sum_kmh=0.0,
                         hours_observed=4, weeks_observed=4, limit_kmh=50))
    assert len(r) == 300
    assert np.all(np.diff(r.columns["total"]) <= 0)
    assert len(r.rows(10)) == 10
    some = {5, 17, 250, 299, 1000}  # 1000 has no cell
    chosen = r.rows(3, sites=some)
    expected = [x for x in r.rows() if x.site_id in some][:3]
    assert [(x.site_id, x.total) for x in chosen] == [(x.site_id, x.total) for x in expected] and len(chosen) == 3
    assert {x.site_id for x in r.rows(None, sites=some)} == some - {1000}
    assert r.rows(5, sites=set()) == [] and r.site_ids() == set(range(300))


def test_exceedance_counts_from_histograms():
    hist = np.zeros((2, 80))
    hist[0, [50, 51, 56]] = [5, 3, 2]  # limit 50, T 56: over limit 5, over T 2; excess 3·1 + 2·6 = 15
    hist[1, [30, 37]] = [1, 1]  # limit 30, T 36: over limit 1, over T 1; excess 7
    got = exceedance_counts(hist, np.arange(80.0), np.ones(80), np.array([50, 30]), np.array([56, 36]))
    assert got["over_limit"].tolist() == [5, 1]
    assert got["over_threshold"].tolist() == [2, 1]
    assert got["excess_sum_kmh"].tolist() == [15, 7]


def test_ranks_67k_cells_in_total_order_with_every_cell():
    # the speed of this size is measured by `fartkoll bench planner`, not asserted here
    rng = np.random.default_rng(0)
    sites, dirs, hours = np.meshgrid(np.arange(200), [1, 2], np.arange(168), indexing="ij")
    size = sites.size  # 200 · 2 · 168 = 67 200
    n = rng.poisson(200, size).astype(float)
    c = Cells(site_id=sites.ravel(), direction=dirs.ravel(), hour_of_week=hours.ravel(), n=n,
              over_threshold=rng.binomial(n.astype(int), 0.2), over_limit=rng.binomial(n.astype(int), 0.5),
              excess_sum_kmh=n * 3.0, hours_observed=rng.uniform(1, 8, size), weeks_observed=8,
              limit_kmh=rng.choice([30, 40, 50], size), display=rng.integers(0, 2, size),
              school=rng.random(size) < 0.1, tips=rng.poisson(0.3, size), prev_share=rng.random(size) * 0.3)
    ranked = rank_cells(c)
    assert len(ranked) == size  # one display mode per cell: nothing dropped
    total = ranked.columns["total"]
    assert np.all(np.diff(total) <= 0)
    keys = set(zip(ranked.columns["site_id"].tolist(), ranked.columns["direction"].tolist(),
                   ranked.columns["hour_of_week"].tolist(), strict=True))
    assert len(keys) == size
