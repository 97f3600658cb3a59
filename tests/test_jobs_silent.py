"""Silent-sign alerts: the demo's dead sign is found inside its gap, once; heartbeats count as life."""

from __future__ import annotations

from datetime import timedelta

import psycopg
from seeded_demo import WORLD

from fartkoll.demo import world as W
from planner.jobs.silent import alert_silent_signs, find_silent_signs

GAP = WORLD.outages[0]


def test_dead_sign_is_alerted_once_inside_its_gap(seeded_url):
    assert GAP.sign == W.DEAD_SIGN
    at = GAP.start + timedelta(hours=30)
    with psycopg.connect(seeded_url) as conn:
        found = alert_silent_signs(conn, now=at, hours=6)
        conn.commit()
        assert [s.serial for s in found] == [W.DEAD_SIGN] and found[0].new
        s = found[0]
        assert s.last_seen is not None and GAP.start - timedelta(minutes=30) < s.last_seen < GAP.start
        assert s.since == s.last_seen and 30 <= s.silent_hours < 30.6
        assert s.site_name == WORLD.site("sjovagen").name and W.DEAD_SIGN in str(s)
        rows = conn.execute("SELECT entity_id, detail FROM audit_log WHERE action = 'sign.silent'").fetchall()
        assert len(rows) == 1 and rows[0][0] == str(s.sign_id) and rows[0][1]["serial"] == W.DEAD_SIGN

        later = alert_silent_signs(conn, now=at + timedelta(hours=2), hours=6)
        conn.commit()
        assert [(x.serial, x.new) for x in later] == [(W.DEAD_SIGN, False)] and "already alerted" in str(later[0])
        assert conn.execute("SELECT count(*) FROM audit_log WHERE action = 'sign.silent'").fetchone()[0] == 1


def test_no_alert_before_the_gap_nor_within_the_threshold(demo_ro_url):
    with psycopg.connect(demo_ro_url) as conn:
        assert find_silent_signs(conn, now=GAP.start - timedelta(hours=1), hours=6) == []
        assert find_silent_signs(conn, now=GAP.start + timedelta(hours=5), hours=6) == []
        assert [s.serial for s in find_silent_signs(conn, now=GAP.start + timedelta(hours=7), hours=6)] == [W.DEAD_SIGN]
        assert find_silent_signs(conn, now=GAP.end + timedelta(hours=2), hours=6) == []


def test_a_heartbeat_counts_as_life(seeded_url):
    at = GAP.start + timedelta(hours=30)
    with psycopg.connect(seeded_url) as conn:
        conn.execute("INSERT INTO sign_heartbeats (sign_id, time) SELECT id, %s FROM signs WHERE serial_number = %s",
                     (at - timedelta(hours=1), W.DEAD_SIGN))
        assert find_silent_signs(conn, now=at, hours=6) == []
