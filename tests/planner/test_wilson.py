import numpy as np
import pytest

from planner.wilson import wilson_interval, wilson_lower


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
