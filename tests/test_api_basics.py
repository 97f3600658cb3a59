import json
from datetime import datetime, timedelta, timezone

import httpx
import psycopg
import pytest
from places import make_site
from servers import running

from api.app import create_app
from collector.passes import Direction, Display, VehiclePass
from collector.store import write_passes
from collector.tokens import PERSONAL_PREFIX, hash_token, new_token
from fartkoll.cli import main
from fartkoll.settings import Settings

T0 = datetime(2026, 5, 4, 7, 0, tzinfo=timezone.utc)


def test_healthz_answers_with_the_database_reachable(db_url):
    with running(create_app(Settings(database_url=db_url))) as base:
        r = httpx.get(f"{base}/healthz", timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["timescaledb"]


def test_healthz_reports_an_unreachable_database_as_503():
    with running(create_app(Settings(database_url="postgresql://postgres@127.0.0.1:1/none"))) as base:
        r = httpx.get(f"{base}/healthz", timeout=15)
    assert r.status_code == 503 and r.json()["status"] == "degraded"


def test_sites_list_latest_figures_per_direction_and_display_mode(db, db_url):
    site = make_site(db, "Skolgatan 3", limit_kmh=50, tags=["school"])
    make_site(db, "Tyst väg 1", limit_kmh=30)
    # 5 vehicles at each whole speed 41..60 km/h approaching, stealth; 10 receding at 45, display
    passes = [VehiclePass(T0 + timedelta(minutes=i), float(41 + i % 20), Direction.APPROACHING,
                          site_id=site, display=Display.STEALTH) for i in range(100)]
    passes += [VehiclePass(T0 + timedelta(minutes=i), 45.0, Direction.RECEDING, site_id=site,
                           display=Display.DISPLAY) for i in range(10)]
    write_passes(db, passes)
    db.commit()
    with running(create_app(Settings(database_url=db_url))) as base:
        r = httpx.get(f"{base}/api/v1/sites", timeout=10)
    assert r.status_code == 200
    by_name = {s["name"]: s for s in r.json()}
    assert by_name["Tyst väg 1"]["recent"] == [] and by_name["Tyst väg 1"]["last_data"] is None
    s = by_name["Skolgatan 3"]
    assert s["limit_kmh"] == 50 and s["tags"] == ["school"] and s["municipality"] == "Testkommun"
    figs = {(f["direction"], f["display"]): f for f in s["recent"]}
    assert set(figs) == {("approaching", "stealth"), ("receding", "display")}
    f = figs[("approaching", "stealth")]
    assert f["n"] == 100 and f["limit_kmh"] == 50
    assert f["mean_kmh"] == pytest.approx(50.5)          # (41 + 60) / 2
    # whole-km/h speeds: V85 is the 85th slowest vehicle (percentile_disc), 5 each at 41..60 → 57
    assert f["v85_kmh"] == pytest.approx(57.0)
    assert f["over_limit"]["share"] == pytest.approx(0.5)    # 51..60: 50 of 100
    assert f["threshold_kmh"] == 56                          # limit + threshold_over_kmh 6
    assert f["over_threshold"]["share"] == pytest.approx(0.25)  # ≥ 56: 25 of 100
    assert f["over_limit"]["low"] < 0.5 < f["over_limit"]["high"]
    g = figs[("receding", "display")]
    # 10 vehicles: counted, figures withheld from the public overview, and the warning says why
    assert g["n"] == 10 and g["over_limit"] is None and g["mean_kmh"] is None and g["warnings"]


def _viewer_token(conn: psycopg.Connection, site_id: int) -> str:
    """A personal token of a viewer of the site's municipality."""
    token = new_token(PERSONAL_PREFIX)
    user = conn.execute(
        "INSERT INTO users (email, role, municipality_id) SELECT 'viewer@example.se', 'viewer', st.municipality_id "
        "FROM sites s JOIN streets st ON st.id = s.street_id WHERE s.id = %s RETURNING id", (site_id,)).fetchone()[0]
    conn.execute("INSERT INTO api_tokens (user_id, token_hash, label) VALUES (%s, %s, 'test')", (user, hash_token(token)))
    conn.commit()
    return token


def _cli_json(capsys, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_site_stats_are_the_same_json_from_the_cli_and_the_api_with_the_police_areas_threshold(
        seeded_url, monkeypatch, capsys):
    with psycopg.connect(seeded_url) as conn:
        site_id, name, area, limit = conn.execute(
            "SELECT s.id, s.name, pa.name, l.limit_kmh FROM sites s JOIN streets st ON st.id = s.street_id "
            "JOIN municipalities m ON m.id = st.municipality_id JOIN police_areas pa ON pa.id = m.police_area_id "
            "JOIN speed_limits l ON l.site_id = s.id AND l.valid_to IS NULL "
            "WHERE EXISTS (SELECT 1 FROM rollup_hourly r WHERE r.site_id = s.id) ORDER BY s.id LIMIT 1").fetchone()
        token = _viewer_token(conn, site_id)
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    # the site's police area reports from limit + 10 km/h (the default elsewhere: limit + 6)
    monkeypatch.setenv("FARTKOLL_PLANNER__THRESHOLD_BY_POLICE_AREA", json.dumps({area: {"over_kmh": 10}}))
    settings = Settings.load()
    assert settings.planner.threshold_kmh(limit, area, settings.threshold_over_kmh) == limit + 10

    cli = _cli_json(capsys, "stats", str(site_id), "--json")
    cli_range = _cli_json(capsys, "stats", name, "--from", "2024-10-21", "--to", "2024-10-27", "--json")
    with running(create_app(settings)) as base:
        auth = {"Authorization": f"Bearer {token}"}
        api = httpx.get(f"{base}/api/v1/sites/{site_id}/stats", headers=auth, timeout=30)
        api_range = httpx.get(f"{base}/api/v1/sites/{site_id}/stats", params={"from": "2024-10-21", "to": "2024-10-27"},
                              headers=auth, timeout=30)
        overview = httpx.get(f"{base}/api/v1/sites", timeout=30)
        anonymous = httpx.get(f"{base}/api/v1/sites/{site_id}/stats", timeout=30)
        missing = httpx.get(f"{base}/api/v1/sites/999999/stats", headers=auth, timeout=30)
    assert api.status_code == 200 and api.json() == cli
    assert api_range.status_code == 200 and api_range.json() == cli_range and cli_range != cli
    assert cli_range["period"] == {"from": "2024-10-20T22:00:00Z", "to": "2024-10-27T23:00:00Z"}  # local days, CEST → CET
    assert cli["site"]["police_area"] == area and cli["groups"]
    for g in cli["groups"]:
        assert g["threshold_kmh"] == g["limit_kmh"] + 10
        assert g["direction"] in ("approaching", "receding", "unknown") and g["display"] in ("display", "stealth")
    recent = next(s for s in overview.json() if s["id"] == site_id)["recent"]
    assert recent and all(f["threshold_kmh"] == f["limit_kmh"] + 10 for f in recent)
    assert anonymous.status_code == 401
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert "no site 999999" in missing.json()["detail"]
