"""The officer's routes over a real uvicorn on the seeded demo: the ranking (each site once, every
score part), pins and excludes audited with the officer's e-mail, follow-up per site and per
control (local offsets, the control log's planned flag), the situation picture as HTML and PDF;
roles and another municipality's site (404)."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import psycopg
import pytest
from servers import running

from api.app import create_app
from collector.tokens import PERSONAL_PREFIX, hash_token, new_token
from fartkoll.settings import Settings

OFFICER, VIEWER, LOCAL = "officer@polisen.example", "viewer@kommun.example", "local@polisen.example"


def person(conn: psycopg.Connection, email: str, role: str, **scope: int | None) -> dict[str, str]:
    uid = conn.execute("INSERT INTO users (email, role, municipality_id, police_area_id) VALUES (%s, %s, %s, %s) "
                       "RETURNING id", (email, role, scope.get("municipality_id"), scope.get("police_area_id"))
                       ).fetchone()[0]
    token = new_token(PERSONAL_PREFIX)
    conn.execute("INSERT INTO api_tokens (user_id, token_hash) VALUES (%s, %s)", (uid, hash_token(token)))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def demo(server_url, demo_template):
    """(client, headers by persona, demo connection URL, site ids by name)."""
    from seeded_demo import copy_of_demo

    for url in copy_of_demo(server_url, demo_template):
        with psycopg.connect(url) as conn:
            area = conn.execute("SELECT id FROM police_areas ORDER BY id LIMIT 1").fetchone()[0]
            angsvik = conn.execute("SELECT id FROM municipalities WHERE name = 'Ängsviks kommun'").fetchone()[0]
            who = {"officer": person(conn, OFFICER, "officer", police_area_id=area),
                   "viewer": person(conn, VIEWER, "viewer", police_area_id=area),
                   "local": person(conn, LOCAL, "officer", municipality_id=angsvik)}
            sites = dict(conn.execute("SELECT name, id FROM sites").fetchall())
            conn.commit()
        with running(create_app(Settings(database_url=url))) as base, \
                httpx.Client(base_url=f"{base}/api/v1", timeout=120) as client:
            yield client, who, url, sites


def _site(sites: dict[str, int], prefix: str) -> int:
    return next(i for n, i in sites.items() if n.startswith(prefix))


def test_ranking_lists_each_site_once_with_every_score_part(demo):
    api, who, _, _ = demo
    r = api.get("/ranking", headers=who["officer"], params={"from": "2024-10-07", "to": "2024-11-03", "limit": 8})
    assert r.status_code == 200, r.text
    body = r.json()
    ids = [s["site_id"] for s in body["sites"]]
    assert len(ids) == len(set(ids)) == 8
    for s in body["sites"]:
        assert 1 <= len(s["best_hours"]) <= 3 and s["best_hours"][0] == s["best_cell"]
        assert all(h["site_id"] == s["site_id"] for h in s["best_hours"])
        totals = [h["total"] for h in s["best_hours"]]
        assert totals == sorted(totals, reverse=True)
    cell = body["sites"][0]["best_cell"]
    for part in ("reportable_low", "severity_factor", "vulnerability_factor", "tips_factor", "trend_factor", "total"):
        assert part in cell
    assert body["period"]["from"].startswith("2024-10-06T22:00:00")  # local midnight, Stockholm summer time
    assert api.get("/ranking", headers=who["viewer"]).status_code == 403
    assert api.get("/ranking").status_code == 401
    bad = api.get("/ranking", headers=who["officer"], params={"from": "2024-11-03", "to": "2024-10-07"})
    assert bad.status_code == 422 and "2024-10-07" in bad.text


def test_an_officer_of_one_municipality_ranks_only_its_sites_up_to_the_limit(demo):
    api, who, url, _ = demo
    with psycopg.connect(url) as conn:
        own = {i for (i,) in conn.execute("SELECT s.id FROM sites s JOIN streets st ON st.id = s.street_id "
                                          "JOIN municipalities m ON m.id = st.municipality_id "
                                          "WHERE m.name = 'Ängsviks kommun'")}
    everyone = api.get("/ranking", headers=who["officer"], params={"limit": 1000}).json()
    local = api.get("/ranking", headers=who["local"], params={"limit": 1000}).json()
    assert own and {s["site_id"] for s in everyone["sites"]} - own  # the area's officer sees more
    assert {s["site_id"] for s in local["sites"]} <= own and {c["site_id"] for c in local["cells"]} <= own
    # the same cells in the same order as in the area's first 1,000, the others left out before the limit
    mine = [(c["site_id"], c["hour_of_week"], c["direction"], c["display"]) for c in everyone["cells"]
            if c["site_id"] in own]
    assert mine and len(local["cells"]) == 1000
    assert [(c["site_id"], c["hour_of_week"], c["direction"], c["display"]) for c in local["cells"]][:len(mine)] == mine
    top = api.get("/ranking", headers=who["local"], params={"limit": 2}).json()
    assert len(top["cells"]) == 2 and top["cells"] == local["cells"][:2]
    assert [s["site_id"] for s in top["sites"]] == [s["site_id"] for s in local["sites"]][:2]


def test_pins_are_audited_and_scoped(demo):
    api, who, url, sites = demo
    kyrk = _site(sites, "Kyrkogatan")
    r = api.post("/pins", headers=who["officer"], json={"site_id": kyrk, "rule": "pin", "note": "tips"})
    assert r.status_code == 200 and r.json() == {"site_id": kyrk, "rule": "pin"}
    first = api.get("/ranking", headers=who["officer"]).json()["sites"][0]
    assert first["site_id"] == kyrk and first["pinned"]
    assert api.delete(f"/pins/{kyrk}", headers=who["officer"]).json() == {"site_id": kyrk, "rule": None}
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT actor, action FROM audit_log WHERE entity = 'planner_site_rules' "
                            "AND entity_id = %s ORDER BY id", (str(kyrk),)).fetchall()
    assert rows == [(OFFICER, "site.pin"), (OFFICER, "site.unpin")]
    # Kyrkogatan is in Tallbacka: an Ängsvik officer is told there is no such site
    assert api.post("/pins", headers=who["local"], json={"site_id": kyrk, "rule": "exclude"}).status_code == 404
    assert api.post("/pins", headers=who["viewer"], json={"site_id": kyrk, "rule": "exclude"}).status_code == 403
    assert api.post("/pins", headers=who["officer"], json={"site_id": kyrk, "rule": "pinn"}).status_code == 422


def test_followup_per_site_and_per_control(demo):
    api, who, url, sites = demo
    tall = _site(sites, "Tallbackavägen")
    r = api.get(f"/sites/{tall}/followup", headers=who["officer"])
    assert r.status_code == 200, r.text
    (f,) = r.json()
    with psycopg.connect(url) as conn:
        planned = conn.execute("SELECT planned FROM controls WHERE id = %s", (f["control_id"],)).fetchone()[0]
    assert f["planned"] is planned
    assert re.search(r"[+-]0[12]:00$", f["start"]) and datetime.fromisoformat(f["start"]).utcoffset()
    e = f["effect"]
    assert e["computed"] and e["baseline_days"] >= 7 and e["baseline_requested_days"] == 28
    during = e["share_over_limit"]["during"]
    assert during["verdict"] == "decrease" and during["days"] >= 1 and during["low"] < during["did"] < during["high"]
    assert e["return_from"] is not None
    one = api.get(f"/controls/{f['control_id']}/followup", headers=who["officer"])
    assert one.status_code == 200 and one.json() == f
    assert api.get("/controls/999999/followup", headers=who["officer"]).status_code == 404
    assert api.get(f"/controls/{f['control_id']}/followup", headers=who["local"]).status_code == 404
    assert api.get(f"/sites/{tall}/followup", headers=who["viewer"]).status_code == 403


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_situation_picture_as_html_for_viewers(demo, lang):
    api, who, _, _ = demo
    r = api.get("/reports/situation", headers=who["viewer"], params={"week": "2024-W44", "lang": lang})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    title = {"sv": "Lägesbild trafiksäkerhet, vecka 44, 2024", "en": "Road safety situation picture, week 44, 2024"}
    assert title[lang] in r.text and f'lang="{lang}"' in r.text
    # served under a policy without inline style: the same sheet the file and the PDF carry, linked
    assert "<style" not in r.text and 'href="/print/report.css"' in r.text
    css = api.get(str(api.base_url).removesuffix("/api/v1/") + "/print/report.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css") and "@page" in css.text
    bad = api.get("/reports/situation", headers=who["viewer"], params={"week": "W99x"})
    assert bad.status_code == 422 and "W99x" in bad.text
    assert api.get("/reports/situation", params={"week": "2024-W44"}).status_code == 401


def test_situation_picture_as_pdf(demo):
    from planner.report.pdf import PdfError, find_chromium

    try:
        find_chromium()
    except PdfError as e:
        pytest.skip(str(e))
    api, who, _, _ = demo
    r = api.get("/reports/situation", headers=who["officer"], params={"week": "2024-W44", "format": "pdf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-") and b"/Type /Page" in r.content or b"/Type/Page" in r.content
