from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from planner.hourofweek import cell_of, hour_of_week_profile, local_cells, utc_offsets

STHLM = ZoneInfo("Europe/Stockholm")
SUN_02 = 6 * 24 + 2  # cell of Sunday 02:00–02:59 local


def utc_hours(start: str, end: str) -> np.ndarray:
    return np.arange(np.datetime64(start, "h"), np.datetime64(end, "h"))


@pytest.mark.parametrize("tz", ["Europe/Stockholm", "America/New_York", "Australia/Adelaide", "UTC"])
def test_offsets_match_zoneinfo_hour_by_hour(tz):
    hours = utc_hours("2025-12-25T00", "2027-01-05T00")
    expected = [
        datetime.fromtimestamp(int(s), timezone.utc).astimezone(ZoneInfo(tz)).utcoffset().total_seconds()
        for s in hours.astype("datetime64[s]").astype(np.int64)
    ]
    assert utc_offsets(hours, tz).tolist() == expected


def test_spring_forward_week_has_no_sunday_two_oclock():
    # Mon 2026-03-23 00:00 CET = 2026-03-22T23Z … Mon 2026-03-30 00:00 CEST = 2026-03-29T22Z:
    # 6·24 + 23 = 167 UTC hours
    hours = utc_hours("2026-03-22T23", "2026-03-29T22")
    assert hours.size == 167
    p = hour_of_week_profile(hours, np.ones(hours.size))
    assert p.observed_hours[SUN_02] == 0 and np.isnan(p.vehicles_per_hour[SUN_02])
    others = np.delete(np.arange(168), SUN_02)
    assert (p.observed_hours[others] == 1).all() and (p.weeks[others] == 1).all()


def test_fall_back_week_counts_sunday_two_oclock_twice():
    # Mon 2026-10-19 00:00 CEST = 2026-10-18T22Z … Mon 2026-10-26 00:00 CET = 2026-10-25T23Z: 169 h
    hours = utc_hours("2026-10-18T22", "2026-10-25T23")
    assert hours.size == 169
    cells, _ = local_cells(hours)
    # UTC 00:00 = 02:00 CEST and UTC 01:00 = 02:00 CET
    assert cells[hours.tolist().index(np.datetime64("2026-10-25T00", "h").item())] == SUN_02
    assert cells[hours.tolist().index(np.datetime64("2026-10-25T01", "h").item())] == SUN_02
    p = hour_of_week_profile(hours, np.full(hours.size, 7.0))
    assert p.observed_hours[SUN_02] == 2 and p.vehicles[SUN_02] == 14
    assert p.vehicles_per_hour[SUN_02] == 7  # per observed hour, not per calendar hour
    assert p.weeks[SUN_02] == 1
    assert np.allclose(p.vehicles_per_hour, 7)


def test_local_traffic_pattern_survives_both_dst_changes():
    # traffic depends on the local hour and weekday only: n = 10 + hour + 100·weekday
    hours = utc_hours("2026-03-16T00", "2026-11-09T00")
    local = [datetime.fromtimestamp(int(s), timezone.utc).astimezone(STHLM)
             for s in hours.astype("datetime64[s]").astype(np.int64)]
    n = np.array([10 + t.hour + 100 * t.weekday() for t in local], dtype=float)
    p = hour_of_week_profile(hours, n)
    cell = np.arange(168)
    assert np.allclose(p.vehicles_per_hour, 10 + cell % 24 + 100 * (cell // 24))
    assert p.observed_hours.sum() == hours.size


def test_coverage_weighting():
    # Monday 2026-01-05 08:00 local = 07:00Z, observed 3 weeks; in week 2 the sign ran 30 min
    hours = np.array(["2026-01-05T07", "2026-01-12T07", "2026-01-19T07"], dtype="datetime64[h]")
    p = hour_of_week_profile(hours, [120, 60, 120], coverage_min=[60, 30, 60])
    # (120 + 60 + 120) / (1 + 0.5 + 1) = 120 per hour
    assert p.vehicles_per_hour[8] == 120
    assert p.weeks[8] == 3 and p.observed_hours[8] == 2.5


def test_zero_coverage_hours_are_ignored_and_columns_are_summed():
    hours = np.array(["2026-01-05T07", "2026-01-12T07"], dtype="datetime64[h]")
    secs = hours.astype("datetime64[s]").astype(np.int64)
    p = hour_of_week_profile(secs, [10, 0], coverage_min=[60, 0],
                             histograms=[[4, 6], [0, 0]], columns={"over": [3, 0]})
    assert p.weeks[8] == 1 and p.observed_hours[8] == 1
    assert p.histogram[8].tolist() == [4, 6] and p.columns["over"][8] == 3


def test_cell_of_local_datetime():
    assert cell_of(datetime(2026, 3, 29, 3, 30, tzinfo=STHLM)) == 6 * 24 + 3
    assert cell_of(datetime(2026, 3, 23, 0, 0, tzinfo=STHLM)) == 0


def test_bad_coverage_is_refused():
    with pytest.raises(ValueError, match="0..60"):
        hour_of_week_profile(utc_hours("2026-01-05T00", "2026-01-05T01"), [1], coverage_min=[61])
