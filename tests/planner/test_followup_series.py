"""planner.followup.site_series: one site's hourly series on the local grid, checked by hand on a
small case, and the same whatever order its rows come in (rows in time order are summed per bin
with one reduceat; any other order takes the general path)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from planner.followup import local_grid, site_series
from planner.hourrows import HourRows
from planner.load import LimitSpan

UTC = timezone.utc
START, END = datetime(2024, 10, 26, 22, tzinfo=UTC), datetime(2024, 10, 27, 4, tzinfo=UTC)
"""Stockholm's autumn change: 02:00–03:00 local happens twice (00:00 and 01:00 UTC)."""


def rows(order: list[int]) -> HourRows:
    # site 1: four rows over 22:00, 00:00, 01:00 and 02:00 UTC; site 2: one row (not masked in)
    hours = [22, 24, 25, 26, 24]
    epoch = np.array([int(START.timestamp()) + (h - 22) * 3600 for h in hours], dtype=np.int64)
    bins = np.arange(28.0, 34.0)  # stored km/h 28..33, one column each
    counts = np.array([[0, 1, 2, 0, 0, 0],    # 22:00Z = 00:00 CEST: 29, 30, 30
                       [0, 0, 0, 3, 1, 0],    # 00:00Z = 02:00 CEST
                       [1, 0, 0, 0, 0, 4],    # 01:00Z = 02:00 CET: the same local bin as the row before
                       [0, 0, 5, 0, 0, 0],    # 02:00Z = 03:00 CET
                       [9, 9, 9, 9, 9, 9]], dtype=np.float64)
    site = np.array([1, 1, 1, 1, 2])
    idx = np.array(order)
    z = np.zeros(5, dtype=np.int64)
    return HourRows(site[idx], epoch[idx], z[idx], z[idx], counts[idx], bins)


@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4], [3, 4, 2, 0, 1]], ids=["time order", "shuffled"])
def test_series_sums_the_repeated_autumn_hour_and_counts_over_the_limit(order):
    h = rows(order)
    utc, local, inv = local_grid(START, END, "Europe/Stockholm")
    assert local.size == 5  # six UTC hours, the repeated 02:00 merged
    span = [LimitSpan(1, START, END, 30, 30.0, "truncate")]
    s = site_series(h, h.site_id == 1, utc, inv, local.size, span, "truncate")
    # local bins: 00:00, 01:00 (no rows), 02:00 (two rows), 03:00, 04:00 (none)
    assert list(s.n) == [3, 0, 9, 5, 0]
    # over 30 km/h as posted: stored 31, 32 and 33 are wholly over; a stored 30 (30.0–30.99 when
    # truncated) counts by the tails' rule for its bin, the same share of each vehicle
    assert s.over[2] == 3 + 1 + 4 and s.over[1] == 0 and s.over[4] == 0
    assert s.over[0] == pytest.approx(2 / 5 * s.over[3])
    # V85 from the local bin's summed histogram: 02:00 holds 28, 31×3, 32, 33×4 (9 vehicles);
    # 0.85 × 9 = 7.65 falls in stored 33 (vehicles 6–9): 33 + (7.65 − 5) / 4 = 33.6625
    assert s.v85[2] == pytest.approx(33.6625)
    assert np.isnan(s.v85[1]) and np.isnan(s.v85[4])


def test_any_row_order_gives_the_same_series():
    utc, local, inv = local_grid(START, END, "Europe/Stockholm")
    span = [LimitSpan(1, START, END, 30, 30.0, "truncate")]
    a, b = rows([0, 1, 2, 3, 4]), rows([4, 3, 1, 2, 0])
    sa = site_series(a, a.site_id == 1, utc, inv, local.size, span, "truncate")
    sb = site_series(b, b.site_id == 1, utc, inv, local.size, span, "truncate")
    for field in ("n", "over", "v85"):
        np.testing.assert_array_equal(getattr(sa, field), getattr(sb, field))
