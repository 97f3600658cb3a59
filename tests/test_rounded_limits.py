"""A limit posted in mph (30 mph = 48.28032 km/h) in the comparisons and the weekly trends of
the site page: "over the limit" is v > L exactly, with the hourly rollups alone and with the
daily sums built."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from places import deploy, make_sign, make_site

from collector.passes import Direction, Display, VehiclePass
from collector.setup.limits import set_limit
from collector.store import write_passes
from planner.cellcache import refresh
from planner.compare import compare_display, compare_sites
from planner.settings import PlannerSettings
from planner.sitepage import weekly_trend

UTC = timezone.utc
MPH = 1.609344
T0 = datetime(2025, 3, 4, 5, tzinfo=UTC)


def _figures(db, site: int) -> tuple[float, float, float, float]:
    planner = PlannerSettings()
    (side,) = compare_display(db, planner, site, public=False).display
    (col,) = compare_sites(db, planner, [site], public=False).sites
    (line,) = weekly_trend(db, planner, site, public=False).lines
    (point,) = line.points
    assert side.limit_kmh == pytest.approx(48.28032) and point.limit_kmh == pytest.approx(48.28032)
    return side.over_limit_share, col.sides[0].over_limit_share, point.within_limit_share, side.over_threshold_share


def test_a_limit_posted_in_mph_counts_over_it_exactly(db):
    site = make_site(db, "Mile End 3")
    sign = make_sign(db, "SN-Mile-End-3", "truncate")
    db.execute("UPDATE signs SET unit = 'mph' WHERE id = %s", (sign,))
    deploy(db, sign, site, datetime(2024, 1, 1, tzinfo=UTC), display=1)
    set_limit(db, actor="test", site_id=site, value=30, unit="mph", from_date=date(2024, 6, 1))
    db.commit()
    # 84 vehicles at exactly 30 mph (at the limit, not over it) and 16 at 34 mph, in one week
    mph = np.array([30] * 84 + [34] * 16)
    passes = [VehiclePass(T0 + timedelta(seconds=60 * i), float(v * MPH), Direction.APPROACHING, sign, site,
                          Display.DISPLAY) for i, v in enumerate(mph)]
    assert write_passes(db, passes, received=T0 + timedelta(days=30)).inserted == 100
    db.commit()
    from_hours = _figures(db, site)
    assert from_hours[:3] == (pytest.approx(0.16), pytest.approx(0.16), pytest.approx(0.84))
    refresh(db, PlannerSettings(), until=T0 + timedelta(days=3))  # the days before are daily sums now
    db.commit()
    assert db.execute("SELECT count(*) FROM figure_days WHERE site_id = %s", (site,)).fetchone()[0] > 0
    assert _figures(db, site) == from_hours
