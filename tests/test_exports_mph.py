"""Exports of a site whose limit is posted in mph: 30 mph is 48.28032 km/h, and "over the limit"
is v > 48.28032 exactly (a whole-km/h 48 is under it, 49 over)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from places import deploy, make_sign, make_site

from collector.passes import Direction, VehiclePass
from collector.store import write_passes
from planner.exports import export_site
from planner.settings import PlannerSettings

T0 = datetime(2025, 3, 3, 8, tzinfo=UTC)
SPEEDS = [40, 47, 48, 48, 49, 50, 54, 55, 60, 61]  # over 48.28: 49, 50, 54, 55, 60, 61; at or over 54.28: 55, 60, 61


def test_mph_limit_in_the_exports(db):
    site = make_site(db, "Mphgatan 1", since=datetime(2024, 1, 1, tzinfo=UTC))
    db.execute("DELETE FROM speed_limits WHERE site_id = %s", (site,))
    db.execute("INSERT INTO speed_limits (site_id, valid_from, posted_value, posted_unit) "
               "VALUES (%s, '2024-01-01Z', 30, 'mph')", (site,))
    sign = make_sign(db, "SN-MPH")
    deploy(db, sign, site, datetime(2024, 1, 1, tzinfo=UTC))
    passes = [VehiclePass(time=T0 + timedelta(seconds=10 * i), speed_kmh=float(v), direction=Direction.APPROACHING,
                          sign_id=sign) for i, v in enumerate(SPEEDS)]
    assert write_passes(db, passes, received=T0 + timedelta(hours=2)).inserted == len(SPEEDS)
    period = {"date_from": T0.date(), "date_to": T0.date()}
    planner = PlannerSettings()

    toronto = list(csv.DictReader(io.StringIO(export_site(db, planner, site, "toronto", public=False, **period).content)))
    assert [(r["volume"], r["limit_kmh"]) for r in toronto] == [("10", "48.28032")]

    rows = list(csv.DictReader(io.StringIO(export_site(db, planner, site, "csv", public=False, **period).content)))
    with_data = [r for r in rows if r["n"] not in ("", "0")]
    assert len(with_data) == 1
    r = with_data[0]
    assert float(r["limit_kmh"]) == 48.28032 and float(r["threshold_kmh"]) == 54.28032
    assert float(r["over_limit_share"]) == 6 / 10 and float(r["over_threshold_share"]) == 3 / 10
