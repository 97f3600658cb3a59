"""The ranking counts pre-binned counts and measures against limits as posted (30 mph = 48.28 km/h).

Every expected figure below is worked out by hand from the bins written.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from places import make_site

from collector.importers.places import Area
from collector.importers.toronto import import_toronto
from collector.plausible import TimeRule
from planner import cellcache
from planner.load import Period, load_cells, load_sites
from planner.quality import Quality
from planner.ranking import rank
from planner.settings import PlannerSettings

UTC = timezone.utc
T0 = datetime(2024, 9, 2, tzinfo=UTC)  # a Monday; Stockholm is UTC+2 then
WEEK = Period(T0, T0 + timedelta(weeks=1))
EXCERPT = Path(__file__).parents[1] / "fixtures" / "importers" / "toronto_excerpt.csv"


def write_bins(conn, site_id: int, start: datetime, end: datetime, bins: list[tuple[float, float | None, int]],
               direction: int = 1, display: int | None = 0, key: str = "r") -> None:
    for lo, hi, count in bins:
        conn.execute(
            "INSERT INTO binned_counts (site_id, direction, display, period_start, period_end, speed_lo, speed_hi, "
            "count, source, source_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'test', %s)",
            (site_id, direction, display, start, end, lo, hi, count, f"{key}|{lo}"))


def cell(cells, site_id: int, how: int) -> dict:
    i = np.flatnonzero((cells["site_id"] == site_id) & (cells["hour_of_week"] == how))
    assert len(i) == 1, f"site {site_id} hour {how}: {len(i)} cells"
    return {k: v[i[0]].item() for k, v in cells.columns.items()}


def test_binned_cells_equal_a_hand_computation(db):
    site = make_site(db, "Binnedgatan 1", limit_kmh=40)
    # Monday 07-08 local (05-06 UTC): 100 vehicles; L = 40 on a bin edge, T = 46 inside [45, 50)
    write_bins(db, site, T0 + timedelta(hours=5), T0 + timedelta(hours=6),
               [(30, 35, 10), (35, 40, 20), (40, 45, 30), (45, 50, 25), (50, None, 15)], key="mon")
    # Tuesday 08-10 local: 60 vehicles over two hours, spread 30 and 30
    tue = T0 + timedelta(days=1, hours=6)
    write_bins(db, site, tue, tue + timedelta(hours=2), [(40, 45, 40), (45, 50, 20)], key="tue")
    # a record of the same kind already in the rollups is not counted again
    db.execute("INSERT INTO binned_counts (site_id, direction, display, period_start, period_end, speed_lo, "
               "speed_hi, count, source, source_key, in_rollups) VALUES (%s, 1, 0, %s, %s, 60, 61, 99, 'tl', 'x', true)",
               (site, T0 + timedelta(hours=5), T0 + timedelta(hours=6)))
    cells = load_cells(db, WEEK, PlannerSettings(), with_previous=True)
    mon = cell(cells, site, 7)
    assert (mon["n"], mon["over_limit"], mon["over_threshold"]) == (100, 70, pytest.approx(20 + 15))
    # Σ(v − 40) at the bins' middles, the open bin at its lower edge: 30·2.5 + 25·7.5 + 15·10
    assert mon["excess_sum_kmh"] == pytest.approx(75 + 187.5 + 150)
    assert (mon["hours_with_data"], mon["hours_observed"], mon["weeks"], mon["threshold_kmh"]) == (1, 1.0, 1, 46.0)
    assert mon["quality"] & Quality.SHARES_INTERPOLATED and not mon["quality"] & Quality.HOURS_SPREAD
    for how in (24 + 8, 24 + 9):
        c = cell(cells, site, how)
        assert (c["n"], c["over_limit"], c["over_threshold"]) == (30, pytest.approx(30), pytest.approx(8))
        assert c["quality"] & Quality.HOURS_SPREAD and c["hours_observed"] == 1.0
    assert len(cells) == 3

    result = rank(db, PlannerSettings(), period=WEEK, stored_rules=False)
    assert [s.site_id for s in result.sites] == [site]
    best = result.sites[0].best
    assert (best.hour_of_week, best.n, best.share_over_threshold) == (7, 100, pytest.approx(0.35))
    assert best.vehicles_per_hour == 100 and best.expected_reportable == pytest.approx(100 * 0.35 / 3)
    assert "limit or threshold inside a speed bin: shares over them interpolated" in best.warnings


def test_binned_shares_exact_on_bin_edges_and_previous_period(db):
    site = make_site(db, "Kantgatan 2", limit_kmh=40)
    planner = PlannerSettings.model_validate({"threshold": {"over_kmh": 10}})  # T = 50: an edge
    write_bins(db, site, T0 + timedelta(hours=5), T0 + timedelta(hours=6), [(35, 40, 5), (40, 50, 10), (50, 60, 5)])
    before = T0 - timedelta(weeks=1) + timedelta(hours=5)
    write_bins(db, site, before, before + timedelta(hours=1), [(35, 40, 30), (50, 60, 10)], key="prev")
    result = rank(db, planner, period=WEEK, stored_rules=False)
    best = result.sites[0].best
    assert (best.n, best.share_over_threshold, best.trend_pp) == (20, 0.25, pytest.approx(0.0))
    assert not best.flags & Quality.SHARES_INTERPOLATED
    assert result.cells["over_limit"][0] == 15


def test_toronto_import_appears_in_the_ranking(db):
    import_toronto(db, str(EXCERPT), area=Area("Toronto", "Toronto Police Service"), rule=TimeRule(),
                   received=datetime.now(UTC), limit_kmh=40)
    db.commit()
    sites = {name: i for i, name in db.execute("SELECT id, name FROM sites")}
    result = rank(db, PlannerSettings(), stored_rules=False)  # default period: ending at the latest record
    latest = db.execute("SELECT max(period_end) FROM binned_counts").fetchone()[0]
    assert result.period.end == latest
    ranked = {s.site_id for s in result.sites}
    assert ranked and ranked <= set(sites.values())
    # each ranked site's vehicles are those of its records, shared out over the hours they cover
    got = {s.site_id: s.vehicles for s in result.sites}
    for site_id, vehicles in got.items():
        rows = db.execute("SELECT period_start, period_end, sum(count) FROM binned_counts WHERE site_id = %s "
                          "GROUP BY 1, 2", (site_id,)).fetchall()
        expect = sum(float(c) * (min(e, result.period.end) - max(s, result.period.start)) / (e - s)
                     for s, e, c in rows if s < result.period.end and e > result.period.start)
        assert abs(vehicles - expect) <= 168 * 2, (site_id, vehicles, expect)  # a whole vehicle per cell
    assert all(r.flags & Quality.HOURS_SPREAD for s in result.sites for r in s.top)


def test_mph_limit_counts_over_the_posted_value(db):
    """30 mph = 48.28032 km/h: v > L is bins from 49; T = L + 6 = 54.28, so a km/h sign's 54 is
    under it while a whole-mph sign's 34 mph (54.72 km/h, in bin 54) is over it."""
    kmh_site = make_site(db, "Milgatan 3", limit_kmh=50)
    mph_site = make_site(db, "Milgatan 4", limit_kmh=50)
    for s in (kmh_site, mph_site):
        db.execute("DELETE FROM speed_limits WHERE site_id = %s", (s,))
        db.execute("INSERT INTO speed_limits (site_id, valid_from, posted_value, posted_unit) "
                   "VALUES (%s, '2024-01-01Z', 30, 'mph')", (s,))
    sign = db.execute("INSERT INTO signs (serial_number, unit) VALUES ('MPH-1', 'mph') RETURNING id").fetchone()[0]
    db.execute("INSERT INTO deployments (sign_id, site_id, valid_from, display) VALUES (%s, %s, '2024-01-01Z', 0)",
               (sign, mph_site))
    hour = T0 + timedelta(hours=5)
    # km/h sign: 47, 48, 49, 54, 55 km/h, ten each; mph sign: 30, 31, 34, 35 mph in bins 48, 49, 54, 56
    for s, hist in ((kmh_site, "[47:55]={10,10,10,0,0,0,0,10,10}"), (mph_site, "[48:56]={10,10,0,0,0,0,10,0,10}")):
        n = 50 if s == kmh_site else 40
        db.execute("INSERT INTO rollup_hourly (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist) "
                   "VALUES (%s, 1, 0, %s, %s, 0, 0, %s::int[])", (s, hour, n, hist))
    planner = PlannerSettings()
    for use_cache in (False, True):
        if use_cache:
            cellcache.refresh(db, planner, until=T0 + timedelta(weeks=1))
        cells = load_cells(db, WEEK, planner, sites=load_sites(db), use_cache=use_cache)
        assert set(cells.through) == ({kmh_site, mph_site} if use_cache else set())
        k, m = cell(cells, kmh_site, 7), cell(cells, mph_site, 7)
        assert (k["limit_kmh"], k["threshold_kmh"]) == (48, pytest.approx(48.28032 + 6))
        assert (k["n"], k["over_limit"], k["over_threshold"]) == (50, 30, 10)
        assert k["excess_sum_kmh"] == pytest.approx(10 * (49 - 48.28032) + 10 * (54 - 48.28032) + 10 * (55 - 48.28032))
        assert (m["n"], m["over_limit"], m["over_threshold"]) == (40, 30, 20)
    shares = {s.site_id: s.best.share_over_threshold for s in rank(db, planner, period=WEEK, stored_rules=False).sites}
    assert shares == {kmh_site: pytest.approx(10 / 50), mph_site: pytest.approx(20 / 40)}


