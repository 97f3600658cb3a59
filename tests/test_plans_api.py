"""Plans and the control log over a real uvicorn on the seeded demo: draw from slots (reversed and
out-of-period slots refused, naming the slot), list, show, approve, cancel, .ics/.csv/.pdf
downloads audited, controls recorded from a plan item or not, and who may see what."""

from __future__ import annotations

import csv
import io

import httpx
import psycopg
import pytest
from servers import running

from api.app import create_app
from collector.tokens import PERSONAL_PREFIX, hash_token, new_token
from fartkoll.settings import Settings

SLOTS = [{"date": "2026-11-24", "start": "07:00", "end": "09:00", "units": 2},
         {"date": "2026-11-25", "start": "22:00", "end": "01:00", "overnight": True}]


def person(db: psycopg.Connection, email: str, role: str, police_area_id: int | None = None) -> dict[str, str]:
    uid = db.execute("INSERT INTO users (email, role, police_area_id) VALUES (%s, %s, %s) RETURNING id",
                     (email, role, police_area_id)).fetchone()[0]
    token = new_token(PERSONAL_PREFIX)
    db.execute("INSERT INTO api_tokens (user_id, token_hash) VALUES (%s, %s)", (uid, hash_token(token)))
    db.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def demo(seeded_url):
    with psycopg.connect(seeded_url) as db, \
            running(create_app(Settings(database_url=seeded_url))) as base, \
            httpx.Client(base_url=f"{base}/api/v1", timeout=60) as api:
        yield db, api


