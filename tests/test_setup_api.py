"""The set-up routes over a real uvicorn: a technician's whole flow without SQL, audited with the
technician's e-mail; bad input answered as problem details naming field and value; roles."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from servers import running

from api.app import create_app
from api.auth import sign_principal
from collector.tokens import PERSONAL_PREFIX, hash_token, new_token
from core.errors import Unauthenticated
from fartkoll.settings import Settings

TECH = "tech@example.org"


def person(db: psycopg.Connection, email: str, role: str, *, municipality_id: int | None = None,
           police_area_id: int | None = None) -> dict[str, str]:
    """A user with a personal API token (made by SQL: logins are not part of set-up); its auth header."""
    uid = db.execute("INSERT INTO users (email, role, municipality_id, police_area_id) VALUES (%s, %s, %s, %s) "
                     "RETURNING id", (email, role, municipality_id, police_area_id)).fetchone()[0]
    token = new_token(PERSONAL_PREFIX)
    db.execute("INSERT INTO api_tokens (user_id, token_hash) VALUES (%s, %s)", (uid, hash_token(token)))
    db.commit()
    return {"Authorization": f"Bearer {token}"}


def sign_of(db: psycopg.Connection, token: str) -> int:
    """The sign id the API's sign authentication resolves ``token`` to."""
    from starlette.requests import Request

    request = Request({"type": "http", "headers": [(b"authorization", f"Bearer {token}".encode())]})
    db.rollback()
    return sign_principal(request, db).sign_id


@pytest.fixture
def api(db, db_url):
    with running(create_app(Settings(database_url=db_url))) as base, \
            httpx.Client(base_url=f"{base}/api/v1", timeout=20) as client:
        yield client


def _municipality(db: psycopg.Connection, name: str, police_area: str) -> int:
    """A municipality (and police area) an admin set up, for a technician to work in."""
    pa = db.execute("INSERT INTO police_areas (name) VALUES (%s) RETURNING id", (police_area,)).fetchone()[0]
    return db.execute("INSERT INTO municipalities (name, police_area_id) VALUES (%s, %s) RETURNING id",
                      (name, pa)).fetchone()[0]


