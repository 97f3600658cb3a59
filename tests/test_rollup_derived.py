"""Migration 0016: the write path gives rollup_hourly's derived columns itself (the derive trigger
does not fire for it) and they equal what the trigger derives for every other writer; the running
totals' invalidation runs once per site and statement and still moves through_hour back to the
earliest hour written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from places import make_site

from collector.passes import Direction, Display, VehiclePass, pass_key
from collector.rollup import tails
from collector.store import write_passes

T0 = datetime(2024, 10, 24, 3, tzinfo=UTC)  # a Thursday; four days of passes span the autumn DST change in Stockholm (the 27th)

DERIVED = """
SELECT r.site_id, r.direction, r.display, r.hour, r.tail, array_lower(r.tail, 1) AS tail_lo, r.tail2,
       array_lower(r.tail2, 1) AS tail2_lo, r.local_how, r.local_week, r.limit_kmh,
       t.tail AS want_tail, t.tail2 AS want_tail2, array_lower(r.hist, 1) AS hist_lo,
       local_hour_of_week(r.hour, s.time_zone) AS want_how, local_week(r.hour, s.time_zone) AS want_week,
       (SELECT l.limit_kmh FROM speed_limit_at(r.site_id, r.hour, s.time_zone) l) AS want_limit
FROM rollup_hourly r JOIN sites s ON s.id = r.site_id, hist_tails(r.hist) t
ORDER BY 1, 2, 3, 4
"""


def assert_derived(conn) -> int:
    """Every row's derived columns equal the trigger's formulas (migrations 0003, 0011); rows checked."""
    rows = conn.execute(DERIVED).fetchall()
    for (site, d, disp, hour, tail, tail_lo, tail2, tail2_lo, how, week, lim, want_tail, want_tail2, lo,
         want_how, want_week, want_limit) in rows:
        assert (tail, tail_lo, tail2, tail2_lo) == (want_tail, lo, want_tail2, lo), (site, d, disp, hour)
        assert (how, week, lim) == (want_how, want_week, want_limit), (site, d, disp, hour)
    return len(rows)


def _passes(site: int, start: datetime, n: int, seed: int, spread_s: int = 300) -> list[VehiclePass]:
    rng = np.random.default_rng(seed)
    return [VehiclePass(start + timedelta(seconds=int(i * spread_s)), float(v), Direction(int(d)), site_id=site,
                        display=Display(int(m)), key=pass_key("derived", seed, i))
            for i, (v, d, m) in enumerate(zip(np.round(rng.lognormal(np.log(45), 0.3, n), 1),
                                             rng.integers(1, 3, n), rng.integers(0, 2, n), strict=True))]


def _triggers_run(conn) -> int:
    return conn.execute("SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions "
                        "WHERE funcname = 'rollup_hourly_derive'").fetchone()[0]


def test_tails_of_counts_are_the_databases_hist_tails(db):
    for counts in ([3], [0, 2, 0, 5, 1], [1] * 90):
        want = db.execute("SELECT tail, tail2 FROM hist_tails(%s::integer[])", (counts,)).fetchone()
        assert tails(counts) == (want[0], want[1])


def test_write_path_rows_equal_the_triggers_derivation_and_skip_the_trigger(db):
    school = make_site(db, "Skolvägen 1", limit_kmh=50, since=datetime(2020, 1, 1, tzinfo=UTC))
    db.execute("INSERT INTO speed_limits (site_id, valid_from, limit_kmh, days, hour_from, hour_to) "
               "VALUES (%s, '2020-01-01Z', 30, '{1,2,3,4,5}', 7, 17)", (school,))
    york = make_site(db, "Yorkvägen 1", limit_kmh=60)
    db.execute("UPDATE sites SET time_zone = 'America/New_York' WHERE id = %s", (york,))
    bare = make_site(db, "Bargatan 1", limit_kmh=40)
    db.execute("DELETE FROM speed_limits WHERE site_id = %s", (bare,))  # no limit recorded
    db.commit()
    db.execute("SET track_functions = 'all'")
    first = [p for seed, s in enumerate((school, york, bare)) for p in _passes(s, T0, 1200, seed)]
    # new passes in the same hours: merged into the rows the first call wrote
    second = [p for seed, s in enumerate((school, york, bare)) for p in _passes(s, T0 + timedelta(minutes=30), 800, 10 + seed)]
    before = _triggers_run(db)
    assert write_passes(db, first).inserted == 3600
    assert write_passes(db, second).inserted == 2400
    assert _triggers_run(db) == before  # neither its inserts nor its merges went through the trigger
    # a batch with stored passes takes the deduplicating statement, whose rows the trigger derives
    again = write_passes(db, first[:100] + _passes(york, T0 + timedelta(minutes=1), 300, 20))
    assert (again.inserted, again.duplicates) == (300, 100)
    db.commit()
    assert db.execute("SELECT sum(n) FROM rollup_hourly").fetchone()[0] == 6300
    assert assert_derived(db) > 300
    assert db.execute("SELECT count(DISTINCT limit_kmh) FROM rollup_hourly WHERE site_id = %s",
                      (school,)).fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM rollup_hourly WHERE site_id = %s AND limit_kmh IS NOT NULL",
                      (bare,)).fetchone()[0] == 0
    # the bare site's first limit re-derives its rows (their limit was NULL before and after the refresh)
    db.execute("INSERT INTO speed_limits (site_id, valid_from, limit_kmh) VALUES (%s, '2020-01-01Z', 40)", (bare,))
    assert db.execute("SELECT count(*) FROM rollup_hourly WHERE site_id = %s AND limit_kmh IS DISTINCT FROM 40",
                      (bare,)).fetchone()[0] == 0
    # a hist changed without its tails, and a derived column set wrong, are derived again
    db.execute("UPDATE rollup_hourly SET hist = hist_add(hist, '[200:200]={1}'), n = n + 1 WHERE site_id = %s", (york,))
    db.execute("UPDATE rollup_hourly SET limit_kmh = 99, local_how = 0 WHERE site_id = %s", (school,))
    assert assert_derived(db) > 300


def test_one_statement_moves_each_sites_through_hour_back_to_its_earliest_hour(db):
    sites = [make_site(db, f"Spårgatan {i}") for i in range(3)]
    later = T0 + timedelta(days=30)
    db.execute("INSERT INTO cell_weeks_state (site_id, through_hour) SELECT unnest(%s::integer[]), %s",
               (sites, later))
    db.commit()
    starts = [T0 + timedelta(hours=5), T0 + timedelta(hours=2), later + timedelta(hours=3)]
    passes = [p for i, (s, t) in enumerate(zip(sites, starts, strict=True)) for p in _passes(s, t, 200, 10 + i)]
    write_passes(db, passes)
    db.commit()
    through = dict(db.execute("SELECT site_id, through_hour FROM cell_weeks_state").fetchall())
    assert through == {sites[0]: starts[0], sites[1]: starts[1], sites[2]: later}
    # merged rows (the statement's update) move it back too, and a delete does
    db.execute("UPDATE cell_weeks_state SET through_hour = %s", (later,))
    write_passes(db, _passes(sites[0], T0 + timedelta(hours=7), 50, 20, spread_s=7))
    db.execute("DELETE FROM rollup_hourly WHERE site_id = %s AND hour = %s", (sites[1], starts[1] + timedelta(hours=1)))
    db.commit()
    through = dict(db.execute("SELECT site_id, through_hour FROM cell_weeks_state").fetchall())
    assert through == {sites[0]: T0 + timedelta(hours=7), sites[1]: starts[1] + timedelta(hours=1), sites[2]: later}
