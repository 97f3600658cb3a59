import numpy as np

from planner.quality import Quality, describe, quality_flags, v85_sample_size


def test_sample_size_bands():
    got = quality_flags([0, 29, 30, 99, 100])
    assert got.tolist() == [Quality.INSUFFICIENT, Quality.INSUFFICIENT, Quality.LOW_SAMPLE,
                            Quality.LOW_SAMPLE, 0]


def test_each_flag_fires_alone():
    base = dict(n=500)
    assert quality_flags(coverage_share=0.74, **base) == Quality.LOW_COVERAGE
    assert quality_flags(coverage_share=0.75, **base) == 0
    assert quality_flags(modes_pooled=True, **base) == Quality.MIXED_MODES
    assert quality_flags(sign_limit_kmh=50, legal_limit_kmh=40, **base) == Quality.LIMIT_MISMATCH
    assert quality_flags(sign_limit_kmh=np.nan, legal_limit_kmh=40, **base) == 0
    assert quality_flags(sign_limit_kmh=40, legal_limit_kmh=40, **base) == 0
    assert quality_flags(limit_changed=True, **base) == Quality.LIMIT_CHANGED
    assert quality_flags(weeks=1, **base) == Quality.FEW_WEEKS


def test_flags_combine_per_cell_and_describe():
    got = quality_flags([10, 400], modes_pooled=[True, False], weeks=[4, 1])
    assert got[0] == Quality.INSUFFICIENT | Quality.MIXED_MODES
    assert got[1] == Quality.FEW_WEEKS
    assert describe(got[0]) == ["insufficient sample (< 30 vehicles)", "display-on and stealth data pooled"]
    assert describe(0) == []


def test_v85_sample_size_from_the_spec():
    # s = 8, E = 1: 64 · 3.8416 · (2 + 1.0816) / 2 = 378.8 → 379 ("about 380")
    assert v85_sample_size(8, 1) == 379
