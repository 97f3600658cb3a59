"""The one write path: nothing counted twice, nothing accepted lost, rollups exact."""

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest
from places import deploy, make_sign, make_site

from collector.passes import Direction, Display, VehiclePass, pass_key
from collector.store import write_passes

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


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
    with pytest.raises(psycopg.OperationalError), \
            psycopg.connect("postgresql://postgres@127.0.0.1:1/none", connect_timeout=2) as conn:
        write_passes(conn, [])


# --- plausible times and values checked as stored -----------------------------------------------

RECEIVED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _at(t, v=50.0, **kw):
    return VehiclePass(t, v, Direction.APPROACHING, display=Display.STEALTH, **kw)


# (pass, field rejected or None when it must be stored)
CASES = [
    (_at(datetime(9999, 12, 31, 23, 59, tzinfo=UTC)), "time"),
    (_at(datetime(2099, 6, 1, tzinfo=UTC)), "time"),
    (_at(datetime(1, 1, 1, tzinfo=UTC)), "time"),
    (_at(datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)), "time"),
    (_at(datetime(2000, 1, 1, tzinfo=UTC)), None),                              # the earliest itself
    (_at(RECEIVED + timedelta(minutes=10, seconds=1)), "time"),
    (_at(RECEIVED + timedelta(minutes=10)), None),                              # the margin itself
    (_at(RECEIVED.astimezone(timezone(timedelta(hours=14))) + timedelta(minutes=5)), None),  # any offset
    (_at(T0, 299.99999), "speed_kmh"),                                          # 300.0 as a real
    (_at(T0, 299.99), None),                                                    # 299.98999 as a real
    (_at(T0, 1e-50 * 1.609344), "speed_kmh"),                                   # 1e-50 mph: 0 as a real
    (_at(T0, 1e-44), None),                                                     # a subnormal real, > 0
    (_at(T0, float("nan")), "speed_kmh"),
    (_at(T0, float("inf")), "speed_kmh"),
    (_at(T0, 1e39), "speed_kmh"),                                               # beyond float32: inf
    (_at(T0, 10 ** 400), "speed_kmh"),                                          # beyond float64
    (_at(T0, "50"), "speed_kmh"),
    (_at(T0, True), "speed_kmh"),
    (_at(T0, 50.0, length_m=39.999999), "length_m"),                            # 40.0 as a real
    (_at(T0, 50.0, length_m=1e-50), "length_m"),
    (_at(T0, 50.0, length_m=float("nan")), "length_m"),
    (_at(T0, 50.0, length_m=4.5), None),
]


@pytest.mark.parametrize("p,field", CASES, ids=[f"{c[0].time:%Y-%m-%dT%H:%M:%S}-{c[0].speed_kmh!r:.12}-{c[0].length_m}"
                                                   for c in CASES])
def test_each_pass_is_stored_or_rejected_naming_field_and_value(db, p, field):
    from dataclasses import replace

    site = make_site(db)
    r = write_passes(db, [replace(p, site_id=site)], received=RECEIVED)
    if field is None:
        assert (r.inserted, r.rejected) == (1, [])
        assert _count(db) == 1
        return
    assert r.inserted == 0 and _count(db) == 0
    (bad,) = r.rejected
    assert (bad.index, bad.field) == (0, field)
    value = getattr(p, field)
    assert bad.value is value or bad.value == value
    assert "refused by the database" not in bad.reason  # the check caught it, not the database
    assert field in str(bad) and repr(value)[:8] in str(bad)


def test_a_mixed_batch_stores_exactly_the_good_passes_and_names_each_bad_one(db):
    from dataclasses import replace

    site = make_site(db)
    batch = [replace(p, site_id=site, key=pass_key("mixed", i)) for i, (p, _) in enumerate(CASES)]
    good = [i for i, (_, f) in enumerate(CASES) if f is None]
    r = write_passes(db, batch, received=RECEIVED)
    assert r.inserted == len(good) and r.duplicates == 0
    assert [(x.index, x.field) for x in r.rejected] == [(i, f) for i, (_, f) in enumerate(CASES) if f is not None]
    db.commit()
    assert _count(db) == len(good)
    assert db.execute("SELECT sum(n) FROM rollup_hourly").fetchone()[0] == len(good)
    keys = {k for (k,) in db.execute("SELECT idem_key FROM readings")}
    assert keys == {pass_key("mixed", i) for i in good}
    reasons = {CASES[x.index][0].speed_kmh: x.reason for x in r.rejected if x.field == "speed_kmh"}
    assert reasons[299.99999].endswith("(stored as a 4-byte real it is 300)")
    assert reasons[1e-50 * 1.609344].endswith("(stored as a 4-byte real it is 0)")
    again = write_passes(db, batch, received=RECEIVED)  # re-sent: nothing new, the same rejections
    assert (again.inserted, again.duplicates, len(again.rejected)) == (0, len(good), len(r.rejected))


