"""The access matrix, built from the app's own route table: every route × (anonymous, viewer,
officer, technician, admin, a viewer of another municipality), against a real uvicorn server on a
migrated database with a user of each role. A route without an access rule fails the suite; a
route added later joins the matrix by itself (a new path parameter needs a value in PATH_VALUES).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import _IncludedRouter
from people import PERSONAS, make_world, session_cookie
from servers import running
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from api import personal_tokens
from api.app import create_app
from api.deps import Admin, Public
from api.principal import Principal
from collector.setup import sign_tokens
from fartkoll.settings import Settings

OK, UNAUTH, FORBIDDEN, HIDDEN = "allowed", "401", "403", "404"
ANON = "anonymous"

# expected outcome by the route's rule and who asks (the other-municipality viewer is a viewer)
BY_RULE: dict[str, dict[str, str]] = {
    "public": dict.fromkeys((ANON, *PERSONAS), OK),
    "user": {ANON: UNAUTH, **dict.fromkeys(PERSONAS, OK)},
    "viewer": {ANON: UNAUTH, **dict.fromkeys(PERSONAS, OK)},
    "officer": {ANON: UNAUTH, "viewer": FORBIDDEN, "officer": OK, "technician": FORBIDDEN, "admin": OK,
                "other_viewer": FORBIDDEN},
    "technician": {ANON: UNAUTH, "viewer": FORBIDDEN, "officer": FORBIDDEN, "technician": OK, "admin": OK,
                   "other_viewer": FORBIDDEN},
    "admin": {ANON: UNAUTH, **dict.fromkeys(PERSONAS, FORBIDDEN), "admin": OK},
    "sign": dict.fromkeys((ANON, *PERSONAS), UNAUTH),  # people never pass as a sign
}
# The rule some routes must keep: weakening one (e.g. the user list to AnyUser) fails here,
# where the matrix alone would follow the weaker rule. Add sensitive routes as they come.
PINNED = {
    ("POST", "/api/v1/sessions"): "public",
    ("GET", "/api/v1/me"): "user",
    ("POST", "/api/v1/tokens"): "user",
    ("GET", "/api/v1/users"): "admin",
    ("POST", "/api/v1/users"): "admin",
    ("GET", "/api/v1/users/{user_id}"): "admin",
    ("PATCH", "/api/v1/users/{user_id}"): "admin",
    ("PUT", "/api/v1/users/{user_id}/password"): "admin",
    ("GET", "/api/v1/audit"): "admin",
    ("GET", "/api/v1/ranking"): "officer",
    ("POST", "/api/v1/pins"): "officer",
    ("DELETE", "/api/v1/pins/{site_id}"): "officer",
    ("GET", "/api/v1/sites/{site_id}/followup"): "officer",
    ("GET", "/api/v1/controls/{control_id}/followup"): "officer",
    ("GET", "/api/v1/reports/situation"): "viewer",
}
# path parameters naming an object of a municipality: another municipality's viewer gets 404
SCOPED = {"site_id", "sign_id", "street_id", "municipality_id", "deployment_id"}
# FastAPI's own documentation routes are the only plain routes allowed
DOC_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def effective_routes(routes) -> Iterator[object]:
    """Every route the app serves, through FastAPI's included-router objects."""
    for r in routes:
        if isinstance(r, _IncludedRouter):
            yield from effective_routes(r.effective_candidates())
        else:
            yield r


def rules_of(dependant) -> set[str]:
    found = set()
    stack = [dependant]
    while stack:
        d = stack.pop()
        rule = getattr(d.call, "access_rule", None)
        if rule is not None:
            found.add(rule)
        stack.extend(d.dependencies)
    return found


