"""Migration 0003: the trigger-maintained columns of rollup_hourly equal a direct computation from
hist, the site's time zone and its limits, after every kind of write; the one-pass load of a
period and its previous one equals two separate loads and the pure week counts."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from places import make_site
from planner_synth import write_hours

from collector.passes import Direction, Display, VehiclePass, pass_key
from collector.store import write_passes
from planner.hourofweek import local_cells
from planner.hourrows import hour_rows
from planner.load import default_period, load_cells, load_sites, previous_cells
from planner.settings import PlannerSettings
from sql import QUERIES

UTC = timezone.utc
T0 = datetime(2024, 10, 21, tzinfo=UTC)  # a Monday; the 27th is the autumn DST change in Stockholm


def _expected(hist: list[int], lo: int) -> tuple[list[int], list[int]]:
    h = np.array(hist, dtype=np.int64)
    tail = np.cumsum(h[::-1])[::-1]
    return tail.tolist(), np.cumsum(tail[::-1])[::-1].tolist()


def assert_derived(conn) -> int:
    """Every rollup row's tails, local hour-of-week, local week and limit as computed here; returns rows checked."""
    rows = conn.execute(
        "SELECT r.site_id, r.hour, r.hist, array_lower(r.hist, 1), r.tail, array_lower(r.tail, 1), r.tail2,"
        "       array_lower(r.tail2, 1), r.local_how, r.local_week, r.limit_kmh, s.time_zone "
        "FROM rollup_hourly r JOIN sites s ON s.id = r.site_id ORDER BY r.site_id, r.hour").fetchall()
    limits = defaultdict(list)
    for site, start, end, lim in conn.execute("SELECT site_id, valid_from, valid_to, limit_kmh FROM speed_limits"):
        limits[site].append((start, end, lim))
    for site, hour, hist, lo, tail, tail_lo, tail2, tail2_lo, how, week, lim, tz in rows:
        want_tail, want_tail2 = _expected(hist, lo)
        assert (tail, tail_lo, tail2, tail2_lo) == (want_tail, lo, want_tail2, lo), (site, hour)
        cell, day = local_cells(np.array([int(hour.timestamp())]), tz)
        assert (how, week) == (int(cell[0]), int((day[0] + 3) // 7)), (site, hour, tz)
        in_force = [v for s, e, v in limits[site] if s <= hour and (e is None or hour < e)]
        assert lim == (in_force[0] if in_force else None), (site, hour)
    return len(rows)


def test_inserts_and_hist_add_upserts_keep_the_tails(db):
    site = make_site(db, "Tailgatan 1", limit_kmh=40)
    rng = np.random.default_rng(3)
    write_hours(db, site, T0, 24 * 10, rng, per_hour=40, mean_kmh=45)
    write_hours(db, site, T0, 24 * 10, rng, per_hour=5, mean_kmh=45, direction=2, display=1)
    # an upsert that widens the histogram at both ends, as the write path and importers merge
    db.execute("""INSERT INTO rollup_hourly AS r (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist)
                  SELECT site_id, direction, display, hour, 2, 12.0 + 140.0, 144.0 + 19600.0, hist_add('[12:12]={1}', '[140:140]={1}')
                  FROM rollup_hourly WHERE direction = 1
                  ON CONFLICT (site_id, direction, display, hour) DO UPDATE
                  SET n = r.n + excluded.n, sum_kmh = r.sum_kmh + excluded.sum_kmh,
                      sumsq_kmh = r.sumsq_kmh + excluded.sumsq_kmh, hist = hist_add(r.hist, excluded.hist)""")
    assert db.execute("SELECT min(array_lower(tail, 1)), max(array_upper(tail, 1)) FROM rollup_hourly "
                      "WHERE direction = 1").fetchone() == (12, 140)
    # a writer cannot set the derived columns to something else
    db.execute("UPDATE rollup_hourly SET tail = '{1}', local_how = 999, limit_kmh = 7")
    assert assert_derived(db) > 200


def test_tail_at_and_tail2_at_answer_any_bin(db):
    site = make_site(db, "Tailgatan 2")
    db.execute("INSERT INTO rollup_hourly (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist) "
               "VALUES (%s, 1, 0, %s, 9, 0, 0, '[48:52]={2,0,3,1,3}')", (site, T0))
    hist = {48: 2, 49: 0, 50: 3, 51: 1, 52: 3}
    for b in range(40, 60):
        got = db.execute("SELECT tail_at(tail, %(b)s), tail2_at(tail2, tail, %(b)s) FROM rollup_hourly", {"b": b}).fetchone()
        over = sum(c for v, c in hist.items() if v >= b)
        summed = sum(c * (v - b + 1) for v, c in hist.items() if v >= b)
        assert got == (over, summed), b


def test_limit_changes_and_time_zone_change_refresh_the_rows(db):
    site = make_site(db, "Tailgatan 3", limit_kmh=50, since=datetime(2020, 1, 1, tzinfo=UTC))
    other = make_site(db, "Tailgatan 4", limit_kmh=70)
    rng = np.random.default_rng(4)
    for s in (site, other):
        write_hours(db, s, T0, 24 * 14, rng, per_hour=20, mean_kmh=50)
    assert assert_derived(db) > 600
    change = T0 + timedelta(days=5, hours=7)
    # the limit becomes 40 from a time on: end the old span, start a new one
    db.execute("UPDATE speed_limits SET valid_to = %s WHERE site_id = %s", (change, site))
    db.execute("INSERT INTO speed_limits (site_id, valid_from, limit_kmh) VALUES (%s, %s, 40)", (site, change))
    assert db.execute("SELECT count(DISTINCT limit_kmh) FROM rollup_hourly WHERE site_id = %s", (site,)).fetchone()[0] == 2
    assert_derived(db)
    # a wrong limit corrected in place, then a span removed: its hours have no limit
    db.execute("UPDATE speed_limits SET limit_kmh = 30 WHERE site_id = %s AND valid_from = %s", (site, change))
    assert_derived(db)
    db.execute("DELETE FROM speed_limits WHERE site_id = %s AND valid_from = %s", (site, change))
    assert db.execute("SELECT count(*) FROM rollup_hourly WHERE site_id = %s AND limit_kmh IS NULL",
                      (site,)).fetchone()[0] > 0
    assert_derived(db)
    hows = db.execute("SELECT array_agg(local_how ORDER BY hour) FROM rollup_hourly WHERE site_id = %s",
                      (other,)).fetchone()[0]
    db.execute("UPDATE sites SET time_zone = 'America/New_York' WHERE id = %s", (other,))
    assert db.execute("SELECT array_agg(local_how ORDER BY hour) FROM rollup_hourly WHERE site_id = %s",
                      (other,)).fetchone()[0] != hows
    assert assert_derived(db) > 600


def test_the_write_path_stores_rows_with_correct_tails(db):
    site = make_site(db, "Tailgatan 5", limit_kmh=30)
    rng = np.random.default_rng(6)
    t = T0 + timedelta(hours=8)
    speeds = np.round(rng.normal(36, 6, 400), 1)
    passes = [VehiclePass(t + timedelta(seconds=int(i * 17)), float(v), Direction.APPROACHING, site_id=site,
                          display=Display.STEALTH, key=pass_key("tails", i)) for i, v in enumerate(speeds)]
    write_passes(db, passes[:250])
    write_passes(db, passes[150:])  # overlaps: the new ones merge into the same hours (hist_add)
    db.commit()
    assert db.execute("SELECT sum(n) FROM rollup_hourly").fetchone()[0] == 400
    assert assert_derived(db) >= 2
    over = db.execute("SELECT sum(tail_at(tail, 31)) FROM rollup_hourly").fetchone()[0]
    assert over == int(np.sum(np.floor(speeds) > 30))


def test_one_pass_over_both_periods_equals_two_loads(pdemo_ro):
    planner = PlannerSettings()
    period = default_period(pdemo_ro, 4)
    sites = load_sites(pdemo_ro)
    both = load_cells(pdemo_ro, period, planner, sites=sites, with_previous=True)
    alone = load_cells(pdemo_ro, period, planner, sites=sites)
    for k, v in alone.columns.items():
        np.testing.assert_array_equal(both[k], v, err_msg=k)
    prev = previous_cells(both)
    sep = load_cells(pdemo_ro, period.previous(), planner, sites=sites)
    key = ("site_id", "direction", "display", "limit_kmh", "hour_of_week")
    sep_by_key = {tuple(int(sep[k][i]) for k in key): i for i in range(len(sep))}
    assert len(prev) > 1000
    for i in range(len(prev)):
        j = sep_by_key[tuple(int(prev[k][i]) for k in key)]
        assert prev["n"][i] == sep["n"][j]
        assert prev["over_threshold"][i] == pytest.approx(sep["over_threshold"][j], rel=1e-12)
    assert prev.spans == sep.spans


def test_hours_and_distinct_weeks_equal_the_pure_count_across_dst(pdemo_ro):
    """8 weeks ending 2024-11-04 hold the autumn DST change: the repeated local 02:00 is one week."""
    period = default_period(pdemo_ro, 8)
    sites = load_sites(pdemo_ro)
    cells = load_cells(pdemo_ro, period, PlannerSettings(), sites=sites)
    want: dict[tuple, list] = defaultdict(lambda: [0, set()])
    for span in cells.spans:
        rows = pdemo_ro.execute(QUERIES["planner_hourly_rows"],
                                {"site_ids": [span.site_id], "start": span.start, "end": span.end}).fetchall()
        if not rows:
            continue
        h = hour_rows(rows)
        how, day = local_cells(h.epoch_s, sites[span.site_id].time_zone)
        for i in range(len(rows)):
            w = want[(span.site_id, int(h.direction[i]), int(h.display[i]), span.limit_kmh, int(how[i]))]
            w[0] += 1
            w[1].add(int((day[i] + 3) // 7))
    assert len(cells) == len(want)
    repeated = 0
    for i in range(len(cells)):
        hours, weeks = want[tuple(int(cells[k][i]) for k in ("site_id", "direction", "display", "limit_kmh",
                                                              "hour_of_week"))]
        assert (cells["hours_with_data"][i], cells["weeks"][i]) == (hours, len(weeks))
        repeated += hours > len(weeks)
    assert repeated > 0  # some cell saw its local hour twice in one week (the DST fold)
