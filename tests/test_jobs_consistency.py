"""The rollup consistency check finds corrupted and missing rollups; the repair restores them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from planner.jobs.consistency import ConsistencyError, check_rollups, last_hours, repair_rollups, window

END = datetime(2024, 11, 4, tzinfo=timezone.utc)
START = END - timedelta(days=3)
ROW = "SELECT n, sum_kmh, sumsq_kmh, hist::text FROM rollup_hourly WHERE site_id = %s AND direction = %s AND display = %s AND hour = %s"


def test_clean_demo_rollups_match_their_readings(seeded_url):
    with psycopg.connect(seeded_url) as conn:
        report = check_rollups(conn, START, END)
        assert report.ok and report.rollup_rows > 100 and "0 mismatch" in str(report)


def test_finds_corrupted_and_missing_rollups_and_repair_fixes_them(seeded_url):
    with psycopg.connect(seeded_url) as conn:
        keys = conn.execute("SELECT site_id, direction, display, hour FROM rollup_hourly WHERE hour >= %s AND hour < %s "
                            "ORDER BY n DESC LIMIT 3", (START, END)).fetchall()
        bumped, gone, shifted = keys
        original = {k: conn.execute(ROW, k).fetchone() for k in keys}
        outside = conn.execute("SELECT count(*), sum(n) FROM rollup_hourly WHERE hour < %s OR hour >= %s",
                               (START, END)).fetchone()
        conn.execute("UPDATE rollup_hourly SET n = n + 1, hist[array_lower(hist, 1)] = hist[array_lower(hist, 1)] + 1 "
                     "WHERE site_id = %s AND direction = %s AND display = %s AND hour = %s", bumped)
        conn.execute("DELETE FROM rollup_hourly WHERE site_id = %s AND direction = %s AND display = %s AND hour = %s", gone)
        conn.execute("UPDATE rollup_hourly SET sum_kmh = sum_kmh + 0.5 "
                     "WHERE site_id = %s AND direction = %s AND display = %s AND hour = %s", shifted)
        conn.commit()

        report = check_rollups(conn, START, END)
        conn.commit()
        found = {(m.site_id, m.direction, m.display, m.hour): m.fields for m in report.mismatches}
        assert found == {bumped: ["n", "hist"], gone: ["missing rollup"], shifted: ["sum"]}
        assert not report.ok and "3 mismatch" in str(report)

        fixed = repair_rollups(conn, START, END)
        conn.commit()
        assert fixed.repaired and len(fixed.mismatches) == 3 and fixed.rows_replaced == report.rollup_rows + 1
        assert check_rollups(conn, START, END).ok
        for k in keys:
            n, s, ss, hist = conn.execute(ROW, k).fetchone()
            assert (n, hist) == (original[k][0], original[k][3])
            assert s == pytest.approx(original[k][1], rel=1e-12) and ss == pytest.approx(original[k][2], rel=1e-12)
        assert conn.execute("SELECT count(*), sum(n) FROM rollup_hourly WHERE hour < %s OR hour >= %s",
                            (START, END)).fetchone() == outside


def test_a_rollup_without_readings_is_reported(seeded_url):
    with psycopg.connect(seeded_url) as conn:
        k = conn.execute("SELECT site_id, direction, display, hour FROM rollup_hourly WHERE hour >= %s "
                         "ORDER BY hour LIMIT 1", (START,)).fetchone()
        conn.execute("DELETE FROM readings WHERE site_id = %s AND direction = %s AND display = %s "
                     "AND time >= %s AND time < %s + interval '1 hour'", k + (k[3],))
        report = check_rollups(conn, START, END)
        assert [(m.site_id, m.direction, m.display, m.hour, m.fields) for m in report.mismatches] == [
            k + (["rollup without readings"],)]
        repair_rollups(conn, START, END)
        assert conn.execute("SELECT count(*) FROM rollup_hourly WHERE site_id = %s AND direction = %s "
                            "AND display = %s AND hour = %s", k).fetchone()[0] == 0


def test_window_is_whole_hours_and_refuses_dropped_or_empty_windows(demo_ro_url):
    s, e = window(datetime(2024, 10, 1, 5, 20, tzinfo=timezone.utc), datetime(2024, 10, 1, 7, 0, 1, tzinfo=timezone.utc))
    assert (s.hour, e.hour) == (5, 8)
    assert last_hours(datetime(2024, 10, 1, 7, 59, tzinfo=timezone.utc), 2) == (
        datetime(2024, 10, 1, 5, tzinfo=timezone.utc), datetime(2024, 10, 1, 7, tzinfo=timezone.utc))
    with pytest.raises(ConsistencyError, match="empty window"):
        window(END, END)
    with psycopg.connect(demo_ro_url) as conn:
        with pytest.raises(ConsistencyError, match="before the oldest stored readings"):
            check_rollups(conn, datetime(2023, 1, 1, tzinfo=timezone.utc), END)