def route_table(app: FastAPI) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(method, path, rule) for every API route, and the problems: routes with no rule, more
    than one, or that are not API routes at all."""
    table, problems = [], []
    for r in effective_routes(app.routes):
        dependant = getattr(r, "dependant", None)
        path = getattr(r, "path", "?")
        if dependant is None:
            if isinstance(r, Route) and path in DOC_PATHS:
                continue
            if isinstance(r, Mount) and isinstance(r.app, StaticFiles):
                continue
            problems.append(f"{type(r).__name__} {path}: not an API route, so no access rule can be seen")
            continue
        rules = sorted(rules_of(dependant))
        for method in sorted(r.methods or ()):
            if len(rules) != 1:
                problems.append(f"{method} {path}: needs exactly one access rule (Public, Viewer, …), has {rules}")
            else:
                table.append((method, path, rules[0]))
    return table, problems


def test_a_route_without_a_rule_is_caught():
    """The checker itself can fail: an app with an unruled route, a doubly-ruled one and a stray
    mount reports all three."""
    app = FastAPI()
    router = APIRouter()

    @router.get("/open-by-mistake")
    def unruled() -> dict:
        return {}

    @router.get("/two")
    def two(a: Public, b: Admin) -> dict:
        return {}

    @router.get("/fine")
    def fine(a: Admin) -> dict:
        return {}

    app.include_router(router, prefix="/api/v1")
    app.mount("/sub", FastAPI())
    table, problems = route_table(app)
    assert table == [("GET", "/api/v1/fine", "admin")]
    assert len(problems) == 3
    assert any("/api/v1/open-by-mistake" in p for p in problems)
    assert any("/api/v1/two" in p for p in problems)
    assert any("/sub" in p for p in problems)


def test_every_route_of_the_app_has_exactly_one_access_rule(db_url):
    table, problems = route_table(create_app(Settings(database_url=db_url)))
    assert problems == []
    assert len(table) >= 13  # people routes alone; the others join as they are added
    declared = {(m, p): rule for m, p, rule in table}
    assert {k: declared.get(k) for k in PINNED} == PINNED
    unknown = {rule for _, _, rule in table} - set(BY_RULE)
    assert unknown == set(), f"add the expected outcomes of rule(s) {unknown} to BY_RULE"


def _path_values(world, conn, persona: str) -> dict[str, object]:
    """A value for each path parameter: an object of municipality A, or one the asker owns."""
    owner = world.users["viewer" if persona == ANON else persona]
    street = conn.execute("SELECT street_id FROM sites WHERE id = %s", (world.site_a,)).fetchone()[0]
    who = Principal(user_id=owner.id, email=owner.email, role=owner.role)
    token = personal_tokens.issue(conn, who, personal_tokens.TokenNew(label="matrix"), now=datetime.now(UTC))
    session = conn.execute("SELECT max(id) FROM sessions WHERE user_id = %s AND revoked_at IS NULL",
                           (owner.id,)).fetchone()[0]
    conn.commit()
    return {"site_id": world.site_a, "sign_id": world.sign_a, "street_id": street,
            "municipality_id": world.mun_a, "user_id": world.users["viewer"].id,
            "token_id": token.id, "session_id": session, "path": "vendor/swagger-ui/NOTICE", "plan_id": 1,
            "control_id": 1, "measure_id": 1, "name": "lagesbild-2024-W44.sv.html"}
    # no control, measure or situation picture exists: an allowed caller gets 404, the others 401/403


def _outcome(status: int, scoped: bool, location: str = "") -> str:
    if status == 401 or (status == 303 and location.startswith("/login?")):  # a page for people: to the login
        return UNAUTH
    if status == 403:
        return FORBIDDEN
    if status == 404 and scoped:
        return HIDDEN
    assert status < 500, f"server error {status}"
    return OK


def test_access_matrix_over_http(db, db_url):
    world = make_world(db)
    app = create_app(Settings(database_url=db_url))
    table, problems = route_table(app)
    assert problems == []
    results, wrong = [], []
    with running(app) as base, httpx.Client(base_url=base, timeout=20) as http:
        admin_cookie = session_cookie(db, world.users["admin"].id)
        r = http.get("/api/v1/me", headers={"cookie": f"fartkoll_session={admin_cookie}"})
        assert r.status_code == 200
        csrf = r.cookies["csrftoken"]
        assert r.json()["csrf_token"] == csrf
        for method, path, rule in table:
            params = set(re.findall(r"{(\w+)(?::\w+)?}", path))
            scoped = bool(params & SCOPED)
            for persona in (ANON, *PERSONAS):
                cookies = {"csrftoken": csrf}
                if persona != ANON:
                    cookies["fartkoll_session"] = session_cookie(db, world.users[persona].id)
                values = _path_values(world, db, persona)
                missing = params - set(values)
                assert not missing, f"{method} {path}: add a value for {missing} to _path_values"
                if "/signs/{sign_id}/tokens/" in path:  # there token_id is the sign's token (API and page)
                    values["token_id"] = sign_tokens.issue_token(db, actor="matrix", sign_id=world.sign_a).id
                    db.commit()
                url = re.sub(r"{(\w+)(?::\w+)?}", lambda m, v=values: str(v[m.group(1)]), path)
                body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
                headers = {"x-csrftoken": csrf, "cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
                r = http.request(method, url, headers=headers, **body)
                expected = BY_RULE[rule][persona]
                if expected == OK and scoped and persona == "other_viewer" and rule != "public":
                    expected = HIDDEN
                got = _outcome(r.status_code, scoped, r.headers.get("location", ""))
                results.append((method, path, persona, got))
                if got != expected:
                    wrong.append(f"{method} {path} as {persona}: expected {expected}, got {r.status_code} {r.text[:200]}")
    assert wrong == []
    assert len(results) == len(table) * 6
    # the matrix really exercised both sides: some requests allowed, some refused
    assert {g for *_, g in results} >= {OK, UNAUTH, FORBIDDEN}


def test_scope_functions_follow_the_roles(db):
    """viewer: own municipality; officer: the police area's; technician: own; admin: all; 404
    for another municipality's site."""
    from api import scope
    from core.errors import NotFound

    world = make_world(db)

    def principal(persona: str) -> Principal:
        u = world.users[persona]
        return Principal(user_id=u.id, email=u.email, role=u.role, municipality_id=u.municipality_id,
                         police_area_id=u.police_area_id)

    assert scope.municipality_ids(db, principal("viewer")) == [world.mun_a]
    assert scope.municipality_ids(db, principal("officer")) == [world.mun_a, world.mun_b]
    assert scope.municipality_ids(db, principal("technician")) == [world.mun_a]
    assert scope.municipality_ids(db, principal("admin")) is None
    assert scope.municipality_ids(db, principal("other_viewer")) == [world.mun_c]
    for persona in ("viewer", "officer", "technician", "admin"):
        assert scope.site_visible(db, principal(persona), world.site_a)
        assert scope.sign_visible(db, principal(persona), world.sign_a)
    assert not scope.site_visible(db, principal("other_viewer"), world.site_a)
    assert not scope.sign_visible(db, principal("other_viewer"), world.sign_a)
    assert scope.site_visible(db, principal("admin"), world.site_c)
    assert not scope.site_visible(db, principal("officer"), world.site_c)  # another police area
    assert not scope.site_visible(db, principal("admin"), 999_999)
    with pytest.raises(NotFound):
        scope.require_site(db, principal("other_viewer"), world.site_a)
    scope.require_site(db, principal("other_viewer"), world.site_c)


