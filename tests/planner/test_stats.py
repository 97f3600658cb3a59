import math

import numpy as np
import pytest

from planner.stats import Histogram, moments_from_sums, summarise_histogram, summarise_speeds


def test_summary_by_hand():
    speeds = [30, 40, 48, 50, 52, 55, 56, 60, 62, 67]
    s = summarise_speeds(speeds, limit_kmh=50)
    assert s.n == 10
    assert s.mean == pytest.approx(52.0)  # 520 / 10
    # Σ(v − 52)² = 484 + 144 + 16 + 4 + 0 + 9 + 16 + 64 + 100 + 225 = 1062; / 9
    assert s.sd == pytest.approx(math.sqrt(1062 / 9))
    assert s.percentiles["v85"] == 62  # r = ceil(8.5) = 9
    assert s.v85_excess_kmh == 12
    # over 50: 52, 55, 56, 60, 62, 67 → 6 of 10; excess 2+5+6+10+12+17 = 52
    assert s.over_limit.k == 6 and s.over_limit.share == 0.6
    assert s.mean_excess_kmh == pytest.approx(52 / 6)
    assert s.severity_kmh == pytest.approx(0.6 * 52 / 6)  # = 5.2
    # over 50+5: 56, 60, 62, 67; over 50+10: 62, 67; +20, +30: none
    assert {k: v.k for k, v in s.over_limit_plus.items()} == {5: 4, 10: 2, 20: 0, 30: 0}
    # T = 56, v ≥ 56: 56, 60, 62, 67
    assert s.threshold_kmh == 56 and s.over_threshold.k == 4
    assert s.over_threshold.low < 0.4 < s.over_threshold.high
    # pace [48, 58): 48, 50, 52, 55, 56 → 5 of 10
    assert (s.pace_start_kmh, s.pace_share) == (48, 0.5)


def test_histogram_summary_matches_per_vehicle():
    rng = np.random.default_rng(7)
    speeds = np.floor(rng.normal(47, 8, 5000)).clip(5, 120).astype(int)
    v = summarise_speeds(speeds, 40)
    h = summarise_histogram(
        Histogram.unit(np.bincount(speeds - 5), start=5), 40,
        sums=(float(speeds.sum()), float((speeds.astype(float) ** 2).sum())),
    )
    assert h.n == v.n
    assert h.mean == pytest.approx(v.mean) and h.sd == pytest.approx(v.sd)
    for name, exact in v.percentiles.items():
        assert exact <= h.percentiles[name] <= exact + 1
    assert h.over_limit == v.over_limit
    assert h.over_limit_plus == v.over_limit_plus
    assert h.over_threshold == v.over_threshold
    assert h.severity_kmh == pytest.approx(v.severity_kmh)
    assert h.pace_share == v.pace_share


def test_mean_from_bin_middles_without_sums():
    h = Histogram.binned([2, 2], [40, 45], [45, 50])
    s = summarise_histogram(h, 50)
    assert s.mean == pytest.approx(45.0)  # middles 42.5 and 47.5
    assert s.over_limit.k == 0


def test_rounding_sign_moves_percentiles_not_exceedance():
    counts = np.zeros(60)
    counts[[50, 51, 52]] = [10, 10, 10]
    trunc = summarise_histogram(Histogram.unit(counts), 50)
    rnd = summarise_histogram(Histogram.unit(counts, rounding="round"), 50)
    assert rnd.v85 == pytest.approx(trunc.v85 - 0.5)
    assert not trunc.exact_percentiles
    assert rnd.over_limit == trunc.over_limit  # 51 and 52 as reported: 20 of 30
    assert rnd.over_limit.k == 20


@pytest.mark.parametrize("rounding", ["truncate", "round"])
def test_whole_kmh_sign_gives_the_vehicles_own_percentiles(rounding):
    counts = np.zeros(60)
    counts[[50, 51, 52]] = [10, 10, 10]
    s = summarise_histogram(Histogram.unit(counts, rounding=rounding, sign_unit="kmh"), 50)
    # r = ceil(0.85 · 30) = 26 → the 26th slowest drove 52 (as the sign reported it), not 52.55
    assert s.v85 == 52 and s.percentiles["v50"] == 51 and s.percentiles["v10"] == 50
    assert s.exact_percentiles and s.exact_shares
    assert s.over_limit.k == 20


def test_whole_mph_sign_percentiles_are_mph_values():
    rng = np.random.default_rng(3)
    mph = rng.integers(20, 45, 2001)
    kmh = (mph * 1.609344).astype(np.float32)  # readings.speed_kmh
    bins = np.floor(kmh).astype(int)
    h = Histogram.unit(np.bincount(bins - 30), start=30, sign_unit="mph")
    assert h.exact
    s = summarise_histogram(h, 30 * 1.609344)
    per_vehicle = summarise_speeds(mph * 1.609344, 30 * 1.609344)
    for name, exact in per_vehicle.percentiles.items():
        assert s.percentiles[name] == pytest.approx(exact)
        assert (s.percentiles[name] / 1.609344) == pytest.approx(round(s.percentiles[name] / 1.609344))
    # 30 mph exactly is compliant; 31 mph is over
    assert s.over_limit.k == np.count_nonzero(mph > 30) == per_vehicle.over_limit.k
    assert s.over_threshold.k == per_vehicle.over_threshold.k
    assert s.pace_share == pytest.approx(per_vehicle.pace_share)
    assert s.severity_kmh == pytest.approx(per_vehicle.severity_kmh)


def test_34_mph_is_54_72_kmh():
    # 100 vehicles: 84 at 30 mph, 16 at 34 mph: the 85th drove 34 mph
    kmh = np.floor(np.float32(np.array([30] * 84 + [34] * 16) * 1.609344)).astype(int)
    s = summarise_histogram(Histogram.unit(np.bincount(kmh), sign_unit="mph"), 48)
    assert s.v85 == pytest.approx(54.717696) and s.v85 / 1.609344 == pytest.approx(34)


def test_tenth_kmh_radar_is_interpolated_and_says_so():
    h = Histogram.unit([10, 10, 10], start=50, rounding="exact", sign_unit="kmh")
    s = summarise_histogram(h, 50)
    assert not h.exact and not s.exact_percentiles
    assert 52 < s.v85 < 53  # 52 + (25.5 − 20) / 10


def test_binned_5kmh_percentile_and_shares_by_hand():
    # Toronto README row 1 shape: V85 = 45 + (0.85·N − F_prev) / f · 5
    counts = [10, 20, 40, 20, 10]
    h = Histogram.binned(counts, [30, 35, 40, 45, 50], [35, 40, 45, 50, np.inf], integer=False)
    s = summarise_histogram(h, 40, threshold_kmh=45)
    assert s.v85 == pytest.approx(45 + (85 - 70) / 20 * 5)
    assert not s.exact_percentiles
    assert s.over_limit.k == 70 and s.exact_shares  # 40 is a bin edge: [40, 45) and up are over
    s2 = summarise_histogram(h, 42, threshold_kmh=45)  # inside [40, 45): 3/5 of its 40 over
    assert s2.over_limit.k == pytest.approx(30 + 24) and not s2.exact_shares


def test_moments_from_sums_edge_cases():
    assert math.isnan(moments_from_sums(0, 0, 0)[0])
    mean, sd = moments_from_sums(1, 50, 2500)
    assert mean == 50 and math.isnan(sd)


def test_unknown_rounding_is_refused():
    with pytest.raises(ValueError, match="rounding 'floor'"):
        Histogram.unit([1], rounding="floor")
