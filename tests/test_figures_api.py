"""Read endpoints over a real uvicorn server on a migrated database: series with gaps, public
aggregates for anonymous readers, 404 for another municipality, histogram, profile, comparisons,
fleet. Figures are checked against the stored readings, computed here independently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from people import make_world, session_cookie
from servers import running

from api.app import create_app
from collector.passes import Direction, VehiclePass
from collector.store import write_passes
from fartkoll.settings import Settings

T0 = datetime(2025, 3, 3, 8, tzinfo=UTC)  # a Monday, 09:00 in Stockholm
H = timedelta(hours=1)

# hour offset -> speeds (km/h, whole numbers: a truncating sign); hour 2 has no data at all
HOURS = {
    0: [31 + (i * 7) % 29 for i in range(40)],   # 40 vehicles, some over 50
    1: [45, 52, 61, 38, 49, 50, 51],             # 7 vehicles: withheld from anonymous readers
    3: [40 + (i % 20) for i in range(35)],
}


@pytest.fixture
def world(db):
    w = make_world(db)
    passes = [VehiclePass(time=T0 + h * H + timedelta(seconds=10 + i), speed_kmh=float(v),
                          direction=Direction.APPROACHING, sign_id=w.sign_a)
              for h, speeds in HOURS.items() for i, v in enumerate(speeds)]
    r = write_passes(db, passes, received=T0 + 5 * H)
    assert r.inserted == sum(len(v) for v in HOURS.values())
    db.commit()
    return w


@pytest.fixture
def http(db_url):
    with running(create_app(Settings(database_url=db_url))) as base, httpx.Client(base_url=base, timeout=30) as c:
        yield c


def _as(db, world, persona):
    return {"cookie": f"fartkoll_session={session_cookie(db, world.users[persona].id)}"}


PERIOD = {"from": "2025-03-03", "to": "2025-03-03"}


def test_hourly_series_has_gaps_and_exact_counts(db, world, http):
    r = http.get(f"/api/v1/sites/{world.site_a}/series", params=PERIOD, headers=_as(db, world, "viewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["public"] is False
    assert [(ln["direction"], ln["display"]) for ln in body["lines"]] == [("approaching", "display")]
    points = {datetime.fromisoformat(p["start"]): p for p in body["lines"][0]["points"]}
    assert len(points) == 24  # a local day, hour by hour
    for h, speeds in HOURS.items():
        p = points[T0 + h * H]
        assert p["n"] == len(speeds)
        assert p["mean_kmh"] == pytest.approx(sum(speeds) / len(speeds), abs=1e-3)
        assert p["over_limit_share"] == pytest.approx(sum(v > 50 for v in speeds) / len(speeds), abs=1e-3)
        assert p["limit_kmh"] == 50
        rank = sorted(speeds)[-(-85 * len(speeds) // 100) - 1]  # the vehicle at the 85th percentile
        assert rank <= p["v85_kmh"] <= rank + 1  # within its 1 km/h bin
        assert p["small"] is (len(speeds) < 30)
    gap = points[T0 + 2 * H]
    assert gap["n"] is None and gap["v85_kmh"] is None and gap["mean_kmh"] is None  # a gap, not a zero
    assert points[T0 - 5 * H]["n"] is None


def test_daily_series_sums_the_local_day(db, world, http):
    r = http.get(f"/api/v1/sites/{world.site_a}/series", params={**PERIOD, "step": "day"},
                 headers=_as(db, world, "viewer"))
    assert r.status_code == 200, r.text
    (point,) = r.json()["lines"][0]["points"]
    assert point["hours"] == 24
    assert point["n"] == sum(len(v) for v in HOURS.values())
    assert datetime.fromisoformat(point["start"]).utcoffset() == timedelta(hours=1)  # local, with offset


def test_anonymous_readers_get_public_aggregates_only(world, http):
    r = http.get(f"/api/v1/sites/{world.site_a}/series", params=PERIOD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["public"] is True
    points = {datetime.fromisoformat(p["start"]): p for p in body["lines"][0]["points"]}
    small = points[T0 + 1 * H]
    assert small["withheld"] is True and small["n"] is None and small["v85_kmh"] is None
    assert points[T0]["n"] == 40 and points[T0]["withheld"] is False
    h = http.get(f"/api/v1/sites/{world.site_a}/histogram", params={**PERIOD, "width": 5}).json()
    assert all(g["withheld"] or g["n"] >= 30 for g in h["groups"])
    assert http.get("/api/v1/sites/999999/series").status_code == 404


def test_another_municipality_sees_what_the_public_sees_and_an_unknown_site_is_404(db, world, http):
    """A person outside the site's scope gets the public aggregates, never more (and never less)."""
    other = _as(db, world, "other_viewer")
    for path in ("series", "profile", "histogram", "compare-display", "limit-changes", "controls"):
        r = http.get(f"/api/v1/sites/{world.site_a}/{path}", params=PERIOD, headers=other)
        public = http.get(f"/api/v1/sites/{world.site_a}/{path}", params=PERIOD)
        mine = http.get(f"/api/v1/sites/{world.site_a}/{path}", params=PERIOD, headers=_as(db, world, "viewer"))
        assert r.status_code == public.status_code == mine.status_code == 200, (path, r.text)
        assert r.json() == public.json(), path
    r = http.get("/api/v1/compare", params={"sites": f"{world.site_a}"}, headers=other)
    assert r.json() == http.get("/api/v1/compare", params={"sites": f"{world.site_a}"}).json()
    assert http.get("/api/v1/sites/999999/series", headers=other).status_code == 404