def test_an_id_no_object_can_have_is_not_found_on_every_route(db, db_url):
    """Every route with an id in its path, asked by every role for an id past the database's
    32-bit ids (2^31), answers 404 (or refuses the role), never 5xx; a query parameter past them
    is named in a 422."""
    world = make_world(db)
    app = create_app(Settings(database_url=db_url))
    table, _ = route_table(app)
    asked, wrong = 0, []
    with running(app) as base, httpx.Client(base_url=base, timeout=20) as http:
        for method, path, _rule in table:
            params = set(re.findall(r"{(\w+)(?::\w+)?}", path))
            if method != "GET" or not any(p.endswith("_id") for p in params):
                continue
            for persona in (ANON, *PERSONAS):
                values = {**_path_values(world, db, persona), **{p: 2**31 for p in params if p.endswith("_id")}}
                url = re.sub(r"{(\w+)(?::\w+)?}", lambda m, v=values: str(v[m.group(1)]), path)
                headers = {} if persona == ANON else {
                    "cookie": f"fartkoll_session={session_cookie(db, world.users[persona].id)}"}
                r = http.get(url, headers=headers, follow_redirects=False)
                asked += 1
                if r.status_code >= 500 or r.status_code == 200:
                    wrong.append(f"GET {url} as {persona}: {r.status_code} {r.text[:160]}")
        r = http.get(f"/compare?site={2**31}")
        assert r.status_code == 404 and str(2**31) in r.text
        r = http.get(f"/sites/{2**31}")
        assert r.status_code == 404 and r.json()["detail"].startswith(f"no site {2**31}")
    assert wrong == [] and asked > 50
