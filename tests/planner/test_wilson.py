import numpy as np
import pytest

from planner.wilson import wilson_interval, wilson_lower, wilson_pair


def test_three_of_four_by_hand():
    # p = 0.75, z² = 3.8416, z²/n = 0.9604; centre = 0.75 + 0.4802 = 1.2302
    # half = 1.96·√(0.1875/4 + 3.8416/64) = 1.96·√0.1069 = 0.640834; denom = 1.9604
    lo, hi = wilson_interval(3, 4)
    assert lo == pytest.approx((1.2302 - 0.640834) / 1.9604, abs=1e-5)  # 0.30064
    assert hi == pytest.approx((1.2302 + 0.640834) / 1.9604, abs=1e-5)  # 0.95441


def test_zero_of_ten_by_hand():
    # p = 0: centre = half = z²/2n = 0.19208; high = 0.38416 / 1.38416 = 0.27754
    lo, hi = wilson_interval(0, 10)
    assert lo == pytest.approx(0.0, abs=1e-12)
    assert hi == pytest.approx(0.38416 / 1.38416, abs=1e-9)


def test_vectorised_and_empty_cells():
    lo, hi = wilson_interval(np.array([0, 5, 0]), np.array([0, 10, 3]))
    assert lo[0] == 0.0 and hi[0] == 1.0
    assert lo[1] < 0.5 < hi[1]
    assert lo[1] == pytest.approx(1 - hi[1])  # symmetric around 1/2


def test_small_sample_has_lower_bound_below_busy_one():
    # 3 of 4 (75 %) must rank below 700 of 1000 (70 %) on the lower bound.
    assert wilson_lower(3, 4) < wilson_lower(700, 1000)


def test_rejects_k_over_n():
    with pytest.raises(ValueError, match="0 <= k <= n"):
        wilson_interval(5, 4)


def test_one_share_in_plain_floats_is_the_vectorised_interval_bit_for_bit():
    rng = np.random.default_rng(5)
    n = np.concatenate([[0.0, 1.0, 2.0, 30.0, 1e6], rng.integers(1, 5000, 200).astype(float)])
    k = np.floor(rng.random(n.size) * (n + 1)).clip(max=n)
    k[:3] = [0.0, 1.0, 2.0]  # all of one, all of two
    k[10] = n[10] * 0.37  # fractional (read off a histogram by interpolation)
    lo, hi = wilson_interval(k, n)
    pairs = [wilson_pair(a, b) for a, b in zip(k, n, strict=True)]
    assert [p[0] for p in pairs] == lo.tolist() and [p[1] for p in pairs] == hi.tolist()
    assert wilson_pair(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="k=5.0, n=4.0"):
        wilson_pair(5, 4)
