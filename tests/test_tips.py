"""Citizen tips over a real uvicorn: the public form (anonymous, rate-limited per address with
counts in the database that two servers share, size-limited) and the scoped list."""

from __future__ import annotations

import httpx
import pytest
from servers import running
from test_setup_api import person

from api.app import create_app
from api.routes import tips as tip_routes
from collector.setup import places
from fartkoll.settings import Settings


@pytest.fixture
def world(db):
    a = places.add_site(db, actor="t", name="Skolgatan 12", street="Skolgatan", municipality_name="Ängsviks kommun",
                        police_area="LPO Väst")
    b = places.add_site(db, actor="t", name="Byvägen 1", street="Byvägen", municipality_name="Tallbacka kommun",
                        police_area="LPO Väst")
    c = places.add_site(db, actor="t", name="Far Road 1", street="Far Road", municipality_name="Elsewhere",
                        police_area="LPO Öst")
    db.commit()
    return a, b, c


def test_anyone_may_send_a_tip_and_the_limit_is_shared_by_two_servers(db, db_url, world, monkeypatch):
    monkeypatch.setattr(tip_routes, "RATE_LIMIT", 4)
    site = world[0]
    with running(create_app(Settings(database_url=db_url))) as one, running(create_app(Settings(database_url=db_url))) as two:
        sent = []
        for i in range(4):
            r = httpx.post(f"{(one, two)[i % 2]}/api/v1/tips", json={"site_id": site.id, "text": f"fort {i}"}, timeout=10)
            assert r.status_code == 201, r.text
            sent.append(r.json())
        refused = httpx.post(f"{two}/api/v1/tips", json={"site_id": site.id, "text": "en till"}, timeout=10)
        also = httpx.post(f"{one}/api/v1/tips", json={"lat": 59.0, "lon": 15.0}, timeout=10)
    assert sent[0]["site"] == "Skolgatan 12" and sent[0]["municipality"] == "Ängsviks kommun"
    assert sent[0]["channel"] == "web" and sent[0]["status"] == "new"
    for r in (refused, also):
        assert r.status_code == 429 and r.headers["content-type"].startswith("application/problem+json")
        assert 1 <= int(r.headers["retry-after"]) <= tip_routes.RATE_WINDOW_S
    db.rollback()
    assert db.execute("SELECT count(*) FROM citizen_tips").fetchone()[0] == 4
    assert db.execute("SELECT sum(count) FROM tip_rate").fetchone()[0] == 4      # refused ones are not counted
    assert db.execute("SELECT count(*) FROM audit_log WHERE entity = 'citizen_tip' AND actor = 'anonymous'"
                      ).fetchone()[0] == 4


def test_tip_text_and_body_are_size_limited_and_a_place_is_needed(db, db_url, world):
    site = world[0]
    with running(create_app(Settings(database_url=db_url))) as base:
        long = httpx.post(f"{base}/api/v1/tips", json={"site_id": site.id, "text": "x" * 2001}, timeout=10)
        huge = httpx.post(f"{base}/api/v1/tips", content=b'{"site_id": 1, "text": "' + b"y" * 40_000 + b'"}',
                          headers={"content-type": "application/json"}, timeout=10)
        nowhere = httpx.post(f"{base}/api/v1/tips", json={"text": "somewhere"}, timeout=10)
        unknown = httpx.post(f"{base}/api/v1/tips", json={"site_id": 9999}, timeout=10)
    assert long.status_code == 422 and long.json()["errors"][0]["field"] == "text"
    assert huge.status_code == 413
    assert nowhere.status_code == 422 and nowhere.json()["errors"][0]["field"] == "site_id"
    assert unknown.status_code == 404
    db.rollback()
    assert db.execute("SELECT count(*) FROM citizen_tips").fetchone()[0] == 0


def test_officers_and_viewers_read_the_tips_of_their_municipalities(db, db_url, world):
    _, tallbacka, elsewhere = world
    area = db.execute("SELECT id FROM police_areas WHERE name = 'LPO Väst'").fetchone()[0]
    officer = person(db, "officer@example.org", "officer", police_area_id=area)
    viewer = person(db, "viewer@example.org", "viewer", municipality_id=tallbacka.municipality_id)
    other = person(db, "other@example.org", "viewer", municipality_id=elsewhere.municipality_id)
    admin = person(db, "admin@example.org", "admin")
    with running(create_app(Settings(database_url=db_url))) as base:
        for s in world:
            assert httpx.post(f"{base}/api/v1/tips", json={"site_id": s.id, "text": s.name}, timeout=10).status_code == 201
        seen = {who: [t["site"] for t in httpx.get(f"{base}/api/v1/tips", headers=h, timeout=10).json()]
                for who, h in (("officer", officer), ("viewer", viewer), ("other", other), ("admin", admin))}
        anonymous = httpx.get(f"{base}/api/v1/tips", timeout=10)
    assert anonymous.status_code == 401
    assert sorted(seen["officer"]) == ["Byvägen 1", "Skolgatan 12"]
    assert seen["viewer"] == ["Byvägen 1"]
    assert seen["other"] == ["Far Road 1"]
    assert sorted(seen["admin"]) == ["Byvägen 1", "Far Road 1", "Skolgatan 12"]