def test_the_receive_time_defaults_to_now(db):
    site = make_site(db)
    now = datetime.now(UTC)
    r = write_passes(db, [_at(now - timedelta(minutes=1), site_id=site), _at(now + timedelta(hours=1), site_id=site)])
    assert r.inserted == 1 and [(x.index, x.field) for x in r.rejected] == [(1, "time")]
    assert "after the receive time" in r.rejected[0].reason


def test_a_naive_receive_time_is_refused(db):
    site = make_site(db)
    with pytest.raises(ValueError, match="timezone-aware"):
        write_passes(db, [_at(T0, site_id=site)], received=RECEIVED.replace(tzinfo=None))


@pytest.mark.parametrize("resent", [False, True], ids=["direct-copy", "deduplicating"])
def test_passes_the_database_refuses_anyway_are_reported_and_the_rest_stored(db, resent):
    """A rule wider than the database's range lets 1985 and 2150 through; COPY refuses them."""
    from collector.plausible import TimeRule

    site = make_site(db)
    rule = TimeRule(earliest=datetime(1900, 1, 1, tzinfo=UTC))
    received = datetime(2200, 1, 1, tzinfo=UTC)
    good = [_at(T0 + timedelta(seconds=i), 40.0 + i % 30, site_id=site, key=pass_key("g", i)) for i in range(1000)]
    bad = {137: _at(datetime(1985, 5, 1, tzinfo=UTC), site_id=site),
           600: _at(datetime(2150, 5, 1, tzinfo=UTC), site_id=site),
           601: _at(datetime(2150, 5, 1, 1, tzinfo=UTC), site_id=site)}
    batch = list(good)
    for i in sorted(bad):
        batch.insert(i, bad[i])
    if resent:  # some keys stored already: the refusal meets the deduplicating path
        write_passes(db, good[:300], received=received, rule=rule)
    r = write_passes(db, batch, received=received, rule=rule)
    assert [(x.index, x.field, x.value) for x in r.rejected] == [(i, "time", bad[i].time) for i in sorted(bad)]
    assert all("refused by the database" in x.reason and "readings_time_range" in x.reason for x in r.rejected)
    assert (r.inserted, r.duplicates) == ((700, 300) if resent else (1000, 0))
    db.commit()
    assert _count(db) == 1000
    assert db.execute("SELECT sum(n) FROM rollup_hourly").fetchone()[0] == 1000
    assert db.execute("SELECT count(DISTINCT idem_key) FROM readings").fetchone()[0] == 1000


def test_values_at_the_edges_of_the_stored_type_never_fail_in_copy(db):
    """Whatever the check lets through, COPY stores: no refusal from the database."""
    rng = np.random.default_rng(3)
    f32 = np.float32
    edges = [300.0, 0.0, float(np.nextafter(f32(300), f32(0))), float(np.finfo(np.float32).smallest_subnormal)]
    values = []
    for e in edges:
        values += [e + d for d in np.linspace(-1e-4, 1e-4, 41)] + [float(np.nextafter(e, 1e9)), float(np.nextafter(e, -1e9))]
    values += list(rng.uniform(-1e-40, 1e-40, 50)) + list(rng.uniform(299.9999, 300.0001, 50))
    site = make_site(db)
    batch = [VehiclePass(T0 + timedelta(seconds=i), float(v), Direction.RECEDING, site_id=site,
                         display=Display.DISPLAY, length_m=float(v) / 7.5) for i, v in enumerate(values)]
    r = write_passes(db, batch, received=RECEIVED)
    assert not [x for x in r.rejected if "refused by the database" in x.reason]
    assert r.inserted + len(r.rejected) == len(values) and r.inserted > 0
    stored = [v for (v,) in db.execute("SELECT speed_kmh FROM readings")]
    assert all(0 < v < 300 for v in stored)
