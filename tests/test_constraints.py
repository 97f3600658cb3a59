"""Bad rows cannot enter, even from plain SQL."""

import subprocess
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from places import deploy, make_sign, make_site

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _insert_reading(conn, site, **over):
    row = {"time": T0, "site_id": site, "sign_id": None, "direction": 1, "speed_kmh": 50.0, "display": 0,
           "length_m": None, "idem_key": "00000000-0000-0000-0000-000000000001"}
    row.update(over)
    conn.execute(
        "INSERT INTO readings (time, site_id, sign_id, direction, speed_kmh, display, length_m, idem_key) "
        "VALUES (%(time)s, %(site_id)s, %(sign_id)s, %(direction)s, %(speed_kmh)s, %(display)s, %(length_m)s, %(idem_key)s)",
        row,
    )


@pytest.mark.parametrize(
    "field,value,error",
    [
        ("speed_kmh", 0.0, psycopg.errors.CheckViolation),
        ("speed_kmh", -3.0, psycopg.errors.CheckViolation),
        ("speed_kmh", 412.0, psycopg.errors.CheckViolation),
        ("direction", 5, psycopg.errors.CheckViolation),
        ("display", 2, psycopg.errors.CheckViolation),
        ("length_m", 0.0, psycopg.errors.CheckViolation),
        ("time", None, psycopg.errors.NotNullViolation),
        ("idem_key", None, psycopg.errors.NotNullViolation),
    ],
)
def test_readings_reject_bad_values(db, field, value, error):
    site = make_site(db)
    _insert_reading(db, site)  # a good row first: the constraint, not the fixture, decides
    with pytest.raises(error), db.transaction():
        _insert_reading(db, site, **{"idem_key": "00000000-0000-0000-0000-000000000002", field: value})


def test_same_idempotency_key_and_time_cannot_be_stored_twice(db):
    site = make_site(db)
    _insert_reading(db, site)
    with pytest.raises(psycopg.errors.UniqueViolation):
        _insert_reading(db, site, speed_kmh=61.0)


def test_speed_limits_cannot_overlap_but_can_follow_each_other(db):
    site = make_site(db, limit_kmh=50, since=T0)
    db.execute("UPDATE speed_limits SET valid_to = %s WHERE site_id = %s", (T0 + timedelta(days=30), site))
    db.execute("INSERT INTO speed_limits (site_id, valid_from, limit_kmh) VALUES (%s, %s, 40)", (site, T0 + timedelta(days=30)))
    with pytest.raises(psycopg.errors.ExclusionViolation):
        db.execute("INSERT INTO speed_limits (site_id, valid_from, limit_kmh) VALUES (%s, %s, 30)", (site, T0 + timedelta(days=10)))


def test_a_sign_stands_at_one_site_at_a_time(db):
    a, b = make_site(db, "Storgatan 1"), make_site(db, "Kyrkvägen 2")
    sign = make_sign(db)
    deploy(db, sign, a, T0, T0 + timedelta(days=14))
    deploy(db, sign, b, T0 + timedelta(days=14))  # moved: fine
    with pytest.raises(psycopg.errors.ExclusionViolation):
        deploy(db, sign, a, T0 + timedelta(days=20))


@pytest.mark.parametrize(
    "sql_text",
    [
        "INSERT INTO sites (street_id, name, time_zone) SELECT street_id, 'x', 'Mars/Olympus' FROM sites LIMIT 1",
        "INSERT INTO sites (street_id, name, lat) SELECT street_id, 'y', 123 FROM sites LIMIT 1",
        "INSERT INTO signs (serial_number, unit) VALUES ('S9', 'knots')",
        "INSERT INTO rollup_hourly VALUES (1, 1, 0, '2026-01-01 10:30+00', 1, 50, 2500, '{1}')",
        "INSERT INTO controls (site_id, start_time, end_time, method) SELECT id, now(), now() - interval '1 hour', 'laser' FROM sites LIMIT 1",
        "INSERT INTO users (email, role) VALUES ('a@b.se', 'king')",
        "INSERT INTO coverage_hourly (sign_id, hour, minutes) SELECT 1, '2026-01-01 10:00+00', 61",
    ],
)
def test_other_tables_reject_bad_rows(db, sql_text):
    make_site(db)
    make_sign(db, "S1")
    with pytest.raises((psycopg.errors.CheckViolation, psycopg.errors.InvalidParameterValue, psycopg.errors.ForeignKeyViolation)):
        db.execute(sql_text)


def test_a_site_or_sign_with_readings_cannot_be_deleted(db):
    site = make_site(db)
    sign = make_sign(db, "S-DEL")
    spare = make_site(db, "Tomvägen 1")
    _insert_reading(db, site, sign_id=sign)
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="has readings"), db.transaction():
        db.execute("DELETE FROM speed_limits WHERE site_id = %s", (site,))
        db.execute("DELETE FROM sites WHERE id = %s", (site,))
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="has readings"), db.transaction():
        db.execute("DELETE FROM signs WHERE id = %s", (sign,))
    db.execute("DELETE FROM speed_limits WHERE site_id = %s", (spare,))
    db.execute("DELETE FROM sites WHERE id = %s", (spare,))  # one without readings may go