def test_binned_counts_under_an_mph_limit(db):
    """Bins [45, 50) and [50, 55) under 30 mph: L = 48.28 splits [45, 50), T = 54.28 splits [50, 55)."""
    site = make_site(db, "Milgatan 5", limit_kmh=50)
    db.execute("DELETE FROM speed_limits WHERE site_id = %s", (site,))
    db.execute("INSERT INTO speed_limits (site_id, valid_from, posted_value, posted_unit) "
               "VALUES (%s, '2024-01-01Z', 30, 'mph')", (site,))
    write_bins(db, site, T0 + timedelta(hours=5), T0 + timedelta(hours=6), [(40, 45, 50), (45, 50, 50), (50, 55, 100)])
    c = cell(load_cells(db, WEEK, PlannerSettings()), site, 7)
    L, T = 48.28032, 54.28032
    assert c["over_limit"] == pytest.approx(50 * (50 - L) / 5 + 100)
    assert c["over_threshold"] == pytest.approx(100 * (55 - T) / 5)
    assert c["quality"] & Quality.SHARES_INTERPOLATED


def test_binned_hours_take_the_limit_in_force_at_each_hour(db):
    """A school zone's 30 km/h on weekdays 07-17 over a standing 50: a record of Monday 16-18 local
    gives its first hour to the 30 km/h cell and its second to the 50 km/h one (split, not pooled)."""
    site = make_site(db, "Skolgatan 6", limit_kmh=50)
    db.execute("INSERT INTO speed_limits (site_id, valid_from, limit_kmh, days, hour_from, hour_to) "
               "VALUES (%s, '2024-01-01Z', 30, '{1,2,3,4,5}', 7, 17)", (site,))
    start = T0 + timedelta(hours=14)  # 16:00 in Stockholm
    write_bins(db, site, start, start + timedelta(hours=2), [(25, 35, 40), (35, 55, 40)])
    cells = load_cells(db, WEEK, PlannerSettings())
    at16, at17 = cell(cells, site, 16), cell(cells, site, 17)
    assert (at16["limit_kmh"], at16["n"], at16["threshold_kmh"]) == (30, 40, 36.0)
    assert (at17["limit_kmh"], at17["n"], at17["threshold_kmh"]) == (50, 40, 56.0)
    # v > 30 splits [25, 35): 40·(35 − 30)/10 + 40; v > 50 splits [35, 55): 40·5/20; half of each an hour
    assert at16["over_limit"] == pytest.approx((40 * 5 / 10 + 40) / 2)
    assert at17["over_limit"] == pytest.approx(40 * 5 / 20 / 2)


