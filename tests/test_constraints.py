"""Bad rows cannot enter, even from plain SQL."""

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from places import deploy, make_sign, make_site

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def _insert_reading(conn, site, **over):
    row = dict(time=T0, site_id=site, sign_id=None, direction=1, speed_kmh=50.0, display=0, length_m=None,
               idem_key="00000000-0000-0000-0000-000000000001")
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
    with pytest.raises(error):
        with db.transaction():
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
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="has readings"):
        with db.transaction():
            db.execute("DELETE FROM speed_limits WHERE site_id = %s", (site,))
            db.execute("DELETE FROM sites WHERE id = %s", (site,))
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="has readings"):
        with db.transaction():
            db.execute("DELETE FROM signs WHERE id = %s", (sign,))
    db.execute("DELETE FROM speed_limits WHERE site_id = %s", (spare,))
    db.execute("DELETE FROM sites WHERE id = %s", (spare,))  # one without readings may go