# --- times inside 1990..2100, and readings kept attached (migration 0006) ---------------------

_SIGN_ROWS = {
    "rollup_hourly": "INSERT INTO rollup_hourly (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist) "
                     "VALUES (%(site)s, 1, 0, %(t)s, 1, 50, 2500, '[50:50]={1}')",
    "binned_counts (start)": "INSERT INTO binned_counts (site_id, direction, period_start, period_end, speed_lo, count, source, source_key) "
                             "VALUES (%(site)s, 1, %(t)s, timestamptz '2026-01-01', 0, 1, 't', 'k')",
    "binned_counts (end)": "INSERT INTO binned_counts (site_id, direction, period_start, period_end, speed_lo, count, source, source_key) "
                           "VALUES (%(site)s, 1, timestamptz '2026-01-01', %(t)s, 0, 1, 't', 'k')",
    "coverage_hourly": "INSERT INTO coverage_hourly (sign_id, hour, minutes) VALUES (%(sign)s, %(t)s, 60)",
    "sign_heartbeats": "INSERT INTO sign_heartbeats (sign_id, time) VALUES (%(sign)s, %(t)s)",
}


@pytest.mark.parametrize("t", ["infinity", "9999-12-31 00:00Z", "2100-01-01 00:00Z", "0001-01-01 00:00Z",
                               "1989-12-31 23:00Z"])
@pytest.mark.parametrize("table", ["readings", *_SIGN_ROWS])
def test_times_outside_the_sane_range_cannot_be_stored(db, table, t):
    if (table, t) == ("binned_counts (end)", "2100-01-01 00:00Z"):
        t = "2100-01-01 00:00:01Z"  # a period may end at 2100-01-01 (exclusive), not after it
    site = make_site(db)
    sign = make_sign(db, "S-T")
    if table == "readings":
        _insert_reading(db, site)  # a good row first: the constraint, not the fixture, decides
        sql_text, args = ("INSERT INTO readings (time, site_id, direction, speed_kmh, display, idem_key) "
                          "VALUES (%(t)s, %(site)s, 1, 50, 0, gen_random_uuid())"), {}
    else:
        sql_text, args = _SIGN_ROWS[table], {}
        edge = "2026-01-02 00:00Z" if "end" in table else "2025-12-31 00:00Z"
        with db.transaction():  # the same row at a sane time is fine
            db.execute(sql_text, {"site": site, "sign": sign, "t": edge})
        db.execute("DELETE FROM binned_counts")
    # (rollup_hourly's derive trigger, which runs before the check, already fails at 'infinity')
    with pytest.raises((psycopg.errors.CheckViolation, psycopg.errors.DatetimeFieldOverflow)) as e, db.transaction():
        db.execute(sql_text, {"site": site, "sign": sign, "t": t, **args})
    if isinstance(e.value, psycopg.errors.CheckViolation):
        name = e.value.diag.constraint_name
        # a binned row ending before it starts (its other end is in 2026) breaks that check first
        assert name.endswith("_range") or (name == "binned_counts_check1" and table.startswith("binned"))
    else:
        assert (table, t) == ("rollup_hourly", "infinity")


@pytest.mark.parametrize("start,end,refused_by", [
    ("1989-12-31 23:55Z", "1990-01-01 00:05Z", "binned_counts_period_start_range"),
    ("2099-12-31 23:55Z", "2100-01-01 00:05Z", "binned_counts_period_end_range"),
    ("2099-12-31 23:55Z", "2100-01-01 00:00Z", None),
    ("1990-01-01 00:00Z", "1990-01-01 00:05Z", None),
])
def test_binned_periods_lie_inside_the_range(db, start, end, refused_by):
    site = make_site(db)
    sql_text = ("INSERT INTO binned_counts (site_id, direction, period_start, period_end, speed_lo, count, source, source_key) "
                "VALUES (%s, 1, %s, %s, 0, 1, 't', 'k')")
    if refused_by is None:
        db.execute(sql_text, (site, start, end))
        return
    with pytest.raises(psycopg.errors.CheckViolation) as e:
        db.execute(sql_text, (site, start, end))
    assert e.value.diag.constraint_name == refused_by