def test_ranking_keeps_a_timed_limits_cells_beside_the_standing_ones(db):
    """School zone: 30 km/h on weekdays 07-17 over a standing 50. Monday 08 local is ranked under
    30 (T = 36), Monday 18 under 50 (T = 56): neither regime's cells are dropped."""
    site = make_site(db, "Skolgatan 7", limit_kmh=50)
    db.execute("INSERT INTO speed_limits (site_id, valid_from, limit_kmh, days, hour_from, hour_to) "
               "VALUES (%s, '2024-01-01Z', 30, '{1,2,3,4,5}', 7, 17)", (site,))
    for utc_hour in (6, 16):  # 08 and 18 in Stockholm
        db.execute("INSERT INTO rollup_hourly (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist) "
                   "VALUES (%s, 1, 0, %s, 40, 0, 0, '[35:60]={10,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,10,0,0,0,20}'::int[])",
                   (site, T0 + timedelta(hours=utc_hour)))
    result = rank(db, PlannerSettings(), period=WEEK, stored_rules=False)
    got = {(r.hour_of_week, r.share_over_threshold) for r in result.ranking.rows()}
    # at 08 under 30: v ≥ 36 is 30 of 40; at 18 under 50: v ≥ 56 is bins 56 and 60, 30 of 40
    assert got == {(8, 30 / 40), (18, 30 / 40)}
    assert set(result.cells["limit_kmh"].tolist()) == {30, 50}
