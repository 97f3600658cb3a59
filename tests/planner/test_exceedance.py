import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.exceedance import (
    histogram_excess_sum,
    histogram_over,
    limit_at,
    threshold_npcc_kmh,
    threshold_npcc_mph,
    threshold_se,
    vehicle_excess_sum,
    vehicles_over,
)


def test_thresholds():
    assert threshold_se(40) == 46.0
    assert threshold_npcc_mph([30, 40, 50]).tolist() == [35.0, 46.0, 57.0]
    # 30 mph = 48.28032 km/h → 35 mph = 56.32704 km/h
    assert threshold_npcc_kmh(48.28032) == pytest.approx(56.32704)


def test_at_the_limit_is_compliant_per_vehicle_and_from_bins():
    speeds = [49, 50, 50, 51, 56, 57]
    assert vehicles_over(speeds, 50) == 3  # 51, 56, 57
    assert vehicles_over(speeds, 56, inclusive=True) == 2  # T = 50 + 6: 56, 57
    counts = np.bincount(speeds, minlength=60)
    lower, width = np.arange(60.0), np.ones(60)
    # bin [50, 51) holds v = 50 exactly (integer source): compliant
    assert histogram_over(counts, lower, width, 50) == 3
    assert histogram_over(counts, lower, width, 56, inclusive=True) == 2
    # Σ(v − 50) over those over: 1 + 6 + 7 = 14
    assert vehicle_excess_sum(speeds, 50) == 14
    assert histogram_excess_sum(counts, lower, width, 50) == pytest.approx(14)


def test_continuous_bins_split_linearly():
    # 'exact' sign: speeds in [50, 51) are over except v = 50 itself
    counts = [4, 10, 6]
    lower, width = [49.0, 50.0, 51.0], [1.0, 1.0, 1.0]
    assert histogram_over(counts, lower, width, 50, integer=False) == 16
    assert histogram_over(counts, lower, width, 50.5, integer=False) == pytest.approx(5 + 6)


def test_five_kmh_bins_share_integers_evenly():
    # bin [50, 55) holds 50..54 evenly: 4 of 5 values are > 50; bin [45, 50) holds none
    counts = [100, 50, 20, 7]
    lower = [45.0, 50.0, 55.0, 100.0]
    width = [5.0, 5.0, 45.0, np.inf]  # last bin open: ≥ 100
    assert histogram_over(counts, lower, width, 50) == pytest.approx(50 * 0.8 + 20 + 7)
    # v ≥ 56: 44 of the 45 values 55..99 qualify → 20·44/45, plus the open bin (100 ≥ 56)
    assert histogram_over(counts, lower, width, 56, inclusive=True) == pytest.approx(20 * 44 / 45 + 7)
    # excess over 50: bin [50,55) over-part 51..54, mid 52.5 → 40·2.5 = 100;
    # [55,100): 55..99 mid 77 → 20·27 = 540; open bin at 100 → 7·50 = 350
    assert histogram_excess_sum(counts, lower, width, 50) == pytest.approx(100 + 540 + 350)
    # the open top bin is either all over or not at all
    assert histogram_over(counts, lower, width, 110) == 0


def test_per_cell_limits_broadcast():
    counts = np.array([[0, 5, 5], [0, 5, 5]])
    got = histogram_over(counts, [30.0, 40.0, 50.0], [10.0, 10.0, 10.0], np.array([40.0, 30.0]))
    # limit 40: [40,50) holds 40..49 → 9/10 over → 4.5 + 5; limit 30: all of both bins
    assert got.tolist() == [9.5, 10.0]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=99), min_size=1, max_size=300),
    st.sampled_from([30, 40, 50, 60]),
)
def test_integer_bins_are_exact(speeds, limit):
    counts = np.bincount(speeds, minlength=100)
    lower, width = np.arange(100.0), np.ones(100)
    assert histogram_over(counts, lower, width, limit) == vehicles_over(speeds, limit)
    for t in (limit + 6, threshold_npcc_kmh(limit)):
        assert histogram_over(counts, lower, width, t, inclusive=True) == vehicles_over(speeds, t, inclusive=True)
    assert histogram_excess_sum(counts, lower, width, limit) == pytest.approx(vehicle_excess_sum(speeds, limit))


def test_limit_history():
    t = np.array(["2026-01-01T00", "2026-06-01T00", "2026-06-01T01", "2027-01-01T00"], dtype="datetime64[h]")
    start = np.array(["2026-01-01T00", "2026-06-01T01"], dtype="datetime64[h]")
    assert limit_at(t, start, [50, 40]).tolist() == [50.0, 50.0, 40.0, 40.0]
    assert np.isnan(limit_at(np.datetime64("2025-12-31T23", "h"), start, [50, 40]))


def _naive_over(counts, lower, width, level, inclusive, integer):
    """Bin-by-bin reference for the module's cumulative-sum implementation."""
    total = excess = 0.0
    cut = (np.ceil(level) if inclusive else np.floor(level) + 1) if integer else level
    for c, lo, w in zip(counts, lower, width, strict=True):
        if np.isinf(w):
            frac, mid = float(lo >= cut), max(lo, cut)
        else:
            frac = min(max((lo + w - cut) / w, 0.0), 1.0)
            mid = (max(lo, cut) + lo + w - (1 if integer else 0)) / 2
        total += c * frac
        excess += c * frac * (mid - level)
    return total, excess


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=25),
    st.sampled_from([1.0, 5.0]),
    st.booleans(),
    st.booleans(),
    st.floats(min_value=-5, max_value=140),
    st.booleans(),
)
def test_histogram_sums_match_bin_by_bin_reference(counts, w, open_top, integer, level, inclusive):
    lower = np.arange(len(counts)) * w
    width = np.full(len(counts), w)
    if open_top:
        width[-1] = np.inf
    ref_over, ref_excess = _naive_over(counts, lower, width, level, inclusive, integer)
    assert histogram_over(counts, lower, width, level, inclusive=inclusive, integer=integer) == pytest.approx(ref_over)
    if not inclusive:
        assert histogram_excess_sum(counts, lower, width, level, integer=integer) == pytest.approx(ref_excess, abs=1e-6)