def test_psql_cannot_insert_a_reading_at_infinity(db, db_url):
    site = make_site(db)
    db.commit()
    r = subprocess.run(["psql", db_url, "-v", "ON_ERROR_STOP=1", "-c",
                        ("INSERT INTO readings (time, site_id, direction, speed_kmh, display, idem_key) "
                         f"VALUES ('infinity', {site}, 1, 50, 0, gen_random_uuid())")],
                       check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "readings_time_range" in r.stderr
    assert db.execute("SELECT count(*) FROM readings").fetchone()[0] == 0


def test_the_time_range_holds_on_every_chunk_of_readings(db):
    site = make_site(db)
    for i, t in enumerate(["1995-03-01", "2026-01-01", "2099-12-31 23:59:59Z"]):
        _insert_reading(db, site, time=t, idem_key=f"00000000-0000-0000-0000-00000000001{i}")
    chunks = db.execute("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'readings'").fetchone()[0]
    checked = db.execute(
        "SELECT count(*) FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid "
        "JOIN pg_namespace n ON n.oid = r.relnamespace "
        "WHERE c.conname = 'readings_time_range' AND n.nspname = '_timescaledb_internal'").fetchone()[0]
    assert chunks == checked == 3


def test_a_site_or_sign_id_cannot_change_under_its_readings(db):
    site = make_site(db)
    sign = make_sign(db, "S-ID")
    spare_site, spare_sign = make_site(db, "Tomvägen 1"), make_sign(db, "S-SPARE")
    _insert_reading(db, site, sign_id=sign)
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match=f"site {site} has readings"), db.transaction():
        db.execute("UPDATE speed_limits SET site_id = site_id WHERE false")
        db.execute("UPDATE sites SET id = 9000 WHERE id = %s", (site,))
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match=f"sign {sign} has readings"), db.transaction():
        db.execute("UPDATE signs SET id = 9001 WHERE id = %s", (sign,))
    # without readings, or without changing the id, an update is fine
    db.execute("UPDATE sites SET name = 'Storgatan 12 B' WHERE id = %s", (site,))
    db.execute("UPDATE signs SET id = 9002 WHERE id = %s", (spare_sign,))
    db.execute("DELETE FROM speed_limits WHERE site_id = %s", (spare_site,))
    db.execute("UPDATE sites SET id = 9003 WHERE id = %s", (spare_site,))
    assert db.execute("SELECT site_id, sign_id FROM readings").fetchall() == [(site, sign)]


def test_a_reading_cannot_be_moved_to_an_unknown_site_or_sign(db):
    site, other = make_site(db), make_site(db, "Kyrkvägen 2")
    sign, other_sign = make_sign(db, "S-A"), make_sign(db, "S-B")
    _insert_reading(db, site, sign_id=sign)
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="no site with id 424242"), db.transaction():
        db.execute("UPDATE readings SET site_id = 424242")
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="no sign with id 424243"), db.transaction():
        db.execute("UPDATE readings SET sign_id = 424243")
    db.execute("UPDATE readings SET site_id = %s, sign_id = %s", (other, other_sign))  # known ids: fine
    db.execute("UPDATE readings SET sign_id = NULL")
    db.execute("UPDATE readings SET speed_kmh = 51")
    assert db.execute("SELECT site_id, sign_id, speed_kmh FROM readings").fetchall() == [(other, None, 51.0)]


def test_the_id_guard_on_readings_is_an_update_trigger_only(db):
    site = make_site(db)
    _insert_reading(db, site)  # a chunk, which carries the hypertable's triggers
    events = set(db.execute(
        "SELECT DISTINCT trigger_name, event_manipulation FROM information_schema.triggers "
        "WHERE (event_object_table = 'readings' OR event_object_schema = '_timescaledb_internal') "
        "AND trigger_name <> 'ts_insert_blocker'").fetchall())  # TimescaleDB's own, on the root table only
    assert events == {("readings_refs_exist", "UPDATE")}  # no INSERT trigger: ingest pays nothing for it


ALL_BUT_READINGS = "every table but readings"  # named from the catalogue: migrations add tables


@pytest.mark.parametrize("statement,emptied", [
    ("TRUNCATE sites CASCADE", "sites"),
    ("TRUNCATE signs CASCADE", "signs"),
    ("TRUNCATE streets CASCADE", "sites"),       # reaches sites through the cascade
    ("TRUNCATE police_areas CASCADE", "sites"),
    (ALL_BUT_READINGS, "signs"),  # every table named: no foreign key stops it, the guard does
])
def test_tables_readings_point_into_cannot_be_truncated_while_readings_exist(db, statement, emptied):
    if statement == ALL_BUT_READINGS:
        statement = "TRUNCATE " + db.execute(
            "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename <> 'readings'").fetchone()[0]
        db.commit()
    site = make_site(db)
    sign = make_sign(db, "S-TR")
    _insert_reading(db, site, sign_id=sign)
    db.commit()
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="readings point into"):
        db.execute(statement)
    db.rollback()
    assert db.execute("SELECT count(*) FROM sites WHERE id = %s", (site,)).fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM signs WHERE id = %s", (sign,)).fetchone()[0] == 1
    db.execute("TRUNCATE readings")  # readings first: then the rest may go
    db.execute(statement)
    assert db.execute(f"SELECT count(*) FROM {emptied}").fetchone()[0] == 0
