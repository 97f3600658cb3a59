"""Binned records on one grid of edges give the figures of each record's own bins."""

from __future__ import annotations

import numpy as np
import pytest

from planner.binnedcells import _figures, pair_figures


def record(lo, hi, counts):
    return (1, 1, 1, 0.0, 3600.0, list(map(float, lo)), [float(h) for h in hi], list(map(float, counts)))


def test_grid_pass_equals_each_record_alone():
    rng = np.random.default_rng(3)
    records = []
    for _ in range(40):
        keep = np.sort(rng.choice(20, size=rng.integers(3, 15), replace=False))  # Toronto leaves empty bins out
        lo = 5.0 * keep
        hi = lo + 5.0
        if rng.random() < 0.5:
            hi[-1] = np.inf
        records.append(record(lo, hi, rng.integers(1, 500, len(lo))))
    records.append(record([0, 50], [50, np.inf], [10, 20]))  # a bin spanning grid cells: alone
    rec = np.repeat(np.arange(len(records)), 2)
    limit = np.tile([40.0, 48.28032], len(records))
    thr = limit + 6.0
    got = pair_figures(records, rec, limit, thr)
    for j, ri in enumerate(rec.tolist()):
        lo, hi, c = (np.asarray(x) for x in records[ri][5:8])
        want = _figures(c[None, :], lo, np.where(np.isfinite(hi), hi - lo, np.inf), limit[j:j + 1], thr[j:j + 1])[0]
        np.testing.assert_allclose(got[j], want, rtol=1e-12, atol=1e-9)


def test_hand_computed_record():
    # [30,35):10 [35,40):20 [40,45):30 [45,50):25 [50,∞):15; L = 40 on an edge, T = 46 inside [45, 50)
    r = record([30, 35, 40, 45, 50], [35, 40, 45, 50, np.inf], [10, 20, 30, 25, 15])
    over_l, over_t, excess, split = pair_figures([r], np.array([0]), np.array([40.0]), np.array([46.0]))[0]
    assert (over_l, over_t, excess, split) == (70, pytest.approx(35), pytest.approx(412.5), 1)
    assert pair_figures([r], np.array([0]), np.array([40.0]), np.array([50.0]))[0][3] == 0