def test_a_technician_sets_up_a_sign_without_sql(db, api):
    tech = person(db, TECH, "technician", municipality_id=_municipality(db, "Oxford", "Thames Valley"))
    r = api.post("/sites", headers=tech, json={"name": "High Street 4", "street": "High Street",
                                               "municipality": "Oxford", "police_area": "Thames Valley",
                                               "lat": 51.752, "lon": -1.2577, "time_zone": "Europe/London",
                                               "tags": ["school"]})
    assert r.status_code == 201, r.text
    uk = r.json()
    assert (uk["municipality"], uk["police_area"], uk["time_zone"], uk["tags"]) == (
        "Oxford", "Thames Valley", "Europe/London", ["school"])
    other = api.post("/sites", headers=tech, json={"name": "Cornmarket 1", "street": "Cornmarket",
                                                   "municipality": "Oxford"}).json()

    r = api.post(f"/sites/{uk['id']}/limits", headers=tech,
                 json={"posted_value": 30, "posted_unit": "mph", "from_date": "2025-01-01"})
    assert r.status_code == 201, r.text
    lim = r.json()["limit"]
    assert (lim["posted_value"], lim["posted_unit"], lim["limit_kmh"], lim["from_date"]) == (30, "mph", 48, "2025-01-01")
    assert lim["valid_from"] == "2025-01-01T00:00:00Z"          # London midnight in winter is UTC midnight

    r = api.post("/signs", headers=tech, json={"serial": "HR-SS300-9", "protocol": "houston-dr500", "unit": "mph",
                                               "vendor": "Houston Radar", "model": "SS300", "rounding": "round"})
    assert r.status_code == 201, r.text
    sign = r.json()
    assert sign["deployment"] is None

    r = api.post(f"/signs/{sign['id']}/deploy", headers=tech,
                 json={"site_id": uk["id"], "at": "2026-03-01T09:00:00+00:00", "display": "stealth",
                       "mount_angle_deg": 12, "approach_heading": "N"})
    assert r.status_code == 201, r.text
    dep = r.json()
    assert (dep["site"], dep["display"], dep["valid_to"]) == ("High Street 4", "stealth", None)

    r = api.post(f"/signs/{sign['id']}/move", headers=tech,
                 json={"site_id": other["id"], "at": "2026-03-15T09:00:00+00:00", "approach_heading": "S"})
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["closed"]["id"] == dep["id"] and moved["closed"]["valid_to"] == "2026-03-15T09:00:00Z"
    assert moved["opened"]["site"] == "Cornmarket 1" and moved["opened"]["display"] == "stealth"
    assert [m["name"] for m in api.get("/municipalities", headers=tech).json()] == ["Oxford"]
    shown = api.get(f"/signs/{sign['id']}", headers=tech).json()
    assert shown["deployment"]["id"] == moved["opened"]["id"]

    r = api.post(f"/signs/{sign['id']}/tokens", headers=tech, json={"label": "modem"})
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["token"].startswith("fks_")
    live = db.execute("SELECT count(*) FROM api_tokens WHERE token_hash = %s AND revoked_at IS NULL",
                      (hash_token(issued["token"]),)).fetchone()[0]
    assert live == 1
    listed = api.get(f"/signs/{sign['id']}/tokens", headers=tech).json()
    assert [t["id"] for t in listed] == [issued["id"]] and all("token" not in t for t in listed)
    assert sign_of(db, issued["token"]) == sign["id"]                  # what the ingest routes accept
    r = api.post(f"/signs/{sign['id']}/tokens/{issued['id']}/revoke", headers=tech)
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    with pytest.raises(Unauthenticated):
        sign_of(db, issued["token"])
    assert api.post(f"/signs/{sign['id']}/tokens", headers=tech).status_code == 201     # no body: no label
    db.rollback()
    assert db.execute("SELECT count(*) FROM api_tokens WHERE token_hash = %s AND revoked_at IS NULL",
                      (hash_token(issued["token"]),)).fetchone()[0] == 0

    r = api.post(f"/signs/{sign['id']}/remove", headers=tech)                    # no body: now
    assert r.status_code == 200 and r.json()["valid_to"] is not None
    detail = api.get(f"/sites/{uk['id']}/setup", headers=tech).json()
    assert [d["id"] for d in detail["deployments"]] == [dep["id"]] and detail["limits"][0]["posted_unit"] == "mph"

    audit = db.execute("SELECT actor, action, entity FROM audit_log ORDER BY id").fetchall()
    assert {a[0] for a in audit} == {TECH}
    assert [(a[1], a[2]) for a in audit] == [
        ("create", "street"), ("create", "site"),
        ("create", "street"), ("create", "site"), ("set", "speed_limit"), ("create", "sign"),
        ("deploy", "deployment"), ("move", "deployment"), ("issue", "sign_token"), ("revoke", "sign_token"),
        ("issue", "sign_token"), ("remove", "deployment")]


def _problem(r: httpx.Response, status: int, field: str, value) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert {"record": None, "field": field, "value": value} == {k: body["errors"][0][k] for k in ("record", "field", "value")}
    return body["detail"]


