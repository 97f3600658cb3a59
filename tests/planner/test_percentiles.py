import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.percentiles import (
    histogram_cdf,
    histogram_pace,
    histogram_percentile,
    rank_for,
    vehicle_pace,
    vehicle_percentile,
)

SPEEDS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]


@pytest.mark.parametrize(
    "p,expected",
    [(0.10, 10), (0.50, 50), (0.85, 90), (0.90, 90), (0.95, 100)],
    # r = ceil(p·10): 1, 5, ceil(8.5) = 9, 9, ceil(9.5) = 10
)
def test_vehicle_percentile_is_rth_slowest(p, expected):
    assert vehicle_percentile(SPEEDS[::-1], p) == expected


def test_rank_for_is_robust_to_float_error():
    assert 0.07 * 100 > 7  # 7.000000000000001: a naive ceil would give rank 8
    assert rank_for(0.07, 100) == 7
    assert rank_for(0.85, 20) == 17


def test_histogram_percentile_by_hand():
    # bins [40,41): 10, [41,42): 20, [42,43): 70; N = 100; 0.85·N = 85; cum 10, 30, 100
    # V85 = 42 + (85 − 30)/70 · 1 = 42.785714
    counts = [10, 20, 70]
    lower = np.array([40.0, 41.0, 42.0])
    assert histogram_percentile(counts, lower, np.ones(3), 0.85) == pytest.approx(42 + 55 / 70)
    # a rounding sign: true edges half a km/h lower
    assert histogram_percentile(counts, lower - 0.5, np.ones(3), 0.85) == pytest.approx(41.5 + 55 / 70)
    # V10 = 40 + (10 − 0)/10 = 41 (exactly at the upper edge of the first bin)
    assert histogram_percentile(counts, lower, np.ones(3), 0.10) == pytest.approx(41.0)


def test_histogram_percentile_skips_empty_bins_and_batches():
    counts = np.array([[0, 0, 4, 0, 4], [2, 2, 0, 0, 0], [0, 0, 0, 0, 0]])
    lower = np.arange(5.0) * 5
    width = np.full(5, 5.0)
    got = histogram_percentile(counts, lower, width, 0.5)
    # row 0: N = 8, target 4 → bin [10,15) full: 10 + 4/4·5 = 15
    # row 1: N = 4, target 2 → bin [0,5): 0 + 2/2·5 = 5
    assert got[0] == pytest.approx(15.0)
    assert got[1] == pytest.approx(5.0)
    assert np.isnan(got[2])


def test_toronto_row_v85_from_five_kmh_bins():
    # Huntingwood Dr WB (Toronto open data, row 1): spd_05 … spd_80, none ≥ 85
    counts = [0, 860, 1414, 1539, 1808, 3083, 6313, 13315, 18263, 11458, 3257, 674, 124, 40, 9, 2, 3,
              0, 0, 0, 0]
    lower = np.arange(21) * 5.0
    width = np.r_[np.full(20, 5.0), np.inf]
    # N = 62162; 0.85·N = 52837.7; below 45: 46595; bin [45,50) holds 11458
    # V85 = 45 + (52837.7 − 46595)/11458 · 5 = 47.7242
    v85 = histogram_percentile(counts, lower, width, 0.85)
    assert v85 == pytest.approx(45 + (52837.7 - 46595) / 11458 * 5)


def test_open_top_bin_returns_its_lower_edge():
    counts = [1, 1, 8]
    assert histogram_percentile(counts, [90.0, 95.0, 100.0], [5.0, 5.0, np.inf], 0.95) == 100.0


def test_rejects_gaps_between_bins():
    with pytest.raises(ValueError, match="contiguous"):
        histogram_percentile([1, 1], [0.0, 10.0], [5.0, 5.0], 0.5)


def test_cdf_interpolates_and_ignores_open_top():
    counts = [10, 20, 30]
    lower = [0.0, 10.0, 20.0]
    width = [10.0, 10.0, np.inf]
    # F(5) = 5; F(15) = 10 + 10 = 20; F(25) = 30 (open bin not counted); F(−1) = 0
    assert histogram_cdf(counts, lower, width, [5, 15, 25, -1]).tolist() == [5, 20, 30, 0]


def test_pace_by_hand():
    speeds = [30, 41, 42, 45, 50, 50, 51, 60, 70]
    # [41, 51): 41, 42, 45, 50, 50 → 5 vehicles; no other window holds more
    pace = vehicle_pace(speeds)
    assert (pace.start_kmh, pace.count) == (41.0, 5.0)
    assert pace.share == pytest.approx(5 / 9)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=5, max_value=119), min_size=1, max_size=400))
def test_histogram_figures_match_per_vehicle_integers(speeds):
    v = np.array(speeds, dtype=float)
    counts = np.bincount(speeds, minlength=120)
    lower, width = np.arange(120.0), np.ones(120)
    for p in (0.10, 0.50, 0.85, 0.90, 0.95):
        exact = vehicle_percentile(v, p)
        # truncating sign: stored value b means a true speed in [b, b+1)
        assert exact <= histogram_percentile(counts, lower, width, p) <= exact + 1
    # pace over whole 1 km/h bins is exact for integer speeds
    assert histogram_pace(counts, lower, width).count == vehicle_pace(v).count
    # 5 km/h bins: the percentile lands in the same 5 km/h bin as the exact value
    c5 = np.bincount(np.array(speeds) // 5, minlength=24)
    h85 = histogram_percentile(c5, np.arange(24) * 5.0, np.full(24, 5.0), 0.85)
    exact = vehicle_percentile(v, 0.85)
    assert exact // 5 * 5 <= h85 <= exact // 5 * 5 + 5


def test_rounding_offset_removes_half_bin_bias():
    rng = np.random.default_rng(1)
    true = rng.normal(45, 8, 200_000)
    stored = np.round(true).astype(int)  # a rounding sign
    counts = np.bincount(stored - stored.min())
    lower = stored.min() + np.arange(counts.size, dtype=float)
    exact = vehicle_percentile(true, 0.85)
    right = histogram_percentile(counts, lower - 0.5, np.ones(counts.size), 0.85)
    wrong = histogram_percentile(counts, lower, np.ones(counts.size), 0.85)
    assert abs(right - exact) < 0.1
    assert wrong - exact == pytest.approx(0.5, abs=0.1)
