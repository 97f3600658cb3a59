"""The cheap read path keeps its promises: the statistics' and the series' JSON encoded from plain
data is byte for byte the typed models' JSON (and the OpenAPI schema still the models'); the one edge middleware still
sets the security headers, the request id and the metric; a safe request gets a CSRF token (its
cookie, ``Vary: Cookie``) only when the response uses one, and a valid token cookie is kept.
One server on a copy of the seeded demo database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from people import session_cookie
from servers import running

from api import csrf, personal_tokens
from api.app import create_app
from api.people import UserNew, add_user
from api.principal import Principal
from fartkoll.settings import Settings
from planner.series import SiteSeries, site_series, site_series_json
from planner.settings import PlannerSettings
from planner.sitestats import SiteFigures, figures, figures_json, statistics_of

PLANNER = PlannerSettings()
V1 = "/api/v1"


@pytest.fixture(scope="module")
def served(server_url, demo_template):
    from seeded_demo import copy_of_demo

    gen = copy_of_demo(server_url, demo_template)
    url = next(gen)
    with psycopg.connect(url) as conn:
        admin = add_user(conn, "test", UserNew(email="reader@fartkoll.example", role="admin"))
        who = Principal(user_id=admin.id, email=admin.email, role=admin.role)
        token = personal_tokens.issue(conn, who, personal_tokens.TokenNew(label="t"), now=datetime.now(UTC)).token
        conn.commit()
        cookie = session_cookie(conn, admin.id)
        sites = [r[0] for r in conn.execute("SELECT id FROM sites ORDER BY id")]
    try:
        with running(create_app(Settings(database_url=url))) as base:
            yield {"url": url, "base": base, "token": token, "cookie": cookie, "sites": sites}
    finally:
        next(gen, None)


def _variants(conn, site_id):
    end = conn.execute("SELECT max(hour) FROM rollup_hourly WHERE site_id = %s", (site_id,)).fetchone()[0]
    cut = (end - timedelta(days=10)).date() if end else None
    out = []
    for public in (False, True):
        for step in ("hour", "day"):
            out.append({"public": public, "step": step})
            if cut:
                out.append({"public": public, "step": step, "date_from": cut - timedelta(days=20), "date_to": cut})
        out.append({"public": public, "step": "day", "direction": "approaching", "display": "stealth"})
    return out


def test_series_json_is_byte_for_byte_the_models(served):
    compared = 0
    with psycopg.connect(served["url"]) as conn:
        for site_id in served["sites"]:
            for kw in _variants(conn, site_id):
                fast = site_series_json(conn, PLANNER, site_id, **kw)
                typed = site_series(conn, PLANNER, site_id, **kw)
                assert fast == typed.model_dump_json(by_alias=True).encode(), (site_id, kw)
                compared += sum(len(line.points) for line in typed.lines)
    assert compared > 1000  # gaps, withheld and small points among them (demo: a dead sign, quiet hours)


def test_statistics_json_is_byte_for_byte_the_models(served):
    groups = 0
    with psycopg.connect(served["url"]) as conn:
        for site_id in served["sites"]:
            end = conn.execute("SELECT max(hour) FROM rollup_hourly WHERE site_id = %s", (site_id,)).fetchone()[0]
            periods = [{}, {"weeks": 1}, {"weeks": 52}]
            if end:
                periods.append({"date_from": (end - timedelta(days=30)).date(), "date_to": (end - timedelta(days=3)).date()})
            for kw in periods:
                ss = statistics_of(conn, PLANNER, site_id, **kw)
                assert figures_json(ss) == figures(ss).model_dump_json(by_alias=True).encode(), (site_id, kw)
                groups += len(ss.groups)
    assert groups > 20


@pytest.mark.parametrize(("path", "model"), [("/api/v1/sites/{site_id}/series", SiteSeries),
                                             ("/api/v1/sites/{site_id}/stats", SiteFigures)])
def test_openapi_schema_is_the_models(path, model):
    schema = create_app(Settings()).openapi()
    ok = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": f"#/components/schemas/{model.__name__}"}
    own = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}", mode="serialization")
    assert schema["components"]["schemas"][model.__name__]["properties"] == own["properties"]


def test_series_over_http_and_the_edge_headers(served):
    site = served["sites"][0]
    with httpx.Client(base_url=served["base"], timeout=30) as http:
        r = http.get(f"{V1}/sites/{site}/series", params={"step": "day"},
                     headers={"authorization": f"Bearer {served['token']}", "x-request-id": "read-1"})
        assert r.status_code == 200, r.text
        with psycopg.connect(served["url"]) as conn:
            expected = site_series(conn, PLANNER, site, public=False, step="day").model_dump_json(by_alias=True)
        assert r.content == expected.encode()
        assert r.headers["x-request-id"] == "read-1"
        stats = http.get(f"{V1}/sites/{site}/stats", headers={"authorization": f"Bearer {served['token']}"})
        with psycopg.connect(served["url"]) as conn:
            assert stats.content == figures(statistics_of(conn, PLANNER, site)).model_dump_json(by_alias=True).encode()
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        # a JSON read uses no CSRF token: none made, no cookie set, responses stay cacheable
        assert "set-cookie" not in r.headers and "vary" not in r.headers
        anonymous = http.get(f"{V1}/sites/{site}/series")
        assert anonymous.status_code == 200 and anonymous.json()["public"] is True
        assert len(anonymous.headers["x-request-id"]) == 32
        metrics = http.get("/metrics").text
        assert 'route="/api/v1/sites/{site_id}/series",status="2xx"' in metrics


def test_a_safe_request_gets_a_token_only_when_it_uses_one(served):
    with httpx.Client(base_url=served["base"], timeout=30) as http:
        session = {"cookie": f"fartkoll_session={served['cookie']}"}
        me = http.get(f"{V1}/me", headers=session)
        assert me.status_code == 200, me.text
        token = me.json()["csrf_token"]
        assert me.cookies[csrf.COOKIE] == token and "Cookie" in me.headers["vary"]
        assert "SameSite=Lax" in me.headers["set-cookie"] and "Path=/" in me.headers["set-cookie"]
        again = http.get(f"{V1}/me", headers={"cookie": f"fartkoll_session={served['cookie']}; csrftoken={token}"})
        assert again.json()["csrf_token"] == token and "set-cookie" not in again.headers
        forged = http.get(f"{V1}/me", headers={"cookie": f"fartkoll_session={served['cookie']}; csrftoken=x.y"})
        assert forged.json()["csrf_token"] not in (token, "x.y") and csrf.COOKIE in forged.cookies
        # the token made on a GET passes the check of an unsafe request with cookies
        cookies = {"cookie": f"fartkoll_session={served['cookie']}; csrftoken={token}"}
        made = http.post(f"{V1}/tokens", json={"label": "x"}, headers={**cookies, "x-csrftoken": token})
        assert made.status_code == 201, made.text
        refused = http.post(f"{V1}/tokens", json={"label": "x"}, headers=cookies)
        assert refused.status_code == 403
        # unsafe requests that need no token (a Bearer token; no cookies at all) pass without one
        # being made, and a cookie-carrying one with a Bearer header is not refused either
        http.cookies.clear()  # the client's jar keeps the cookies answered above
        bearer = {"authorization": f"Bearer {served['token']}"}
        by_token = http.post(f"{V1}/tokens", json={"label": "y"}, headers=bearer)
        assert by_token.status_code == 201, by_token.text
        assert "set-cookie" not in by_token.headers and "vary" not in by_token.headers
        no_cookie = http.post(f"{V1}/tokens", json={"label": "z"})
        assert no_cookie.status_code in (401, 403) and "set-cookie" not in no_cookie.headers
        assert "CSRF" not in no_cookie.text
        both = http.post(f"{V1}/tokens", json={"label": "w"}, headers={**cookies, **bearer})
        assert both.status_code == 201, both.text
        # a cookie-less login without JSON is still checked (login CSRF)
        form_login = http.post(f"{V1}/sessions", data={"email": "a@b.c", "password": "x"})
        assert form_login.status_code == 403 and "CSRF" in form_login.text
