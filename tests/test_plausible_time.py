"""Implausible times never poison what other sites show: the write path refuses them, migration
0006 removes those stored before it, and default periods end at now at the latest."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from places import deploy, make_sign, make_site
from servers import running

from api.app import create_app
from collector.drain import StoreSink
from collector.passes import Direction, Display, VehiclePass, pass_key
from collector.plausible import TimeRule
from collector.spool import SpoolBatch, SpooledPass
from collector.store import write_passes
from fartkoll.cli import main
from fartkoll.settings import Settings
from planner.load import default_period
from planner.settings import PlannerSettings
from sql import migrate as m

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
RANGE = ("1990-01-01 00:00Z", "2100-01-01 00:00Z")


def _passes(site, start, n, tag, speed=45.0):
    return [VehiclePass(start + timedelta(minutes=i), speed + i % 20, Direction(1 + i % 2), site_id=site,
                        display=Display.STEALTH, key=pass_key(tag, i)) for i in range(n)]


# --- migration 0006 on a database poisoned before it --------------------------------------------


def _poison(conn, site, sign):
    """Rows outside 1990..2100 as psql could store them before migration 0006."""
    for i, t in enumerate(["infinity", "9999-12-31 23:00Z", "0001-01-01 00:00Z", "1989-12-31 23:00Z", "2100-01-01 00:00Z"]):
        conn.execute("INSERT INTO readings (time, site_id, sign_id, direction, speed_kmh, display, idem_key) "
                     "VALUES (%s, %s, %s, 1, 50, 0, %s)", (t, site, sign, pass_key("bad", i)))
    for t in ["9999-12-31 22:00Z", "0001-01-01 00:00Z", "1989-12-31 23:00Z"]:
        conn.execute("INSERT INTO rollup_hourly (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist) "
                     "VALUES (%s, 1, 0, %s, 1, 50, 2500, '[50:50]={1}')", (site, t))
    conn.execute("INSERT INTO binned_counts (site_id, direction, period_start, period_end, speed_lo, count, source, source_key) "
                 "VALUES (%s, 1, '2026-03-02', 'infinity', 0, 7, 'test', 'open-end')", (site,))
    conn.execute("INSERT INTO coverage_hourly (sign_id, hour, minutes) VALUES (%s, '9999-12-31 22:00Z', 60)", (sign,))
    conn.execute("INSERT INTO sign_heartbeats (sign_id, time) VALUES (%s, 'infinity'), (%s, '2026-03-02 07:00Z')",
                 (sign, sign))


def _store_as_then(conn, passes):
    """Passes stored as the schema before 0006 took them (today's write path needs later
    migrations): readings and their hourly rollups, the rollups' derived columns by its triggers."""
    groups: dict[tuple, list[float]] = {}
    for p in passes:
        conn.execute("INSERT INTO readings (time, site_id, direction, speed_kmh, display, idem_key) "
                     "VALUES (%s, %s, %s, %s, %s, %s)",
                     (p.time, p.site_id, int(p.direction), p.speed_kmh, int(p.display), p.key))
        hour = p.time.replace(minute=0, second=0, microsecond=0)
        groups.setdefault((p.site_id, int(p.direction), int(p.display), hour), []).append(p.speed_kmh)
    for (site, direction, display, hour), speeds in groups.items():
        bins = [int(v) for v in speeds]
        lo, hi = min(bins), max(bins)
        hist = "[%d:%d]={%s}" % (lo, hi, ",".join(str(bins.count(b)) for b in range(lo, hi + 1)))
        conn.execute("INSERT INTO rollup_hourly (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist) "
                     "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                     (site, direction, display, hour, len(speeds), sum(speeds), sum(v * v for v in speeds), hist))
    assert conn.execute("SELECT count(*) FROM readings WHERE site_id = %s", (passes[0].site_id,)).fetchone()[0] \
        == len(passes)


def _running_totals_as_then(conn, site, until):
    """Stand-in running totals (migration 0005's tables; 0006 treats their contents as opaque):
    a state through ``until`` and one all-zero week per direction."""
    conn.execute("INSERT INTO cell_weeks_state (site_id, through_hour) VALUES (%s, %s)", (site, until))
    for direction in (1, 2):
        conn.execute("INSERT INTO cell_series (site_id, limit_kmh, direction, display) VALUES (%s, 50, %s, 0)",
                     (site, direction))
        conn.execute("INSERT INTO cell_weeks (site_id, limit_kmh, direction, display, local_week, cum) "
                     "VALUES (%s, 50, %s, 0, 2926, %s)", (site, direction, bytes(168 * 44)))


def _state(conn, site):
    row = conn.execute("SELECT through_hour FROM cell_weeks_state WHERE site_id = %s", (site,)).fetchone()
    weeks = conn.execute("SELECT count(*) FROM cell_weeks WHERE site_id = %s", (site,)).fetchone()[0]
    return (row[0] if row else None), weeks


def test_migration_0006_cleans_a_poisoned_database_and_the_jobs_run_after_it(empty_db_url, monkeypatch):
    from planner.cellcache import refresh
    from planner.jobs.consistency import check_rollups
    from planner.jobs.retention import drop_old_readings

    every = m.migrations()
    assert every[5].name == "0006_plausible_times.sql"
    with psycopg.connect(empty_db_url) as conn:
        monkeypatch.setattr(m, "migrations", lambda: every[:5])
        m.migrate(conn)
        clean, poisoned = make_site(conn, "Rena gatan 1"), make_site(conn, "Giftiga gatan 2")
        sign = make_sign(conn, "SN-POISON")
        deploy(conn, sign, poisoned, T0 - timedelta(days=1))
        for site, tag in ((clean, "clean"), (poisoned, "poisoned")):
            _store_as_then(conn, _passes(site, T0, 300, tag))
        conn.commit()
        until = T0 + timedelta(days=1)
        for site in (clean, poisoned):  # running totals as the cells job of that schema left them
            _running_totals_as_then(conn, site, until)
        conn.commit()
        assert _state(conn, clean) == (until, 2) and _state(conn, poisoned) == (until, 2)
        clean_weeks = 2
        _poison(conn, poisoned, sign)
        conn.commit()
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 605

        monkeypatch.setattr(m, "migrations", lambda: every[:6])
        assert m.migrate(conn) == ["0006_plausible_times.sql"]

        counts = dict(conn.execute("SELECT site_id, count(*) FROM readings GROUP BY 1").fetchall())
        assert counts == {clean: 300, poisoned: 300}
        rollups = dict(conn.execute("SELECT site_id, sum(n) FROM rollup_hourly GROUP BY 1").fetchall())
        assert rollups == {clean: 300, poisoned: 300}
        for table, column in (("rollup_hourly", "hour"), ("coverage_hourly", "hour"), ("sign_heartbeats", "time"),
                              ("binned_counts", "period_end")):
            outside = conn.execute(f"SELECT count(*) FROM {table} WHERE NOT ({column} >= %s AND {column} < %s)",
                                   RANGE).fetchone()[0]
            assert outside == 0, table
        assert conn.execute("SELECT count(*) FROM sign_heartbeats").fetchone()[0] == 1
        # the chunks wholly outside the range (year 1, 9999, infinity) are gone; those straddling its
        # ends are empty and checked like the others
        far = conn.execute("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'readings' "
                           "AND (range_end <= %s OR range_start >= %s)", RANGE).fetchone()[0]
        assert far == 0
        # the poisoned site's running totals are gone (rebuilt below); the clean site's are untouched
        assert _state(conn, poisoned) == (None, 0)
        assert _state(conn, clean) == (until, clean_weeks)
        with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
            conn.execute("INSERT INTO readings (time, site_id, direction, speed_kmh, display, idem_key) "
                         "VALUES ('infinity', %s, 1, 50, 0, gen_random_uuid())", (clean,))

        # the jobs that a year-1 or year-9999 row broke, on the schema of today; the clean site's
        # stand-in totals rebuilt too, so both sites' totals come from the same job
        monkeypatch.setattr(m, "migrations", lambda: every)
        m.migrate(conn)
        conn.execute("DELETE FROM cell_weeks WHERE site_id = %s", (clean,))
        conn.execute("UPDATE cell_weeks_state SET through_hour = NULL WHERE site_id = %s", (clean,))
        refresh(conn, PlannerSettings(), until=until)
        rebuilt = _state(conn, clean)
        assert rebuilt[0] == until and rebuilt[1] > 0
        assert _state(conn, poisoned) == rebuilt  # the same 300 passes remain at both sites
        drop_old_readings(conn, now=datetime.now(UTC), days=3650)
        report = check_rollups(conn, T0 - timedelta(days=1), T0 + timedelta(days=1))
        assert not report.mismatches
        conn.commit()


# --- the serial collector's sink passes its receive time and the settings' rule ---------------


def test_the_store_sink_judges_times_against_its_clock_and_rule(db, db_url):
    site = make_site(db)
    db.commit()
    now = T0 + timedelta(days=2)
    sink = StoreSink(lambda: psycopg.connect(db_url), clock=lambda: now,
                     rule=TimeRule(future_margin=timedelta(minutes=1)))
    times = [now - timedelta(minutes=5), now + timedelta(seconds=30), now + timedelta(minutes=2)]
    entries = tuple(SpooledPass(i, "SN-1", VehiclePass(t, 50.0, Direction.APPROACHING, site_id=site,
                                                       display=Display.STEALTH, key=pass_key("sink", i)))
                    for i, t in enumerate(times))
    result = sink(SpoolBatch(uuid.uuid4(), entries, 3))
    sink.close()
    assert result.inserted == 2
    assert [(r.index, r.field) for r in result.rejected] == [(2, "time")]
    assert "1 min after the receive time" in result.rejected[0].reason


# --- after a rejected far-future row, every other site still works -----------------------------


@pytest.fixture
def two_sites(db, db_url, monkeypatch):
    """Two sites with a week of traffic up to an hour ago; the second also sent a 9999 and a 2099 pass."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=7)
    good, bad = make_site(db, "Goda gatan 1"), make_site(db, "Klockfel 2")
    write_passes(db, [VehiclePass(start + timedelta(minutes=10 * i), 35.0 + i % 30, Direction(1 + i % 2),
                                  site_id=good, display=Display.STEALTH) for i in range(7 * 144 - 6)])
    far = [VehiclePass(datetime(9999, 12, 31, 23, tzinfo=UTC), 50.0, Direction.APPROACHING, site_id=bad,
                       display=Display.STEALTH),
           VehiclePass(datetime(2099, 6, 1, tzinfo=UTC), 50.0, Direction.APPROACHING, site_id=bad,
                       display=Display.STEALTH)]
    r = write_passes(db, _passes(bad, start, 100, "bad") + far)
    assert r.inserted == 100 and [(x.index, x.field) for x in r.rejected] == [(100, "time"), (101, "time")]
    db.commit()
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("FARTKOLL_CONFIG", raising=False)
    return {"now": now, "good": good, "bad": bad}


def _cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _check_other_sites_work(db, db_url, capsys, now):
    period = default_period(db, 4)
    assert now - timedelta(hours=2) < period.end <= now + timedelta(hours=1)
    code, out, err = _cli(capsys, "stats", "Goda gatan 1", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert sum(g["n"] for g in d["groups"]) == 7 * 144 - 6
    assert datetime.fromisoformat(d["period"]["to"]) <= now + timedelta(hours=1)
    code, out, err = _cli(capsys, "planner", "rank", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert datetime.fromisoformat(d["period"]["to"]) <= now + timedelta(hours=1)
    vehicles = {s["name"]: s["vehicles"] for s in d["sites"]}
    assert vehicles.get("Goda gatan 1", 0) > 0  # the ranking still lists the good site with its traffic
    with running(create_app(Settings(database_url=db_url))) as base:
        r = httpx.get(f"{base}/api/v1/sites", timeout=30)
    assert r.status_code == 200, r.text
    by_name = {s["name"]: s for s in r.json()}
    assert sum(f["n"] for f in by_name["Goda gatan 1"]["recent"]) > 0


def test_after_a_rejected_far_future_pass_stats_rank_and_sites_work(db, db_url, capsys, two_sites):
    assert db.execute("SELECT max(time) FROM readings").fetchone()[0] < two_sites["now"]
    _check_other_sites_work(db, db_url, capsys, two_sites["now"])


def test_a_future_row_stored_from_psql_cannot_move_default_periods_past_now(db, db_url, capsys, two_sites):
    # 2099 lies inside the database's range, so psql can still store it (the write path cannot)
    db.execute("INSERT INTO readings (time, site_id, direction, speed_kmh, display, idem_key) "
               "VALUES ('2099-06-01 00:00Z', %s, 1, 50, 0, gen_random_uuid())", (two_sites["bad"],))
    db.execute("INSERT INTO rollup_hourly (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist) "
               "VALUES (%s, 1, 0, '2099-06-01 00:00Z', 1, 50, 2500, '[50:50]={1}')", (two_sites["bad"],))
    db.commit()
    _check_other_sites_work(db, db_url, capsys, two_sites["now"])