def test_bad_input_is_named_and_stores_nothing(db, api):
    tech = person(db, TECH, "technician", municipality_id=_municipality(db, "M", "P"))
    detail = _problem(api.post("/sites", headers=tech, json={"name": "A", "street": "S", "municipality": "M",
                                                             "police_area": "P", "time_zone": "Europe/Londn"}),
                      422, "time_zone", "Europe/Londn")
    assert "Europe/London" in detail
    site = api.post("/sites", headers=tech, json={"name": "A", "street": "S", "municipality": "M",
                                                  "police_area": "P"}).json()
    detail = _problem(api.post("/signs", headers=tech, json={"serial": "X1", "protocol": "stalker"}),
                      422, "protocol", "stalker")
    assert "stalker-a" in detail and "icoms-tma296" in detail
    _problem(api.post(f"/sites/{site['id']}/limits", headers=tech,
                      json={"posted_value": 200, "posted_unit": "kmh", "from_date": "2026-01-01"}),
             422, "posted_value", 200)
    sign = api.post("/signs", headers=tech, json={"serial": "X1", "protocol": "stalker-a"}).json()
    ok = api.post(f"/signs/{sign['id']}/deploy", headers=tech, json={"site_id": site["id"], "at": "2026-01-01T00:00:00Z"})
    assert ok.status_code == 201
    r = api.post(f"/signs/{sign['id']}/deploy", headers=tech, json={"site_id": site["id"], "at": "2026-02-01T00:00:00Z"})
    assert r.status_code == 409 and f"deployment {ok.json()['id']}" in r.json()["detail"]
    assert api.post("/signs/999/deploy", headers=tech, json={"site_id": site["id"]}).status_code == 404
    db.rollback()
    assert db.execute("SELECT count(*) FROM deployments").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM speed_limits").fetchone()[0] == 0


def test_writes_need_a_technician_and_reads_a_person(db, api):
    viewer = person(db, "viewer@example.org", "viewer")
    officer = person(db, "officer@example.org", "officer")
    admin = person(db, "admin@example.org", "admin")
    body = {"serial": "R1", "protocol": "ops-json"}
    assert api.post("/signs", json=body).status_code == 401
    assert api.post("/signs", headers=viewer, json=body).status_code == 403
    assert api.post("/signs", headers=officer, json=body).status_code == 403
    assert api.get("/signs").status_code == 401
    assert api.post("/signs", headers=admin, json=body).status_code == 201
    assert [s["serial"] for s in api.get("/signs", headers=viewer).json()] == ["R1"]
    assert api.get("/signs/1/tokens", headers=viewer).status_code == 403
    db.rollback()
    assert db.execute("SELECT actor FROM audit_log").fetchall() == [("admin@example.org",)]


BIG = 2**40
ODD = [
    ("post", "/sites", {"name": "A\x00", "street": "S", "municipality": "M", "police_area": "P"}),
    ("post", "/sites", {"name": "A", "street": "S", "municipality": "M", "police_area": "P", "time_zone": "\x00"}),
    ("post", "/sites", {"name": "A" * 5000, "street": "S", "municipality": "M", "police_area": "P"}),
    ("post", "/sites", {"name": "A", "street": "S", "municipality": "M", "police_area": "P", "lat": 1e308, "lon": 0}),
    ("post", "/sites", {"name": "A", "street": "S", "municipality": "M", "police_area": "P", "tags": ["x" * 41]}),
    ("post", f"/sites/{BIG}/limits", {"posted_value": 50, "from_date": "2026-01-01"}),
    ("post", "/sites/1/limits", {"posted_value": BIG, "from_date": "2026-01-01"}),
    ("post", "/sites/1/limits", {"posted_value": 50, "from_date": "9999-12-31"}),
    ("post", "/sites/1/limits", {"posted_value": 50, "from_date": "2026-01-01", "to_date": "2025-01-01"}),
    ("get", f"/sites/{BIG}/setup", None),
    ("get", f"/sites/{BIG}/limits", None),
    ("post", "/signs", {"serial": "\x00", "protocol": "ops-json"}),
    ("post", "/signs", {"serial": "S2", "protocol": "ops-json", "configured_limit_kmh": BIG}),
    ("post", "/signs", {"serial": "S2", "protocol": "ops-json", "unit": "furlongs"}),
    ("get", f"/signs/{BIG}", None),
    ("post", f"/signs/{BIG}/deploy", {"site_id": 1}),
    ("post", "/signs/1/deploy", {"site_id": BIG}),
    ("post", "/signs/1/deploy", {"site_id": 1, "at": "9999-01-01T00:00:00Z"}),
    ("post", "/signs/1/deploy", {"site_id": 1, "at": "2026-01-01T00:00:00"}),
    ("post", "/signs/1/deploy", {"site_id": 1, "display": "blink"}),
    ("post", "/signs/1/deploy", {"site_id": 1, "note": "n\x00"}),
    ("post", "/signs/1/move", {"site_id": 1}),
    ("post", f"/signs/1/tokens/{BIG}/revoke", None),
    ("post", "/signs/1/tokens", {"label": "\x00"}),
    ("post", "/tips", {"site_id": BIG}),
    ("post", "/tips", {"lat": 1e308, "lon": 0}),
    ("post", "/tips", {"site_id": 1, "text": "a\x00b"}),
    ("get", "/tips?limit=0", None),
    ("get", "/tips?status=open", None),
]


