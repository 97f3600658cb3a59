"""Retention drops whole readings chunks older than the configured age and keeps the rollups."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from planner.jobs.retention import RetentionError, drop_old_readings

NOW = datetime(2024, 11, 4, tzinfo=timezone.utc)


def _chunks(conn):
    return conn.execute(
        "SELECT range_start, range_end FROM timescaledb_information.chunks "
        "WHERE hypertable_name = 'readings' ORDER BY range_start").fetchall()


def _rollups(conn):
    return conn.execute("SELECT count(*), sum(n), md5(string_agg(hist::text || n, ',' ORDER BY site_id, direction, "
                        "display, hour)) FROM rollup_hourly").fetchone()


def test_drops_only_chunks_wholly_before_the_cutoff_and_keeps_rollups(seeded_url):
    with psycopg.connect(seeded_url) as conn:
        cutoff = NOW - timedelta(days=14)
        before = _chunks(conn)
        old = [c for c in before if c[1] <= cutoff]
        assert old and len(old) < len(before)  # the demo spans chunks on both sides
        rollups = _rollups(conn)
        total = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        in_old = conn.execute("SELECT count(*) FROM readings WHERE time < %s", (old[-1][1],)).fetchone()[0]
        kept_after = conn.execute("SELECT count(*) FROM readings WHERE time >= %s", (old[-1][1],)).fetchone()[0]

        dry = drop_old_readings(conn, now=NOW, days=14, dry_run=True)
        assert dry.dry_run and len(dry.chunks) == len(old) and dry.rows == in_old
        assert _chunks(conn) == before

        res = drop_old_readings(conn, now=NOW, days=14)
        conn.commit()
        assert [(c.range_start, c.range_end) for c in res.chunks] == old
        assert res.rows == in_old and res.older_than == cutoff
        assert "dropped 2 readings chunk" in str(res) or f"dropped {len(old)} readings chunk" in str(res)
        assert _chunks(conn) == [c for c in before if c[1] > cutoff]
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == total - in_old == kept_after
        # a straddling chunk keeps its readings older than the cutoff
        assert conn.execute("SELECT min(time) FROM readings").fetchone()[0] >= old[-1][1]
        assert _rollups(conn) == rollups
        audit = conn.execute("SELECT detail FROM audit_log WHERE action = 'retention.drop_chunks'").fetchall()
        assert len(audit) == 1 and audit[0][0]["rows"] == in_old and len(audit[0][0]["chunks"]) == len(old)

        again = drop_old_readings(conn, now=NOW, days=14)
        assert again.chunks == () and again.rows == 0 and "nothing" in str(again)


@pytest.mark.parametrize("days", [0, 3, 6])
def test_refuses_ages_below_a_week(db, days):
    with pytest.raises(RetentionError) as e:
        drop_old_readings(db, now=NOW, days=days)
    msg = str(e.value)
    assert f"{days} days" in msg and "FARTKOLL_JOBS__RETENTION_DAYS" in msg and "7" in msg
