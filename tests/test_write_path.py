"""The one write path: nothing counted twice, nothing accepted lost, rollups exact."""

from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest

from collector.passes import Direction, Display, VehiclePass, pass_key
from collector.store import write_passes
from places import deploy, make_sign, make_site

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)


def _count(conn):
    return conn.execute("SELECT count(*) FROM readings").fetchone()[0]


def test_batch_sent_twice_is_stored_once_and_equal_looking_vehicles_all_count(db):
    site = make_site(db)
    # three vehicles identical in every field (same second, same speed): all three are real
    twins = [VehiclePass(T0, 52.0, Direction.APPROACHING, site_id=site, display=Display.STEALTH)] * 3
    other = [VehiclePass(T0 + timedelta(seconds=s), 40.0 + s, Direction.RECEDING, site_id=site, display=Display.STEALTH)
             for s in range(5)]
    batch = twins + other
    first = write_passes(db, batch)
    assert (first.inserted, first.duplicates, first.rejected) == (8, 0, [])
    again = write_passes(db, batch)
    assert (again.inserted, again.duplicates) == (0, 8)
    db.commit()
    assert _count(db) == 8
    n = db.execute("SELECT sum(n) FROM rollup_hourly").fetchone()[0]
    assert n == 8


def test_keyed_passes_resent_in_a_different_split_are_stored_once(db):
    site = make_site(db)
    passes = [VehiclePass(T0 + timedelta(seconds=i), 30.0 + i % 40, Direction.APPROACHING, site_id=site,
                          display=Display.DISPLAY, key=pass_key("serial:SN1", i)) for i in range(100)]
    write_passes(db, passes[:60])
    r = write_passes(db, passes[40:])  # overlaps 20
    assert (r.inserted, r.duplicates) == (40, 20)
    r = write_passes(db, passes[10:20] + passes[10:20])  # repeated within one batch
    assert (r.inserted, r.duplicates) == (0, 20)
    assert _count(db) == 100
    assert db.execute("SELECT sum(n) FROM rollup_hourly").fetchone()[0] == 100


def test_bad_passes_are_rejected_by_field_and_value_and_the_rest_is_stored(db):
    site = make_site(db)
    sign = make_sign(db)
    deploy(db, sign, site, T0, T0 + timedelta(days=1), display=1)
    batch = [
        VehiclePass(T0 + timedelta(minutes=1), 48.0, Direction.APPROACHING, sign_id=sign),        # ok, via deployment
        VehiclePass(T0 + timedelta(minutes=2), -5.0, Direction.APPROACHING, sign_id=sign),        # bad speed
        VehiclePass(T0 + timedelta(days=3), 50.0, Direction.APPROACHING, sign_id=sign),           # no deployment then
        VehiclePass(T0 + timedelta(minutes=3), 51.0, Direction.RECEDING, site_id=site, display=Display.STEALTH),
        VehiclePass(T0 + timedelta(minutes=4), 51.0, Direction.RECEDING, site_id=424242, display=Display.STEALTH),
        VehiclePass(T0 + timedelta(minutes=5), float("nan"), Direction.RECEDING, site_id=site, display=Display.STEALTH),
        VehiclePass(T0.replace(tzinfo=None), 40.0, Direction.RECEDING, site_id=site, display=Display.STEALTH),
        VehiclePass(T0 + timedelta(minutes=6), 40.0, Direction.RECEDING, site_id=site, display=Display.STEALTH, length_m=90.0),
    ]
    r = write_passes(db, batch)
    assert r.inserted == 2
    got = {(x.index, x.field) for x in r.rejected}
    assert got == {(1, "speed_kmh"), (2, "site_id"), (4, "site_id"), (5, "speed_kmh"), (6, "time"), (7, "length_m")}
    msgs = {x.index: str(x) for x in r.rejected}
    assert "-5.0" in msgs[1] and "speed_kmh" in msgs[1]
    assert "deployment" in msgs[2]
    assert "424242" in msgs[4]
    rows = db.execute("SELECT site_id, display, speed_kmh FROM readings ORDER BY time").fetchall()
    assert rows == [(site, 1, 48.0), (site, 0, 51.0)]  # display mode came from the deployment


def test_rollups_equal_a_direct_computation_from_readings(db):
    rng = np.random.default_rng(7)
    sites = [make_site(db, f"Gata{i} {i}") for i in range(3)]
    n = 5000
    secs = np.sort(rng.integers(0, 3 * 86400, n))
    passes = [
        VehiclePass(T0 + timedelta(seconds=int(s)), float(np.round(rng.lognormal(3.9, 0.2), 1)),
                    Direction(int(rng.integers(0, 3))), site_id=sites[int(rng.integers(0, 3))],
                    display=Display(int(rng.integers(0, 2))))
        for s in secs
    ]
    half = n // 2
    for i in range(0, half, 700):  # new passes only: the direct COPY path
        write_passes(db, passes[i:min(i + 700, half)])
    for i in range(half - 200, n, 500):  # each batch re-sends 200 stored passes: the deduplicating path
        r = write_passes(db, passes[i:i + 700])
        assert r.duplicates == min(200, n - i) and r.inserted == len(passes[i:i + 700]) - r.duplicates
    db.commit()
    rows = db.execute(
        "SELECT site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist, array_lower(hist, 1) FROM rollup_hourly"
    ).fetchall()
    stored = db.execute("SELECT site_id, direction, display, time, speed_kmh FROM readings").fetchall()
    assert len(stored) == n
    expect: dict = {}
    for site, d, disp, t, v in stored:
        v = float(np.float32(v))  # speed_kmh is a 4-byte real; rollups sum its exact value
        hour = t.replace(minute=0, second=0, microsecond=0)
        e = expect.setdefault((site, d, disp, hour), [0, 0.0, 0.0, {}])
        e[0] += 1
        e[1] += v
        e[2] += v * v
        e[3][int(np.floor(v))] = e[3].get(int(np.floor(v)), 0) + 1
    assert len(rows) == len(expect)
    for site, d, disp, hour, cnt, s, ss, hist, lo in rows:
        e = expect[(site, d, disp, hour)]
        assert cnt == e[0]
        assert s == pytest.approx(e[1], rel=1e-9)
        assert ss == pytest.approx(e[2], rel=1e-9)
        got = {lo + i: c for i, c in enumerate(hist) if c}
        assert got == e[3]
        assert min(e[3]) == lo and max(e[3]) == lo + len(hist) - 1  # no padding beyond the data


def test_write_is_atomic_with_the_callers_transaction(db):
    site = make_site(db)
    db.commit()
    write_passes(db, [VehiclePass(T0, 50.0, Direction.APPROACHING, site_id=site, display=Display.STEALTH)])
    db.rollback()  # the caller decides: nothing of the batch, rollup included, remains
    assert _count(db) == 0
    assert db.execute("SELECT count(*) FROM rollup_hourly").fetchone()[0] == 0


def test_unreachable_database_raises_operational_error():
    with pytest.raises(psycopg.OperationalError):
        with psycopg.connect("postgresql://postgres@127.0.0.1:1/none", connect_timeout=2) as conn:
            write_passes(conn, [])
