from datetime import datetime, timedelta, timezone

import httpx
import pytest

from api.app import create_app
from collector.passes import Direction, Display, VehiclePass
from collector.store import write_passes
from fartkoll.settings import Settings
from places import make_site
from servers import running

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
    empty = make_site(db, "Tyst väg 1", limit_kmh=30)
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
    assert f["n"] == 100
    assert f["mean_kmh"] == pytest.approx(50.5)          # (41 + 60) / 2
    # bins [41,42) … [60,61) hold 5 each; 0.85·100 = 85 = F after bin 57 → 57 + (85 − 80)/5 = 58
    assert f["v85_kmh"] == pytest.approx(58.0)
    assert f["share_over_limit"] == pytest.approx(0.5)    # 51..60: 50 of 100
    assert f["share_over_threshold"] == pytest.approx(0.25)  # ≥ 56: 25 of 100
    lo, hi = f["share_over_limit_ci"]
    assert lo < 0.5 < hi
    g = figs[("receding", "display")]
    assert g["n"] == 10 and g["share_over_limit"] == 0 and g["flags"]  # too few vehicles flagged
