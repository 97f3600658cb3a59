"""Unit conversion and cosine correction, against factors worked out by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.units import cosine_correct, from_kmh, to_kmh, unit_name


@pytest.mark.parametrize(
    ("value", "unit", "kmh"),
    [
        (12.3, "mps", 44.28),
        (30, "mph", 48.28032),
        (10, "fps", 10.9728),  # 10 ft/s = 3.048 m/s
        (1000, "cms", 36.0),
        (50, "kmh", 50.0),
        (12.3, "m/s", 44.28),
        (30, "MPH", 48.28032),
        (30, "km/h", 30.0),
        (10, "ft/s", 10.9728),
    ],
)
def test_to_kmh(value, unit, kmh):
    assert to_kmh(value, unit) == pytest.approx(kmh, rel=1e-12)


def test_unknown_unit_names_value_and_choices():
    with pytest.raises(ValueError, match=r"unit 'knots' is not known: use one of kmh, mps"):
        to_kmh(1, "knots")


def test_unit_name_spellings():
    assert unit_name(" M-PER-SEC ") == "mps"
    assert unit_name("kph") == "kmh"


@given(st.floats(min_value=0, max_value=500, allow_nan=False),
       st.sampled_from(["kmh", "mps", "mph", "fps", "cms"]))
def test_from_kmh_inverts_to_kmh(value, unit):
    assert to_kmh(from_kmh(value, unit), unit) == pytest.approx(value, rel=1e-12, abs=1e-12)


def test_cosine_correction():
    assert cosine_correct(50.0, 0) == 50.0
    assert cosine_correct(50.0, 60) == pytest.approx(100.0)  # cos 60 deg = 0.5
    assert cosine_correct(45.0, 25) == pytest.approx(45.0 / 0.9063077870366499)


@pytest.mark.parametrize("angle", [-1.0, 90.0, 95.0, math.nan, math.inf])
def test_cosine_correction_rejects_angles(angle):
    with pytest.raises(ValueError, match=r"mounting angle .* outside 0\.\.<90"):
        cosine_correct(50.0, angle)
