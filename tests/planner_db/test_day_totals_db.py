"""Daily sums and their running totals (figure_days, migrations 0013 and 0017): site statistics
and daily series read through them equal the plain summation of every hourly rollup and coverage
record, whatever the sums hold: fresh, refreshed up to a mid-day hour, made stale by a late write,
a new legal limit posted in mph or a timed limit, or rows without running totals (as migration
0017 leaves older rows); they are actually read, and each row's running totals equal the sum of
its series' days up to it."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest
from planner_synth import write_hours

from planner.cellcache import load_state, refresh
from planner.daytotals import vehicle_parts
from planner.histogram_view import site_histogram
from planner.load import Period, default_period, load_sites
from planner.series import site_series
from planner.settings import PlannerSettings
from planner.sitestats import figures, site_stats

UTC = timezone.utc
PLANNER = PlannerSettings()


@pytest.fixture
def demo(pdemo_url: str):
    with psycopg.connect(pdemo_url) as conn:
        yield conn


def _stats_json(conn, site, period, use_days):
    return figures(site_stats(conn, site, period, PLANNER, use_days=use_days)).model_dump(mode="json")


def _assert_close(a, b, path="") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9), path
    else:
        assert a == b, path


def _day_parts(conn, site_id, period) -> int:
    """Parts the statistics read from figure_days (running totals: one a series)."""
    return sum(p["kind"] in ("day", "run") for p in vehicle_parts(conn, site_id, period.start, period.end,
                                                                    running=True))


def assert_running_totals_add_up(conn) -> int:
    """Every figure_days row's running totals are the sums of its series' rows up to its day
    (vehicles, Σv, Σv², hours and every histogram bin); returns the rows checked."""
    rows = conn.execute(
        "SELECT site_id, direction, display, limit_timed, limit_from, local_day, n, sum_kmh, sumsq_kmh, hours,"
        " hist_lo, hist, run_n, run_sum_kmh, run_sumsq_kmh, run_hours, run_hist_lo, run_hist FROM figure_days"
        " ORDER BY site_id, direction, display, limit_timed, limit_from, local_day").fetchall()
    key, acc = None, None
    for r in rows:
        if r[:5] != key:
            key, acc = r[:5], {"n": 0, "s1": 0.0, "s2": 0.0, "h": 0, "bins": {}}
        acc["n"] += r[6]
        acc["s1"] += r[7]
        acc["s2"] += r[8]
        acc["h"] += r[9]
        for i, c in enumerate(np.frombuffer(r[11], dtype="<i4")):
            acc["bins"][r[10] + i] = acc["bins"].get(r[10] + i, 0) + int(c)
        assert r[12] == acc["n"] and r[15] == acc["h"], r[:6]
        assert r[13] == pytest.approx(acc["s1"], rel=1e-12) and r[14] == pytest.approx(acc["s2"], rel=1e-12), r[:6]
        run = {r[16] + i: int(c) for i, c in enumerate(np.frombuffer(r[17], dtype="<i4")) if c}
        assert run == {b: c for b, c in acc["bins"].items() if c}, r[:6]
    return len(rows)


def assert_same_everywhere(conn, periods, *, expect_days: bool) -> None:
    sites = load_sites(conn)
    used = 0
    for site in sites.values():
        for period in periods:
            fast, plain = _stats_json(conn, site, period, True), _stats_json(conn, site, period, False)
            assert plain["groups"] or not fast["groups"]
            _assert_close(fast, plain)
            used += _day_parts(conn, site.id, period)
    for site_id in list(sites)[:4]:
        for public in (False, True):
            d_from = periods[0].start.date() + timedelta(days=1)
            fast = site_series(conn, PLANNER, site_id, public=public, step="day", date_from=d_from)
            plain = site_series(conn, PLANNER, site_id, public=public, step="day", date_from=d_from, use_days=False)
            _assert_close(fast.model_dump(mode="json"), plain.model_dump(mode="json"))
    assert (used > 0) == expect_days


def _periods(conn) -> list[Period]:
    last = default_period(conn, 1).end
    return [Period(last - timedelta(weeks=8), last), Period(last - timedelta(days=17, hours=5),
                                                           last - timedelta(days=2, hours=13))]


def test_without_sums_every_hour_is_summed(demo):
    assert_same_everywhere(demo, _periods(demo), expect_days=False)


def test_fresh_sums_give_the_figures_of_the_rollups(demo):
    refresh(demo, PLANNER)
    demo.commit()
    assert demo.execute("SELECT count(*) FROM figure_days WHERE direction = 3").fetchone()[0] > 0
    assert assert_running_totals_add_up(demo) > 0
    assert_same_everywhere(demo, _periods(demo), expect_days=True)
    # a period's days are two rows of running totals a series, not a row a day
    site, period = min(load_sites(demo)), _periods(demo)[0]
    parts = vehicle_parts(demo, site, period.start, period.end, running=True)
    kinds = [p["kind"] for p in parts]
    assert "day" not in kinds and 0 < kinds.count("run") <= 3 * 2 * 3
    days = [p for p in vehicle_parts(demo, site, period.start, period.end) if p["kind"] == "day"]
    assert sum(p["n"] for p in parts if p["kind"] == "run") == sum(p["n"] for p in days) > 0


def test_partial_sums_up_to_a_mid_day_hour(demo):
    last = default_period(demo, 1).end
    until = last - timedelta(days=9, hours=7)
    refresh(demo, PLANNER, until=until)
    assert {s.through_hour for s in load_state(demo).values()} == {until}
    newest = demo.execute("SELECT max(local_day) FROM figure_days").fetchone()[0]
    assert newest < until.date()
    assert_same_everywhere(demo, _periods(demo), expect_days=True)


def test_stale_sums_after_a_late_write_and_new_limits(demo):
    refresh(demo, PLANNER)
    demo.commit()
    site = min(load_sites(demo))
    last = default_period(demo, 1).end
    late = (last - timedelta(days=10)).replace(minute=0)
    write_hours(demo, site, late, 30, np.random.default_rng(5), per_hour=20, mean_kmh=70, direction=2, display=0)
    assert load_state(demo)[site].through_hour == late
    assert_same_everywhere(demo, _periods(demo), expect_days=True)
    # a limit posted in mph from a mid-week day on, and a timed school-zone limit
    change = (last - timedelta(days=12)).replace(hour=0, minute=0)
    demo.execute("UPDATE speed_limits SET valid_to = %s WHERE site_id = %s AND valid_to IS NULL", (change, site))
    demo.execute("INSERT INTO speed_limits (site_id, valid_from, limit_kmh, posted_value, posted_unit) "
                 "VALUES (%s, %s, 48, 30, 'mph')", (site, change))
    demo.execute("INSERT INTO speed_limits (site_id, valid_from, limit_kmh, days, hour_from, hour_to) "
                 "VALUES (%s, %s, 30, '{1,2,3,4,5}', 7, 17)", (site, change - timedelta(days=30)))
    assert load_state(demo)[site].through_hour <= change - timedelta(days=30)
    assert_same_everywhere(demo, _periods(demo), expect_days=True)
    demo.commit()
    refresh(demo, PLANNER)
    demo.commit()
    assert_running_totals_add_up(demo)  # continued from each series' last day before the rebuilt ones
    assert_same_everywhere(demo, _periods(demo), expect_days=True)
    period = Period(last - timedelta(weeks=4), last)
    fig = figures(site_stats(demo, load_sites(demo)[site], period, PLANNER))
    posted = {(g.limit_posted, g.limit_kmh) for g in fig.groups}
    assert any(text == "30 mph" and kmh == pytest.approx(48.28032) for text, kmh in posted)
    series = site_series(demo, PLANNER, site, public=False, step="day", date_from=(change + timedelta(days=1)).date(),
                         date_to=(change + timedelta(days=3)).date())
    limits = {p.limit_kmh for line in series.lines for p in line.points if p.n}
    assert 48.28032 in limits and 30 in limits  # the exact posted value, and the timed limit on weekdays
    hist = site_histogram(demo, PLANNER, site, public=False, date_from=(change + timedelta(days=1)).date(),
                          date_to=(change + timedelta(days=3)).date())
    assert {g.limit_kmh for g in hist.groups} >= {48.28032, 30}
    mph_n = sum(g.n for g in hist.groups if g.limit_kmh == 48.28032)
    assert mph_n == sum(p.n or 0 for line in series.lines for p in line.points if p.limit_kmh == 48.28032) > 0


def test_a_daily_point_equals_the_vehicles_of_that_local_day(demo):
    refresh(demo, PLANNER)
    demo.commit()
    site = min(load_sites(demo))
    tz = load_sites(demo)[site].time_zone
    day = default_period(demo, 1).start.astimezone(UTC).date() - timedelta(days=3)
    series = site_series(demo, PLANNER, site, public=False, step="day", date_from=day - timedelta(days=1),
                         date_to=day + timedelta(days=1))
    got = sum(p.n or 0 for line in series.lines for p in line.points
              if p.start.date() == day)
    want = demo.execute("SELECT coalesce(sum(n), 0) FROM rollup_hourly WHERE site_id = %s "
                        "AND (hour AT TIME ZONE %s)::date = %s", (site, tz, day)).fetchone()[0]
    assert got == want > 0
    assert isinstance(day, date) and isinstance(series.period.from_, datetime)


def test_rows_without_running_totals_are_summed_and_then_rebuilt(demo):
    refresh(demo, PLANNER)
    demo.commit()
    site = min(load_sites(demo))
    # what migration 0017 leaves in rows written before it
    demo.execute("UPDATE figure_days SET run_n = NULL, run_sum_kmh = NULL, run_sumsq_kmh = NULL, run_hours = NULL,"
                 " run_hist_lo = NULL, run_hist = NULL WHERE site_id = %s", (site,))
    demo.commit()
    period = _periods(demo)[0]
    assert {p["kind"] for p in vehicle_parts(demo, site, period.start, period.end, running=True)} == {"hour"}
    assert_same_everywhere(demo, _periods(demo), expect_days=True)
    # the next refresh continues every other site from its last day, and this one from its first
    last = default_period(demo, 1).end
    late = (last - timedelta(days=3)).replace(minute=0)
    write_hours(demo, site, late, 5, np.random.default_rng(9), per_hour=10, mean_kmh=40, direction=2, display=0)
    demo.commit()
    refresh(demo, PLANNER)
    demo.commit()
    assert demo.execute("SELECT count(*) FROM figure_days WHERE run_n IS NULL").fetchone()[0] == 0
    assert assert_running_totals_add_up(demo) > 0
    assert {p["kind"] for p in vehicle_parts(demo, site, period.start, period.end, running=True)} >= {"run"}
    assert_same_everywhere(demo, _periods(demo), expect_days=True)
