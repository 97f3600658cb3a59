"""Running totals (cell_weeks, migration 0005): the ranking's cells read through them equal the
cells summed from the hourly rollups alone, whatever the cache holds: fresh, refreshed up to a
mid-week hour or the second hour of the night clocks go back, made stale by a late write, a
new legal limit or other thresholds; a refresh skips a site being written."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest
from planner_synth import write_hours

from planner.cellcache import load_state, refresh, repeated_hour
from planner.load import CellData, Period, cached_through, default_period, load_cells, load_sites, load_spans
from planner.settings import PlannerSettings

UTC = timezone.utc
TZ = "Europe/Stockholm"
PLANNER = PlannerSettings()


def assert_same(a: CellData, b: CellData) -> None:
    assert len(a) == len(b) and len(a) > 0
    for k in a.columns:
        assert np.allclose(a[k], b[k], equal_nan=True, rtol=1e-12, atol=1e-9), k


def both_ways(conn: psycopg.Connection, period: Period, over_kmh: float = 6.0) -> tuple[CellData, CellData]:
    sites = load_sites(conn)
    cached = load_cells(conn, period, PLANNER, over_kmh=over_kmh, sites=sites, with_previous=True)
    plain = load_cells(conn, period, PLANNER, over_kmh=over_kmh, sites=sites, with_previous=True, use_cache=False)
    return cached, plain


def served_sites(conn: psycopg.Connection, period: Period, over_kmh: float = 6.0) -> dict[int, datetime]:
    sites = load_sites(conn)
    spans = load_spans(conn, period, sites, PLANNER, over_kmh) + load_spans(conn, period.previous(), sites, PLANNER,
                                                                           over_kmh)
    return cached_through(conn, spans, sites, (period.previous().start, period.start, period.end), PLANNER, over_kmh)


def fall_back_second_hour(start: datetime, end: datetime) -> datetime:
    t = start.replace(minute=0, second=0, microsecond=0)
    while t < end:
        if repeated_hour(t, TZ):
            return t
        t += timedelta(hours=1)
    raise AssertionError("no night the clocks go back in the demo's weeks")


@pytest.fixture
def demo(pdemo_url: str):
    with psycopg.connect(pdemo_url) as conn:
        yield conn


def test_fresh_totals_give_the_cells_of_the_rollups(demo):
    result = refresh(demo, PLANNER)
    assert result.sites == len(load_sites(demo)) and result.rows_written > 0
    last = default_period(demo, 1).end
    for weeks in (1, 4, 8):
        period = Period(last - timedelta(weeks=weeks), last)
        served = served_sites(demo, period)
        assert served and all(t >= period.end for t in served.values())  # every cell from the totals
        assert_same(*both_ways(demo, period))
    # boundaries inside a week and inside a day, in both periods
    odd = Period(last - timedelta(days=17, hours=5), last - timedelta(days=2, hours=13))
    assert_same(*both_ways(demo, odd))


@pytest.mark.parametrize("cut", ["mid_week", "second_hour_of_fall_back", "period_start_on_fall_back"])
def test_totals_up_to_an_hour_plus_rollups_after_it(demo, cut):
    last = default_period(demo, 1).end
    first = default_period(demo, 8).start
    back = fall_back_second_hour(first, last)
    until = {"mid_week": last - timedelta(days=9, hours=7), "second_hour_of_fall_back": back,
             "period_start_on_fall_back": last - timedelta(days=2)}[cut]
    refresh(demo, PLANNER, until=until)
    assert {s.through_hour for s in load_state(demo).values()} == {until}
    start = back if cut == "period_start_on_fall_back" else last - timedelta(weeks=4)
    period = Period(start, last)
    served = served_sites(demo, period)
    assert served  # the totals are used up to `until` (the hour before a second hour) ...
    expect = back - timedelta(hours=1) if cut != "mid_week" else until
    assert set(served.values()) == {expect}
    cached, plain = both_ways(demo, period)  # ... and the rollups after it are summed
    assert_same(cached, plain)


def test_a_late_write_moves_through_hour_back_and_stays_exact(demo):
    refresh(demo, PLANNER)
    site = min(load_sites(demo))
    last = default_period(demo, 1).end
    late = (last - timedelta(days=10)).replace(minute=0)
    before = load_state(demo)[site].through_hour
    write_hours(demo, site, late, 30, np.random.default_rng(5), per_hour=20, mean_kmh=70, direction=2, display=0)
    state = load_state(demo)
    assert state[site].through_hour == late < before
    assert all(s.through_hour == before for k, s in state.items() if k != site)
    period = Period(last - timedelta(weeks=4), last)
    assert_same(*both_ways(demo, period))
    demo.commit()
    again = refresh(demo, PLANNER)
    assert again.rebuilt_from_start == 0 and again.rollup_rows > 0
    assert load_state(demo)[site].through_hour == before
    assert_same(*both_ways(demo, period))


def test_a_new_legal_limit_and_other_thresholds(demo):
    refresh(demo, PLANNER)
    site = min(load_sites(demo))
    last = default_period(demo, 1).end
    change = (last - timedelta(days=12)).replace(minute=0)
    demo.execute("UPDATE speed_limits SET valid_to = %s WHERE site_id = %s AND valid_to IS NULL", (change, site))
    demo.execute("INSERT INTO speed_limits (site_id, valid_from, limit_kmh) VALUES (%s, %s, 30)", (site, change))
    assert load_state(demo)[site].through_hour <= change
    period = Period(last - timedelta(weeks=4), last)
    assert_same(*both_ways(demo, period))
    demo.commit()
    refresh(demo, PLANNER)
    assert site in served_sites(demo, period)
    assert_same(*both_ways(demo, period))
    # another threshold: the totals hold the old one, so every site is summed from the rollups
    assert served_sites(demo, period, over_kmh=9.0) == {}
    assert_same(*both_ways(demo, period, over_kmh=9.0))
    rebuilt = refresh(demo, PLANNER, over_kmh=9.0)
    assert rebuilt.rebuilt_from_start == rebuilt.sites == len(load_sites(demo))
    assert served_sites(demo, period, over_kmh=9.0)
    assert_same(*both_ways(demo, period, over_kmh=9.0))


def test_a_site_being_written_is_skipped_then_caught_up(demo, pdemo_url):
    refresh(demo, PLANNER)
    demo.commit()
    site = min(load_sites(demo))
    last = default_period(demo, 1).end
    with psycopg.connect(pdemo_url) as writer:
        write_hours(writer, site, last - timedelta(days=3), 5, np.random.default_rng(1), per_hour=10, mean_kmh=50,
                    direction=2)
        busy = refresh(demo, PLANNER)  # the writer holds the site's lock until it commits
        assert busy.skipped_busy == [site]
        writer.commit()
    caught_up = refresh(demo, PLANNER)
    assert caught_up.skipped_busy == [] and caught_up.rollup_rows > 0
    assert_same(*both_ways(demo, Period(last - timedelta(weeks=4), last)))


def test_coverage_and_deployment_changes_move_through_hour_back(demo):
    refresh(demo, PLANNER)
    last = default_period(demo, 1).end
    period = Period(last - timedelta(weeks=4), last)
    cached, plain = both_ways(demo, period)
    assert np.isfinite(cached["coverage_share"]).any()  # the demo's signs report coverage
    sign, site, since = demo.execute(
        "SELECT sign_id, site_id, valid_from FROM deployments WHERE valid_to IS NULL ORDER BY site_id LIMIT 1").fetchone()
    gap = (last - timedelta(days=6)).replace(minute=0)
    demo.execute("DELETE FROM coverage_hourly WHERE sign_id = %s AND hour >= %s AND hour < %s",
                 (sign, gap, gap + timedelta(hours=5)))
    assert load_state(demo)[site].through_hour == gap
    assert_same(*both_ways(demo, period))
    demo.commit()
    refresh(demo, PLANNER)
    ended = (last - timedelta(days=3)).replace(minute=0)
    demo.execute("UPDATE deployments SET valid_to = %s WHERE sign_id = %s AND valid_to IS NULL", (ended, sign))
    assert load_state(demo)[site].through_hour == ended  # only from the new end, not from `since`
    assert since < ended
    assert_same(*both_ways(demo, period))


def test_a_write_to_many_sites_holds_at_most_256_advisory_locks(db):
    from places import make_site

    sites = [make_site(db, f"Låsgatan {i}", limit_kmh=50) for i in range(300)]
    hour = datetime(2025, 3, 3, 8, tzinfo=UTC)
    db.execute("INSERT INTO rollup_hourly (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist) "
               "SELECT s, 1, 0, %s, 1, 50, 2500, '[50:50]={1}' FROM unnest(%s::int[]) s", (hour, sites))
    held = db.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()").fetchone()[0]
    assert 0 < held <= 256
