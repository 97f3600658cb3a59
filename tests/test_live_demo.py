"""The living demo on the seeded demo data: demo logins for each role are made and printed, and a
few demo signs, simulated on pseudo-terminals and read by the collector in edge mode, upload new
passes through the real ingest endpoint while the server runs; they stop with the demo."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from servers import running

from api.app import create_app
from fartkoll.demo_live import DEMO_PASSWORD, LivingDemo
from fartkoll.settings import Settings


def test_the_demo_signs_upload_live_and_every_role_has_a_login(seeded_url, tmp_path):
    lines: list[str] = []
    started = datetime.now(UTC)
    with running(create_app(Settings(database_url=seeded_url))) as base:
        with LivingDemo(lambda: psycopg.connect(seeded_url), base, tmp_path, count=2, out=lines.append) as demo:
            logins = [line for line in lines if line.startswith("demo login")]
            assert [line.split("(")[1].split(")")[0] for line in logins] == ["admin", "technician", "officer", "viewer"]
            for line in logins:
                email = line.split(": ")[1].split(" / ")[0]
                r = httpx.post(f"{base}/api/v1/sessions", json={"email": email, "password": DEMO_PASSWORD}, timeout=30)
                assert r.status_code in (200, 201), (email, r.text)
            deadline = time.monotonic() + 60
            fresh = []
            while time.monotonic() < deadline:
                with psycopg.connect(seeded_url) as conn:
                    fresh = conn.execute("SELECT sign_id, count(*) FROM readings WHERE time >= %s GROUP BY sign_id",
                                         (started - timedelta(seconds=5),)).fetchall()
                if len(fresh) == 2 and all(n >= 1 for _, n in fresh):
                    break
                time.sleep(0.5)
            assert len(fresh) == 2, fresh
            assert len(demo.signs) == 2 and len({s.protocol for s in demo.signs}) == 2
            assert any("uploads to" in line for line in lines)
        assert all(not s.thread.is_alive() for s in demo.signs)
    with psycopg.connect(seeded_url) as conn:  # the demo's tokens, issued at its start, are audited
        assert conn.execute("SELECT count(*) FROM audit_log WHERE actor = 'demo' AND action = 'issue' AND entity = 'sign_token'").fetchone()[0] == 2