def test_histogram_bins_by_hand(db, world, http):
    r = http.get(f"/api/v1/sites/{world.site_a}/histogram", params={**PERIOD, "width": 5},
                 headers=_as(db, world, "viewer"))
    assert r.status_code == 200, r.text
    (g,) = r.json()["groups"]
    speeds = [v for s in HOURS.values() for v in s]
    by_hand: dict[float, int] = {}
    for v in speeds:
        by_hand[float(v // 5 * 5)] = by_hand.get(float(v // 5 * 5), 0) + 1
    got = {lo: c for lo, c in zip(g["lower_kmh"], g["counts"], strict=True) if c}
    assert got == by_hand
    assert g["limit_kmh"] == 50 and g["threshold_kmh"] > 50 and g["n"] == len(speeds)
    bad = http.get(f"/api/v1/sites/{world.site_a}/histogram", params={"width": 3}, headers=_as(db, world, "viewer"))
    assert bad.status_code == 422


def test_profile_normalises_by_observed_hours(db, world, http):
    r = http.get(f"/api/v1/sites/{world.site_a}/profile", params=PERIOD, headers=_as(db, world, "viewer"))
    assert r.status_code == 200, r.text
    cells = r.json()["lines"][0]["cells"]
    assert len(cells) == 168
    mon = {c["hour"]: c for c in cells if c["weekday"] == "mon"}
    assert mon[9]["vehicles_per_hour"] == 40 and mon[9]["observed_hours"] == 1
    assert mon[11]["vehicles_per_hour"] is None  # never observed: no figure, not 0
    assert mon[12]["vehicles_per_hour"] == 35


def test_compare_sites_and_display(db, world, http):
    hdr = _as(db, world, "admin")
    r = http.get("/api/v1/compare", params={"sites": f"{world.site_a},{world.site_c}", **PERIOD}, headers=hdr)
    assert r.status_code == 200, r.text
    cols = r.json()["sites"]
    assert [c["site"]["id"] for c in cols] == [world.site_a, world.site_c]
    assert cols[0]["sides"][0]["n"] == sum(len(v) for v in HOURS.values())
    assert cols[1]["sides"] == []
    bad = http.get("/api/v1/compare", params={"sites": "1,x"}, headers=hdr)
    assert bad.status_code == 422 and bad.json()["errors"][0]["value"] == "x"
    d = http.get(f"/api/v1/sites/{world.site_a}/compare-display", params=PERIOD, headers=hdr).json()
    assert [s["n"] for s in d["display"]] == [sum(len(v) for v in HOURS.values())]
    assert d["stealth"] == [] and d["notes"]


def test_controls_never_show_recent_ones_to_anonymous(db, world, http):
    from fartkoll.settings import Settings

    delay = Settings.load().web.public_control_delay_days  # the public pages' delay, 14 days by default
    now = datetime.now(UTC)
    ids = {}
    for days_ago in (2, delay - 1, delay + 1, -2):  # recent, just inside the delay, old enough, future
        start = now - timedelta(days=days_ago)
        ids[days_ago] = db.execute("INSERT INTO controls (site_id, start_time, end_time, method) "
                                   "VALUES (%s, %s, %s, 'laser') RETURNING id", (world.site_a, start, start + H)
                                   ).fetchone()[0]
    db.commit()
    public = http.get(f"/api/v1/sites/{world.site_a}/controls").json()
    assert len(public["controls"]) == 1  # only the one that ended more than the delay ago
    assert [f["control_id"] for f in public["followups"]] == [ids[delay + 1]]  # its follow-up, as the page shows
    seen = http.get(f"/api/v1/sites/{world.site_a}/controls", headers=_as(db, world, "viewer")).json()
    assert len(seen["controls"]) == 3  # the past ones; never the future one
    assert [f["control_id"] for f in seen["followups"]] == [ids[2], ids[delay - 1], ids[delay + 1]]  # newest first


def test_fleet_for_technicians(db, world, http):
    db.execute("INSERT INTO sign_heartbeats (sign_id, time, battery_v, clock_offset_s, configured_limit_kmh) "
               "VALUES (%s, now() - interval '1 hour', 12.1, 3.5, 40)", (world.sign_a,))
    db.commit()
    assert http.get("/api/v1/fleet", headers=_as(db, world, "viewer")).status_code == 403
    r = http.get("/api/v1/fleet", headers=_as(db, world, "technician"))
    assert r.status_code == 200, r.text
    (sign,) = r.json()["signs"]
    assert sign["sign_id"] == world.sign_a and sign["battery_v"] == pytest.approx(12.1)
    assert sign["configured_limit_kmh"] == 40 and sign["legal_limit_kmh"] == 50 and sign["limit_mismatch"] is True
    assert sign["hours_without_data_7d"] == 7 * 24
