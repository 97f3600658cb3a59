"""schemathesis against our own OpenAPI schema, on a real uvicorn server and a real database.

Every operation in the schema is fuzzed (a route added later is covered without touching this
file): no answer may be a 5xx, and every answer must match the schema (status, content type,
body, headers). People's routes are called with an admin's personal token, sign routes with a
sign's upload token, so the fuzz reaches past authentication.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import schemathesis
from dbcopy import create_database, drop_database, url_of
from hypothesis import HealthCheck, given, settings
from places import deploy, make_sign, make_site
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from servers import running

from api.app import create_app
from collector.passes import Direction, Display, VehiclePass
from collector.store import write_passes
from collector.tokens import PERSONAL_PREFIX, SIGN_PREFIX, hash_token, new_token
from fartkoll.settings import Settings

T0 = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)


def access_rules(app) -> dict[tuple[str, str], str]:
    """(METHOD, path template) → the access rule its dependencies name, from the route table."""
    rules: dict[tuple[str, str], str] = {}

    def rule_of(dependant) -> str | None:
        for dep in dependant.dependencies:
            name = getattr(dep.call, "access_rule", None) or rule_of(dep)
            if name:
                return name
        return None

    def walk(routes) -> None:
        for route in routes:
            if hasattr(route, "effective_route_contexts"):  # an included router (FastAPI 0.16x)
                for ctx in route.effective_route_contexts():
                    if ctx.dependant is not None:
                        for m in ctx.methods or ():
                            rules[(m, ctx.path_format)] = rule_of(ctx.dependant) or "none"
            elif getattr(route, "dependant", None) is not None:
                for m in route.methods or ():
                    rules[(m, route.path_format)] = rule_of(route.dependant) or "none"

    walk(app.routes)
    return rules


@pytest.fixture(scope="module")
def fuzz_db(server_url: str, template_db: str) -> Iterator[tuple[str, str, str]]:
    """A migrated database with two sites, a deployed sign, some passes, an admin and tokens."""
    name = f"fk_fuzz_{os.getpid()}"
    create_database(server_url, name, template_db)
    url = url_of(server_url, name)
    admin_token, sign_token = new_token(PERSONAL_PREFIX), new_token(SIGN_PREFIX)
    try:
        with psycopg.connect(url) as conn:
            site = make_site(conn, "Skolgatan 3", limit_kmh=50, tags=["school"])
            make_site(conn, "Tyst väg 1", limit_kmh=30)
            sign = make_sign(conn, "SN-FUZZ")
            deploy(conn, sign, site, T0 - timedelta(days=30))
            write_passes(conn, [VehiclePass(T0 + timedelta(minutes=i), float(35 + i % 30), Direction.APPROACHING,
                                            site_id=site, display=Display.STEALTH) for i in range(200)])
            user = conn.execute("INSERT INTO users (email, role) VALUES ('admin@example.se', 'admin') RETURNING id"
                                ).fetchone()[0]
            conn.execute("INSERT INTO api_tokens (user_id, token_hash) VALUES (%s, %s)", (user, hash_token(admin_token)))
            conn.execute("INSERT INTO api_tokens (sign_id, token_hash) VALUES (%s, %s)", (sign, hash_token(sign_token)))
            conn.commit()
        yield url, admin_token, sign_token
    finally:
        drop_database(server_url, name)


@pytest.fixture(scope="module")
def fuzz_server(fuzz_db):
    url, admin_token, sign_token = fuzz_db
    app = create_app(Settings(database_url=url))
    rules = access_rules(app)
    with running(app) as base:
        yield base, rules, admin_token, sign_token


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    base = fuzz_server[0]
    return schemathesis.openapi.from_url(f"{base}/openapi.json")


def _operation_labels() -> list[str]:
    """``METHOD /path`` of every operation the app documents (read without a server or database)."""
    app = create_app(Settings(database_url="postgresql://unused@127.0.0.1:1/none"))
    paths = app.openapi()["paths"]
    return sorted(f"{m.upper()} {p}" for p, item in paths.items() for m in item if m != "parameters")


# (generation mode, who calls, examples per operation): valid and invalid requests with the right
# token, and valid requests from nobody (401 or a public answer, both as documented)
RUNS = {
    "positive": (GenerationMode.POSITIVE, "token", 25),
    "negative": (GenerationMode.NEGATIVE, "token", 25),
    "anonymous": (GenerationMode.POSITIVE, None, 5),
}


def fuzz(operation, base: str, mode: GenerationMode, headers: dict[str, str], examples: int) -> int:
    """Call ``operation`` with up to ``examples`` generated requests, validating each answer
    (no 5xx, status, content type, body and headers as documented); the number of calls."""
    calls = []

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def run(case):
        calls.append(case)
        # a valid request may still name an object that does not exist (404 is right then)
        case.call_and_validate(base_url=base, headers=headers, excluded_checks=[positive_data_acceptance],
                               timeout=30)

    run()
    return len(calls)


@pytest.mark.parametrize("run", list(RUNS))
@pytest.mark.parametrize("label", _operation_labels())
def test_no_operation_answers_5xx_or_outside_its_schema(label, run, api_schema, fuzz_server):
    base, rules, admin_token, sign_token = fuzz_server
    mode, who, examples = RUNS[run]
    operation = api_schema.find_operation_by_label(label)
    if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()) and not list(operation.body):
        pytest.skip(f"{label} takes no parameters or body to make invalid")
    rule = rules.get((operation.method.upper(), operation.path), "none")
    token = sign_token if rule == "sign" else admin_token
    headers = {"Authorization": f"Bearer {token}"} if who else {}
    assert fuzz(operation, base, mode, headers, examples) > 0, f"schemathesis generated no request for {label}"


def test_the_fuzz_fails_on_a_5xx_and_on_an_undocumented_answer(fuzz_server):
    """The checks bite: a route answering 500, and one answering outside its documented schema."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel

    class Shape(BaseModel):
        n: int

    bad = FastAPI()

    @bad.get("/boom", response_model=Shape)
    def boom() -> JSONResponse:
        return JSONResponse({"error": "x"}, status_code=500)

    @bad.get("/off", response_model=Shape)
    def off() -> JSONResponse:
        return JSONResponse({"n": "not a number"})

    with running(bad) as base:
        bad_schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        for label in ("GET /boom", "GET /off"):
            with pytest.raises(BaseException) as caught:  # schemathesis raises a BaseExceptionGroup
                fuzz(bad_schema.find_operation_by_label(label), base, GenerationMode.POSITIVE, {}, 3)
            text = "".join(traceback.format_exception(caught.value))
            expected = "Server error" if label == "GET /boom" else "Response violates schema"
            assert expected in text, text


def test_the_fuzz_covers_every_route_of_the_app(fuzz_server, api_schema):
    """Every API route is in the schema (and so fuzzed), each with an access rule."""
    _base, rules, _, _ = fuzz_server
    in_schema = {(op.method.upper(), op.path) for op in (r.ok() for r in api_schema.get_all_operations())}
    assert {("GET", "/healthz"), ("GET", "/api/v1/sites"), ("GET", "/metrics")} <= in_schema
    # the API, not the HTML pages (api/pages: server-rendered, tested in a browser, not in the schema)
    app_routes = {k for k in rules if k[0] != "HEAD" and k[1].startswith(("/api/", "/healthz", "/metrics"))}
    assert app_routes <= in_schema, f"routes missing from the OpenAPI schema: {sorted(app_routes - in_schema)}"
    assert all(rules[k] != "none" for k in in_schema if k in rules), "an operation has no access rule"