def test_an_officers_plan_from_slots_to_done_over_http(demo):
    db, api = demo
    areas = [r[0] for r in db.execute("SELECT DISTINCT m.police_area_id FROM sites s JOIN streets st "
                                      "ON st.id = s.street_id JOIN municipalities m ON m.id = st.municipality_id")]
    officer = person(db, "officer@polisen.se", "officer", areas[0] if len(areas) == 1 else None)
    if len(areas) != 1:  # the officer must see every demo site: make them an admin-scoped officer's peer
        officer = person(db, "chief@polisen.se", "admin")
    far = db.execute("INSERT INTO police_areas (name) VALUES ('LPO Fjärran') RETURNING id").fetchone()[0]
    stranger = person(db, "far@polisen.se", "officer", far)
    viewer = person(db, "viewer@example.org", "viewer")

    assert api.get("/plans").status_code == 401
    assert api.get("/plans", headers=viewer).status_code == 403
    assert api.post("/controls", json={}).status_code == 401

    bad = api.post("/plans", headers=officer, json={"slots": [SLOTS[0], {**SLOTS[1], "overnight": False}]})
    assert bad.status_code == 422, bad.text
    assert "slots[1]" in bad.json()["detail"] and "ends before it starts" in bad.json()["detail"]
    outside = api.post("/plans", headers=officer, json={"slots": SLOTS, "first_day": "2026-11-16"})
    assert outside.status_code == 422
    assert "slot 2026-11-24 07:00–09:00" in outside.json()["detail"] and "outside the plan's period" in outside.text

    body = {"slots": SLOTS, "first_day": "2026-11-23", "seed": 5}
    r = api.post("/plans", headers=officer, json=body)
    assert r.status_code == 201, r.text
    plan = r.json()
    again = api.post("/plans", headers=officer, json=body).json()
    key = [(c["site_id"], c["direction"], c["start"], c["unit"]) for c in plan["controls"]]
    assert key == [(c["site_id"], c["direction"], c["start"], c["unit"]) for c in again["controls"]]
    assert len(key) >= 4 and plan["status"] == "draft" and plan["language"] == "sv"
    assert all(c["direction"] in ("approaching", "receding", "unknown") for c in plan["controls"])
    assert all(c["start"].endswith("+01:00") for c in plan["controls"])  # local time with its offset
    pid = plan["plan_id"]

    listed = api.get("/plans", headers=officer, params={"status": "draft"}).json()
    assert {p["plan_id"] for p in listed} == {pid, again["plan_id"]}
    assert api.get("/plans", headers=stranger).json() == []
    assert api.get(f"/plans/{pid}", headers=stranger).status_code == 404
    assert api.get(f"/plans/{pid}/plan.ics", headers=stranger).status_code == 404
    assert api.get(f"/plans/{pid}", headers=officer).json()["controls"] == plan["controls"]

    item = plan["controls"][0]
    early = api.post("/controls", headers=officer, json={"plan_item_id": item["id"], "vehicles_checked": 3})
    assert early.status_code == 409 and "approve it before" in early.text

    ok = api.post(f"/plans/{pid}/approve", headers=officer)
    assert ok.status_code == 200 and ok.json()["status"] == "approved" and ok.json()["approved_by"]
    assert api.post(f"/plans/{pid}/approve", headers=officer).status_code == 409

    page_url = str(api.base_url).removesuffix("/api/v1/") + f"/officer/plans/{pid}"
    assert api.get(page_url).status_code == 401 and api.get(page_url, headers=viewer).status_code == 403
    assert api.get(page_url, headers=stranger).status_code == 404
    page = api.get(page_url, headers=officer, params={"lang": "en"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "For police use only" in html and f"Control plan {pid}" in html
    assert f"approved by {ok.json()['approved_by']}" in html and "(local time, Europe/Stockholm)" in html
    assert html.count('<tr id="item-') == len(key) and item["site_name"].split(",")[0] in html
    assert item["street"] in html and ("approaching the sign" in html or "leaving the sign" in html)
    assert "Vehicles checked" in html and f"/api/v1/plans/{pid}/plan.ics" in html and "<style" not in html
    assert f"?item={item['id']}" in html  # an approved plan's control opens the control log prefilled
    css = api.get(str(api.base_url).removesuffix("/api/v1/") + "/print/plan.css")
    assert css.status_code == 200 and "size: A4 landscape" in css.text and "@media print" in css.text

    ics = api.get(f"/plans/{pid}/plan.ics", headers=officer)
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    text = ics.text.replace("\r\n ", "")
    assert text.count("BEGIN:VEVENT") == len(key)
    assert "SUMMARY:Hastighetskontroll: " + item["site_name"].replace(",", "\\,") in text
    assert ("mot skylten" in text or "från skylten" in text) and "Vald för" in text
    assert f"/officer/plans/{pid}" in text and f"/api/v1/plans/{pid}" not in text  # the plan's page, not its JSON
    assert f"Gata: {item['street']}" in text
    rows = list(csv.DictReader(io.StringIO(api.get(f"/plans/{pid}/plan.csv", headers=officer).text)))
    assert [int(r["item"]) for r in rows] == [c["id"] for c in plan["controls"]]
    pdf = api.get(f"/plans/{pid}/plan.pdf", headers=officer)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    done = api.post("/controls", headers=officer, json={"plan_item_id": item["id"], "vehicles_checked": 40,
                                                          "reports_written": 3})
    assert done.status_code == 201, done.text
    c = done.json()
    assert (c["site_id"], c["direction"], c["plan_id"], c["planned"], c["vehicles_checked"]) == (
        item["site_id"], item["direction"], pid, True, 40)
    assert api.post("/controls", headers=officer, json={"plan_item_id": item["id"]}).status_code == 409
    twice = api.post("/controls", headers=officer, json={"site_id": item["site_id"], "start": item["start"],
                                                           "end": item["end"], "method": "radar"})
    assert twice.status_code == 422 and f"overlaps control {c['id']}" in twice.json()["detail"]
    second = api.post("/controls", headers=officer, json={"site_id": item["site_id"], "start": item["start"],
                                                            "end": item["end"], "second_unit": True})
    assert second.status_code == 201
    wrong_day = api.post("/controls", headers=officer, json={
        "site_id": item["site_id"], "start": "2026-11-20T10:00:00+01:00", "end": "2026-11-20T10:20:00+01:00",
        "plan_id": pid})
    assert wrong_day.status_code == 422 and "outside plan" in wrong_day.text
    logged = api.get("/controls", headers=officer, params={"site_id": item["site_id"]}).json()
    assert {x["id"] for x in logged} >= {c["id"], second.json()["id"]}
    assert api.get("/controls", headers=stranger).json() == []
    assert api.get(f"/plans/{pid}", headers=officer).json()["controls"][0]["control_id"] == c["id"]

    gone = api.post(f"/plans/{pid}/cancel", headers=officer, json={"note": "storm"})
    assert gone.status_code == 200 and gone.json()["status"] == "cancelled"
    db.rollback()
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE entity = 'plans' AND entity_id = %s "
                                        "ORDER BY id", (str(pid),))]
    assert actions == ["plan.create", "plan.open", "plan.approve", "plan.open", "plan.export", "plan.export", "plan.export",
                       "plan.open", "plan.cancel"]
    formats = [r[0] for r in db.execute("SELECT detail->>'format' FROM audit_log WHERE action = 'plan.export' "
                                        "AND entity_id = %s ORDER BY id", (str(pid),))]
    assert formats == ["ics", "csv", "pdf"]
