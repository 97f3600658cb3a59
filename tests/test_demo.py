"""The demo data set: deterministic, idempotent, and showing the effects it claims to show.

Most tests read one database seeded once per module (two weeks ending 2024-11-04, which spans
the end of summer time on 27 October and the autumn school break in week 44).
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from fartkoll.demo import build_world, is_empty, seed
from fartkoll.demo import world as W
from fartkoll.demo.traffic import generate
from fartkoll.demo.world import is_school_day

WEEKS, SEED, END = 2, 7, date(2024, 11, 4)
WORLD = build_world(weeks=WEEKS, end=END)


def _url(server_url: str, dbname: str) -> str:
    return make_conninfo(**{**conninfo_to_dict(server_url), "dbname": dbname})


def _fresh_seeded(server_url: str, template: str, name: str, **kw):
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                       sql.Identifier(template)))
    conn = psycopg.connect(_url(server_url, name))
    assert is_empty(conn)
    summary = seed(conn, log=lambda m: None, **kw)
    conn.commit()
    conn.autocommit = True
    return conn, summary


def _drop(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def seeded(server_url, template_db):
    """(connection, summary) of a database seeded once for this module; tests only read it."""
    name = f"fk_demo_{os.getpid()}"
    conn, summary = _fresh_seeded(server_url, template_db, name, weeks=WEEKS, seed=SEED, end=END)
    yield conn, summary
    conn.close()
    _drop(server_url, name)


@pytest.fixture(scope="module")
def db_(seeded) -> psycopg.Connection:
    return seeded[0]


def _one(conn, query, *params):
    return conn.execute(query, params).fetchone()[0]


def _sign_id(conn, serial):
    return _one(conn, "SELECT id FROM signs WHERE serial_number = %s", serial)


def _site_id(conn, key):
    return _one(conn, "SELECT id FROM sites WHERE name = %s", WORLD.site(key).name)


# --- the pure parts ---------------------------------------------------------------------------

def test_world_has_the_promised_shape():
    assert build_world(weeks=WEEKS, end=END) == WORLD
    assert len(WORLD.sites) == 12 and len(WORLD.municipalities) == 2
    assert {s.limit_kmh for s in WORLD.sites} == {30, 40, 50, 60, 70}
    school = [s for s in WORLD.sites if "school" in s.tags]
    assert len(school) == 1 and school[0].limit_kmh == 30
    moved = {d.site for d in WORLD.deployments if d.sign == W.MOVED_SIGN}
    assert moved == {W.MOVED_FROM, W.MOVED_TO}
    for sign in WORLD.signs:  # a sign's deployments never overlap, and only the last one is open
        ds = sorted((d for d in WORLD.deployments if d.sign == sign.serial), key=lambda d: d.valid_from)
        assert all(a.valid_to is not None and a.valid_to <= b.valid_from for a, b in zip(ds, ds[1:], strict=False))
        assert ds[-1].valid_to is None
    limits = {lim.site: lim.limit_kmh for lim in sorted(WORLD.limits, key=lambda lim: lim.valid_from)}  # latest
    current = {d.sign: limits[d.site] for d in WORLD.deployments if d.valid_to is None}
    assert [g.serial for g in WORLD.signs if g.configured_limit_kmh != current[g.serial]] == [W.MISCONFIGURED_SIGN]


def test_same_seed_same_traffic_other_seed_other_traffic():
    a, b, c = (list(generate(WORLD, s)) for s in (SEED, SEED, SEED + 1))
    for x, y, z in zip(a, b, c, strict=False):
        assert np.array_equal(x.time_us, y.time_us) and np.array_equal(x.speed_kmh, y.speed_kmh)
        assert not np.array_equal(x.speed_kmh[:1000], z.speed_kmh[:1000])


def test_a_batch_s_columns_are_those_of_its_passes_with_their_stable_keys():
    """The seed writes columns built from the arrays: the same values and keys as VehiclePass
    records with ``pass_key("demo:<seed>", site, hour, ordinal)`` would give."""
    from collector.columns import PassColumns
    from collector.passes import Direction, Display, VehiclePass, pass_key
    from fartkoll.demo.seed import _columns

    sign_ids = [100 + i for i in range(len(WORLD.signs))]
    sp = next(iter(generate(WORLD, SEED)))
    lo, hi = len(sp) // 2, len(sp) // 2 + 500
    cols = _columns(sp, lo, hi, SEED, 42, sign_ids)
    times = [datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(t)) for t in sp.time_us[lo:hi]]
    passes = PassColumns.from_passes([
        VehiclePass(time=times[k], speed_kmh=float(sp.speed_kmh[i]), direction=Direction(int(sp.direction[i])),
                    sign_id=sign_ids[sp.sign[i]], site_id=42, display=Display(int(sp.display[i])),
                    length_m=None if np.isnan(sp.length_m[i]) else float(sp.length_m[i]),
                    key=pass_key(f"demo:{SEED}", sp.site, int(sp.hour[i]), int(sp.ordinal[i])))
        for k, i in enumerate(range(lo, hi))])
    assert cols.times == times
    assert cols.key.tobytes() == passes.key.tobytes() and cols.keyed.all()
    for f in ("time_us", "speed_kmh", "direction", "sign_id", "site_id", "display"):
        assert np.array_equal(getattr(cols, f), getattr(passes, f)), f
    assert np.array_equal(cols.length_m, passes.length_m, equal_nan=True)


# --- the seeded database ---------------------------------------------------------------------

def test_summary_counts_what_was_stored(seeded):
    conn, s = seeded
    assert (s.sites, s.signs, s.deployments, s.controls, s.tips, s.users) == (
        12, 11, len(WORLD.deployments), len(WORLD.controls), len(WORLD.tips), 3)
    assert s.passes == s.passes_generated == _one(conn, "SELECT count(*) FROM readings")
    assert 100_000 < s.passes < 1_000_000
    assert not is_empty(conn)
    assert _one(conn, "SELECT count(*) FROM users WHERE password_hash IS NOT NULL") == 0


def test_same_inputs_give_byte_identical_databases(seeded, server_url, template_db):
    name = f"fk_demo2_{os.getpid()}"
    other, _ = _fresh_seeded(server_url, template_db, name, weeks=WEEKS, seed=SEED, end=END)
    try:
        digests = [
            "SELECT md5(string_agg(concat_ws(',', time, site_id, sign_id, direction, speed_kmh, display,"
            " length_m, idem_key), ';' ORDER BY time, idem_key)) FROM readings",
            "SELECT md5(string_agg(concat_ws(',', site_id, direction, display, hour, n, sum_kmh, sumsq_kmh,"
            " hist::text), ';' ORDER BY site_id, direction, display, hour)) FROM rollup_hourly",
            "SELECT md5(string_agg(concat_ws(',', sign_id, hour, minutes), ';' ORDER BY sign_id, hour))"
            " FROM coverage_hourly",
            "SELECT md5(string_agg(concat_ws(',', sign_id, site_id, valid_from, valid_to, display), ';'"
            " ORDER BY sign_id, valid_from)) FROM deployments",
        ]
        for q in digests:
            assert _one(seeded[0], q) == _one(other, q), q
    finally:
        other.close()
        _drop(server_url, name)


def test_reseeding_adds_nothing(seeded):
    conn, first = seeded
    conn.autocommit = False
    try:
        again = seed(conn, weeks=WEEKS, seed=SEED, end=END, log=lambda m: None)
        conn.commit()
    finally:
        conn.autocommit = True
    assert again.passes_generated == first.passes
    assert (again.sites, again.signs, again.deployments, again.passes, again.controls, again.tips,
            again.users, again.coverage_hours) == (0,) * 8
    assert _one(conn, "SELECT count(*) FROM readings") == first.passes
    assert _one(conn, "SELECT sum(n) FROM rollup_hourly") == first.passes


def test_other_period_is_refused_before_any_pass_is_written(seeded):
    from fartkoll.demo import DemoError

    conn, first = seeded
    conn.autocommit = False
    try:
        with pytest.raises(DemoError, match="another period"):
            seed(conn, weeks=WEEKS, seed=SEED, end=END + timedelta(days=1), log=lambda m: None)
    finally:
        conn.rollback()
        conn.autocommit = True
    assert _one(conn, "SELECT count(*) FROM readings") == first.passes


def test_readings_match_deployments_and_coverage(db_):
    outside = _one(db_, """
        SELECT count(*) FROM readings r
        WHERE NOT EXISTS (SELECT 1 FROM deployments d
                          WHERE d.sign_id = r.sign_id AND d.site_id = r.site_id AND d.display = r.display
                            AND r.time >= d.valid_from AND (d.valid_to IS NULL OR r.time < d.valid_to))
           OR NOT EXISTS (SELECT 1 FROM coverage_hourly c
                          WHERE c.sign_id = r.sign_id AND c.hour = date_trunc('hour', r.time))""")
    assert outside == 0
    moved = _one(db_, "SELECT count(DISTINCT site_id) FROM readings WHERE sign_id = %s", _sign_id(db_, W.MOVED_SIGN))
    assert moved == 2


def test_dead_sign_has_a_three_day_gap(db_):
    (outage,) = WORLD.outages
    sign = _sign_id(db_, outage.sign)
    assert outage.end - outage.start == timedelta(days=3)
    q_readings = "SELECT count(*) FROM readings WHERE sign_id = %s AND time >= %s AND time < %s"
    q_coverage = "SELECT count(*) FROM coverage_hourly WHERE sign_id = %s AND hour >= %s AND hour < %s"
    assert _one(db_, q_readings, sign, outage.start, outage.end) == 0
    assert _one(db_, q_coverage, sign, outage.start, outage.end) == 0
    day = timedelta(days=1)  # the sign worked the day before and the day after
    assert _one(db_, q_coverage, sign, outage.start - day, outage.start) == 24
    assert _one(db_, q_coverage, sign, outage.end, outage.end + day) == 24
    assert _one(db_, q_readings, sign, outage.start - day, outage.start) > 300
    assert _one(db_, q_readings, sign, outage.end, outage.end + day) > 300


def test_dst_day_has_25_covered_hours(db_):
    sign = _sign_id(db_, "ICOMS-TMS-21014")
    assert _one(db_, "SELECT count(*) FROM coverage_hourly WHERE sign_id = %s"
                     " AND (hour AT TIME ZONE 'Europe/Stockholm')::date = '2024-10-27'", sign) == 25


def test_limit_change_and_speeds_after_it(db_):
    site = _site_id(db_, W.LIMIT_SITE)
    rows = db_.execute("SELECT valid_from, valid_to, limit_kmh FROM speed_limits WHERE site_id = %s"
                       " ORDER BY valid_from", (site,)).fetchall()
    assert [r[2] for r in rows] == [50, W.NEW_LIMIT]
    change = rows[1][0]
    assert rows[0][1] == change and rows[1][1] is None and WORLD.start < change < WORLD.end
    configured = _one(db_, "SELECT configured_limit_kmh FROM signs WHERE serial_number = %s", W.MISCONFIGURED_SIGN)
    assert configured == 50 != W.NEW_LIMIT
    # Same display mode, same direction, before vs after.
    before, after = db_.execute("""
        SELECT avg(speed_kmh) FILTER (WHERE time < %(c)s), avg(speed_kmh) FILTER (WHERE time >= %(c)s)
        FROM readings WHERE site_id = %(s)s AND display = 0 AND direction = 2""",
                                {"c": change, "s": site}).fetchone()
    assert before - after > 2.5


def test_display_weeks_are_slower_than_stealth_weeks(db_):
    # Approaching traffic (it sees the sign), per site and legal-limit period.
    rows = db_.execute("""
        SELECT r.site_id, l.limit_kmh,
               sum(sum_kmh) FILTER (WHERE display = 0) / sum(n) FILTER (WHERE display = 0),
               sum(sum_kmh) FILTER (WHERE display = 1) / sum(n) FILTER (WHERE display = 1)
        FROM rollup_hourly r
        JOIN speed_limits l ON l.site_id = r.site_id AND r.hour >= l.valid_from
                           AND (l.valid_to IS NULL OR r.hour < l.valid_to)
        WHERE direction = 1 GROUP BY 1, 2""").fetchall()
    both = [(site, limit, stealth, shown) for site, limit, stealth, shown in rows if stealth and shown]
    assert len(both) >= 10
    for site, limit, stealth, shown in both:
        assert stealth - shown > 1.5, (site, limit)


def test_daily_volumes_are_realistic(db_):
    rows = db_.execute("""
        WITH cov AS (  -- covered hours per site and local day
            SELECT d.site_id, (c.hour AT TIME ZONE 'Europe/Stockholm')::date AS day, count(*) AS hours
            FROM coverage_hourly c
            JOIN deployments d ON d.sign_id = c.sign_id AND c.hour >= d.valid_from
                              AND (d.valid_to IS NULL OR c.hour < d.valid_to)
            GROUP BY 1, 2),
        vol AS (
            SELECT site_id, (time AT TIME ZONE 'Europe/Stockholm')::date AS day, count(*) AS n
            FROM readings GROUP BY 1, 2)
        SELECT cov.site_id, cov.day, coalesce(vol.n, 0)
        FROM cov LEFT JOIN vol USING (site_id, day)
        WHERE cov.hours = extract(epoch FROM ((cov.day + 1)::timestamp AT TIME ZONE 'Europe/Stockholm')
                                           - (cov.day::timestamp AT TIME ZONE 'Europe/Stockholm')) / 3600
    """).fetchall()
    assert len(rows) > 12 * 9
    low = [r for r in rows if not 300 <= r[2] <= 8000]
    assert not low
    assert max(r[2] for r in rows) > 4000 and min(r[2] for r in rows) < 1000


def test_school_site_has_a_school_morning_peak(db_):
    site = _site_id(db_, next(s.key for s in WORLD.sites if "school" in s.tags))
    rows = db_.execute("""
        SELECT (hour AT TIME ZONE 'Europe/Stockholm')::date, extract(hour FROM hour AT TIME ZONE 'Europe/Stockholm'),
               sum(n)
        FROM rollup_hourly WHERE site_id = %s GROUP BY 1, 2""", (site,)).fetchall()
    per = defaultdict(list)
    for day, hour, n in rows:
        kind = "school" if is_school_day(day) else "weekday" if day.weekday() < 5 else "weekend"
        per[kind, int(hour)].append(n)
    mean = {k: sum(v) / len(v) for k, v in per.items()}
    assert len(per["school", 7]) >= 4 and len(per["weekday", 7]) >= 4  # höstlov (week 44) is in the period
    assert mean["school", 7] > 2 * mean["school", 11]
    assert mean["school", 7] > 3 * mean["weekend", 7]
    assert mean["school", 7] > 1.8 * mean["weekday", 7]


def test_rollups_equal_a_direct_computation(db_):
    mismatches = _one(db_, """
        WITH direct AS (
            SELECT site_id, direction, display, time_bucket('1 hour', time) AS hour,
                   count(*)::integer AS n, sum(speed_kmh::float8) AS s
            FROM readings GROUP BY 1, 2, 3, 4)
        SELECT count(*) FROM direct d FULL JOIN rollup_hourly r USING (site_id, direction, display, hour)
        WHERE d.n IS DISTINCT FROM r.n OR abs(d.s - r.sum_kmh) > 1e-6 * d.s OR r.sum_kmh IS NULL""")
    assert mismatches == 0
    assert _one(db_, "SELECT count(*) FROM rollup_hourly") > 12 * 24 * 7


def test_controls_lower_speeds_then_the_effect_fades(db_):
    c = WORLD.controls[0]
    site = _site_id(db_, c.site)
    window = "extract(hour FROM time AT TIME ZONE 'Europe/Stockholm') BETWEEN 7 AND 18"

    def mean(lo, hi, extra=window):
        return _one(db_, f"SELECT avg(speed_kmh) FROM readings WHERE site_id = %s AND time >= %s"
                         f" AND time < %s AND display = 0 AND {extra}", site, lo, hi)

    day = timedelta(days=1)
    start_day = c.start - timedelta(hours=c.start.astimezone(W.TZ).hour, minutes=c.start.minute)
    before = mean(start_day - 2 * day, start_day)            # the two days before, same hours
    assert _one(db_, "SELECT count(*) FROM controls WHERE site_id = %s", site) >= 1
    during = mean(c.start, c.end, "true")
    next_day = mean(start_day + day, start_day + 2 * day)
    days_later = mean(start_day + 4 * day, start_day + 5 * day)
    assert before - during > 4
    assert before - next_day > 1
    assert before - during > before - next_day > before - days_later