def test_odd_input_is_refused_without_a_server_error(db, api):
    tech = person(db, TECH, "admin")
    assert api.post("/sites", headers=tech, json={"name": "A", "street": "S", "municipality": "M",
                                                  "police_area": "P"}).status_code == 201
    assert api.post("/signs", headers=tech, json={"serial": "S1", "protocol": "ops-json"}).status_code == 201
    for method, path, body in ODD:
        r = api.request(method, path, headers=tech, json=body)
        assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), (path, r.text)
    assert api.get(f"/deployments?sign_id={BIG}", headers=tech).json() == []
    db.rollback()
    assert db.execute("SELECT (SELECT count(*) FROM sites), (SELECT count(*) FROM signs), "
                      "(SELECT count(*) FROM deployments), (SELECT count(*) FROM citizen_tips)").fetchone() == (1, 1, 0, 0)


def test_a_technician_manages_only_the_sites_and_signs_of_their_municipality(db, api):
    admin = person(db, "admin@example.org", "admin")
    for name, mun, area in (("Home 1", "Hemkommun", "LPO A"), ("Away 1", "Bortkommun", "LPO B")):
        assert api.post("/sites", headers=admin, json={"name": name, "street": "Gatan", "municipality": mun,
                                                       "police_area": area}).status_code == 201
    home, away = (api.get(f"/sites/{i}/setup", headers=admin).json() for i in (1, 2))
    mine = api.post("/signs", headers=admin, json={"serial": "MINE", "protocol": "ops-json"}).json()
    theirs = api.post("/signs", headers=admin, json={"serial": "THEIRS", "protocol": "ops-json"}).json()
    assert api.post(f"/signs/{theirs['id']}/deploy", headers=admin, json={"site_id": away["id"]}).status_code == 201
    tech = person(db, TECH, "technician", municipality_id=home["municipality_id"])

    assert api.post(f"/signs/{mine['id']}/deploy", headers=tech, json={"site_id": home["id"]}).status_code == 201
    assert api.post(f"/signs/{mine['id']}/tokens", headers=tech).status_code == 201
    assert api.post(f"/sites/{home['id']}/limits", headers=tech,
                    json={"posted_value": 40, "from_date": "2026-01-01"}).status_code == 201
    assert api.post("/sites", headers=tech, json={"name": "Home 2", "street": "Vägen",
                                                  "municipality": "Hemkommun"}).status_code == 201
    # another municipality's site and sign: 404, as if they did not exist; adding there: 403
    assert api.post(f"/sites/{away['id']}/limits", headers=tech,
                    json={"posted_value": 40, "from_date": "2026-01-01"}).status_code == 404
    assert api.post(f"/signs/{mine['id']}/move", headers=tech, json={"site_id": away["id"]}).status_code == 404
    assert api.post(f"/signs/{theirs['id']}/remove", headers=tech).status_code == 404
    assert api.post(f"/signs/{theirs['id']}/tokens", headers=tech).status_code == 404
    assert api.get(f"/signs/{theirs['id']}/tokens", headers=tech).status_code == 404
    assert api.post("/sites", headers=tech, json={"name": "Away 2", "street": "Gatan",
                                                  "municipality": "Bortkommun"}).status_code == 403
    assert api.post("/municipalities", headers=tech, json={"name": "Ny", "police_area": "LPO A"}).status_code == 403
    db.rollback()
    assert db.execute("SELECT count(*) FROM deployments WHERE valid_to IS NULL").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM speed_limits").fetchone()[0] == 1
