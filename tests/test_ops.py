"""Operations: /metrics, structured logs without secrets, /docs with no internet, `fartkoll serve`
(prints once bound, a taken port is one line and exit 2, in-flight requests finish on SIGTERM)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Request
from prometheus_client.parser import text_string_to_metric_families
from servers import free_port, running

from api import logs
from api.app import create_app
from api.deps import Open
from collector.tokens import PERSONAL_PREFIX, hash_token, new_token
from fartkoll.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "api" / "static" / "vendor" / "swagger-ui"


def _with_test_routes(app):
    """A route with a path parameter, and one that carelessly logs every request header."""
    r = APIRouter()

    @r.get("/things/{thing_id}")
    def thing(thing_id: int, _: Open) -> dict:
        return {"id": thing_id}

    @r.get("/careless")
    def careless(request: Request, _: Open) -> dict:
        logging.getLogger("fartkoll.test").warning("headers were %s", request.headers)
        return {}

    app.include_router(r, prefix="/api/v1")
    return app


def _samples(text: str, name: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def _admin_token(db) -> str:
    token = new_token(PERSONAL_PREFIX)
    user = db.execute("INSERT INTO users (email, role) VALUES ('ops@example.se', 'admin') RETURNING id").fetchone()[0]
    db.execute("INSERT INTO api_tokens (user_id, token_hash) VALUES (%s, %s)", (user, hash_token(token)))
    db.commit()
    return token


# --- /metrics ----------------------------------------------------------------------------------

def test_metrics_count_requests_per_route_template_and_status_class_and_show_the_pool(db_url):
    app = _with_test_routes(create_app(Settings(database_url=db_url)))
    with running(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        before = _samples(http.get("/metrics").text, "fartkoll_http_request_duration_seconds_count")
        for thing in (17, 23, 99):
            assert http.get(f"/api/v1/things/{thing}").status_code == 200
        assert http.get("/api/v1/things/not-a-number").status_code == 422
        assert [http.get("/healthz").status_code for _ in range(2)] == [200, 200]
        assert http.get("/no/such/path/42").status_code == 404
        text = http.get("/metrics").text
    after = _samples(text, "fartkoll_http_request_duration_seconds_count")

    def added(route: str, status: str) -> float:
        key = (("method", "GET"), ("route", route), ("status", status))
        return after.get(key, 0) - before.get(key, 0)

    assert added("/api/v1/things/{thing_id}", "2xx") == 3
    assert added("/api/v1/things/{thing_id}", "4xx") == 1
    assert added("/healthz", "2xx") == 2
    assert added("unmatched", "4xx") == 1
    routes = {dict(k)["route"] for k in after}
    assert not any(re.search(r"/\d+$|not-a-number|/no/such", r) for r in routes), routes  # never raw paths
    # pool usage from psycopg_pool's get_stats(): the pool holds at least its minimum of 1
    pool = {f.name: f.samples[0].value for f in text_string_to_metric_families(text) if f.name.startswith("fartkoll_db_pool")}
    from api.ingest.admission import OTHER_ROUTES, UPLOADS  # the ingest routes grow the pool to fit their uploads
    assert pool["fartkoll_db_pool_size"] >= 1 and pool["fartkoll_db_pool_max"] == max(10, UPLOADS + OTHER_ROUTES)
    assert pool["fartkoll_db_pool_waiting"] == 0
    assert 0 <= pool["fartkoll_db_pool_available"] <= pool["fartkoll_db_pool_size"]
    assert pool["fartkoll_db_pool_requests"] >= 2  # one for each /healthz
    assert "# TYPE fartkoll_ingest_passes_total counter" in text or "# TYPE fartkoll_ingest_passes counter" in text


def test_ingest_counter_is_importable_and_counts_per_sign_and_outcome(db_url):
    from api.metrics import INGEST_PASSES

    INGEST_PASSES.labels(sign="SN-OPS", outcome="accepted").inc(7)
    INGEST_PASSES.labels(sign="SN-OPS", outcome="duplicate").inc(2)
    with running(create_app(Settings(database_url=db_url))) as base:
        text = httpx.get(f"{base}/metrics", timeout=10).text
    counts = _samples(text, "fartkoll_ingest_passes_total")
    assert counts[(("outcome", "accepted"), ("sign", "SN-OPS"))] >= 7
    assert counts[(("outcome", "duplicate"), ("sign", "SN-OPS"))] >= 2


def test_metrics_survive_several_apps_in_one_process(db_url):
    apps = [create_app(Settings(database_url=db_url)) for _ in range(3)]
    for app in apps:
        with running(app) as base:
            r = httpx.get(f"{base}/metrics", timeout=10)
            assert r.status_code == 200 and "fartkoll_db_pool_size" in r.text
            assert r.text.count("# TYPE fartkoll_db_pool_size gauge") == 1


def test_metrics_for_admins_only_when_not_public(db, db_url):
    token = _admin_token(db)
    app = create_app(Settings(database_url=db_url, api={"metrics_public": False}))
    with running(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        anonymous = http.get("/metrics")
        admin = http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"
    assert admin.status_code == 200 and "fartkoll_http_request_duration_seconds" in admin.text


# --- logs --------------------------------------------------------------------------------------

@pytest.fixture
def captured():
    """Configure Fartkoll's logging into a buffer for one test, then remove it."""
    handlers = []

    def configure(fmt: str) -> io.StringIO:
        buf = io.StringIO()
        handlers.append(logs.configure(fmt, stream=buf))
        return buf

    yield configure
    for h in handlers:
        logging.getLogger().removeHandler(h)


SECRET = new_token(PERSONAL_PREFIX)
COOKIE = "fk_session=2b7c0f6a9d14e3b8a5c7d9e0f1a2b3c4"


def test_json_logs_carry_request_fields_and_never_tokens_or_cookies(db_url, captured):
    buf = captured("json")
    app = _with_test_routes(create_app(Settings(database_url=db_url)))
    with running(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        headers = {"Authorization": f"Bearer {SECRET}", "Cookie": COOKIE, "X-Request-ID": "req-test-1"}
        r = http.get("/api/v1/careless", headers={"Cookie": COOKIE, "X-Request-ID": "req-test-1"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "req-test-1"
        bad = http.get("/api/v1/sites", headers=headers)  # an unknown token: 401, logged
        assert bad.status_code == 401
        r = http.get("/api/v1/things/5?token=" + SECRET, headers={"Authorization": f"Bearer {SECRET}"})
        generated = r.headers["x-request-id"]
    time.sleep(0.2)
    text = buf.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(x) for x in lines)
    access = [x for x in lines if x["logger"] == "fartkoll.access"]
    by_route = {x["route"]: x for x in access}
    sites = by_route["/api/v1/sites"]
    assert sites["method"] == "GET" and sites["status"] == 401 and sites["request_id"] == "req-test-1"
    assert isinstance(sites["duration_ms"], float) and sites["duration_ms"] >= 0
    assert by_route["/api/v1/things/{thing_id}"]["request_id"] == generated and len(generated) == 32
    careless = next(x for x in lines if x["logger"] == "fartkoll.test")
    assert careless["request_id"] == "req-test-1" and "[redacted]" in careless["message"]
    assert SECRET not in text and SECRET.split("_", 1)[1] not in text
    assert COOKIE.split("=", 1)[1] not in text


def test_text_logs_redact_too(db_url, captured):
    buf = captured("text")
    app = _with_test_routes(create_app(Settings(database_url=db_url)))
    with running(app) as base:
        httpx.get(f"{base}/api/v1/careless", headers={"Authorization": f"Bearer {SECRET}", "Cookie": COOKIE},
                  timeout=10)
    time.sleep(0.2)
    text = buf.getvalue()
    assert "GET /api/v1/careless 200" in text
    assert SECRET.split("_", 1)[1] not in text and COOKIE.split("=", 1)[1] not in text


@pytest.mark.parametrize("line, secret", [
    ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
    ("{'authorization': 'Basic dXNlcjpwdw==', 'accept': '*/*'}", "dXNlcjpwdw=="),
    ("set-cookie: fk_session=s3cr3t; HttpOnly", "s3cr3t"),
    ('{"password": "hunter2", "email": "a@b.se"}', "hunter2"),
    ("login failed password=hunter2&email=a@b.se", "hunter2"),
    ("connecting to postgresql://fartkoll:pa55word@db:5432/fartkoll", "pa55word"),
    (f"sign token {'fks_' + 'Q' * 43} issued", "Q" * 43),
])
def test_redact_blanks_each_kind_of_secret(line, secret):
    out = logs.redact(line)
    assert secret not in out and "[redacted]" in out


def test_redact_leaves_ordinary_lines_alone():
    line = "GET /api/v1/sites/{site_id} 200 3.2 ms; 50 passes accepted for sign SN-1"
    assert logs.redact(line) == line


# --- /docs -------------------------------------------------------------------------------------

def test_docs_are_served_from_the_package_with_no_other_origin(db_url):
    with running(create_app(Settings(database_url=db_url))) as base, httpx.Client(base_url=base, timeout=10) as http:
        page = http.get("/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        html = page.text
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.IGNORECASE), "a URL of another origin in /docs"
        assert "cdn" not in html.lower() and "validatorUrl\": null" in html
        refs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert len(refs) == 3 and all(r.startswith("/static/vendor/swagger-ui/") for r in refs), refs
        for ref in refs:
            asset = http.get(ref)
            assert asset.status_code == 200
            assert asset.content == (VENDOR / ref.rsplit("/", 1)[1]).read_bytes()
        js = next(r for r in refs if r.endswith(".js"))
        assert "javascript" in http.get(js).headers["content-type"]
        assert http.get("/openapi.json").json()["info"]["title"] == "Fartkoll"
        assert http.get("/redoc").status_code == 404  # ReDoc is not vendored, so not offered
        assert http.get("/static/vendor/swagger-ui/").status_code == 404
        assert http.get("/static/%2e%2e/app.py").status_code == 404
        assert http.get("/static/vendor/swagger-ui/%2e%2e/%2e%2e/%2e%2e/app.py").status_code == 404


def test_vendored_swagger_ui_carries_its_licence_and_version_and_ships_in_the_wheel():
    assert "Apache License" in (VENDOR / "LICENSE").read_text()
    notice = (VENDOR / "NOTICE").read_text()
    version = re.search(r"swagger-ui-dist (\d+\.\d+\.\d+)", notice).group(1)
    assert version.startswith("5.")
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"static/vendor/*/*"' in pyproject.split("[tool.setuptools.package-data]")[1].split("\n[")[0]


# --- fartkoll serve ----------------------------------------------------------------------------

def _env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FARTKOLL_")}
    env.update(FARTKOLL_DATABASE_URL=db_url, PYTHONUNBUFFERED="1", **extra)
    return env


def _fartkoll() -> list[str]:
    return [sys.executable, "-m", "fartkoll.cli"]


def test_serve_says_it_is_serving_only_once_the_port_answers(db_url):
    port = free_port()
    proc = subprocess.Popen([*_fartkoll(), "serve", "--port", str(port)], env=_env(db_url),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"serving on http://127.0.0.1:{port}/" in line
        # the moment it says so, the port answers (no retry)
        r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert proc.stdout.read().count("serving on") == 0  # said once


def test_serve_on_a_taken_port_is_one_line_and_exit_2(db_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([*_fartkoll(), "serve", "--port", str(port)], env=_env(db_url),
                              capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "serving" not in done.stdout
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0], done.stderr


SLOW_SERVER = """
import sys, time
from pathlib import Path
from fastapi import APIRouter
from api.app import create_app
from api.deps import Open
from fartkoll.serve import serve
from fartkoll.settings import Settings

settings = Settings.load()
app = create_app(settings)
r = APIRouter()

@r.get("/slow")
def slow(_: Open) -> dict:
    release = Path(sys.argv[2])  # the request runs until the test creates this file
    for _ in range(400):
        if release.exists():
            return {"finished": True}
        time.sleep(0.05)
    return {"finished": False}

app.include_router(r)
sys.exit(serve(settings, port=int(sys.argv[1]), app=app))
"""


def test_sigterm_lets_an_in_flight_request_finish(db_url, tmp_path):
    port = free_port()
    script = tmp_path / "slow_server.py"
    script.write_text(SLOW_SERVER)
    release = tmp_path / "release"
    proc = subprocess.Popen([sys.executable, str(script), str(port), str(release)], cwd=ROOT,
                            env=_env(db_url, FARTKOLL_API__SHUTDOWN_GRACE_S="10", FARTKOLL_API__LOG_FORMAT="json"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "serving on" in proc.stdout.readline()
        result: dict = {}

        def call() -> None:
            try:
                result["response"] = httpx.get(f"http://127.0.0.1:{port}/slow", timeout=30)
            except httpx.HTTPError as e:
                result["error"] = e

        t = threading.Thread(target=call)
        t.start()
        time.sleep(0.5)  # the request is being served: it runs until `release` exists
        proc.send_signal(signal.SIGTERM)
        refused = False
        for _ in range(100):  # the signal is handled within moments, however busy the machine
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
                refused = True  # refused, or reset by the closing listener
                break
            time.sleep(0.1)
        assert refused, "still accepting new connections 10 s after SIGTERM"
        assert t.is_alive() and proc.poll() is None  # refused while the request was in flight
        release.touch()
        t.join(30)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "error" not in result, result
    assert result["response"].status_code == 200 and result["response"].json() == {"finished": True}
    assert proc.returncode in (0, -signal.SIGTERM)
    err = proc.stderr.read()
    assert all(json.loads(x)["level"] for x in err.splitlines() if x.strip())  # JSON lines throughout


def test_serve_help_names_the_shutdown_setting():
    out = subprocess.run([*_fartkoll(), "serve", "--help"], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "api.shutdown_grace_s" in out and "--port" in out


def test_healthz_schema_documents_503(db_url):
    schema = create_app(Settings(database_url=db_url)).openapi()
    responses = schema["paths"]["/healthz"]["get"]["responses"]
    assert {"200", "503", "default"} <= set(responses)
    assert "HTTPValidationError" not in json.dumps(schema)


def test_unreachable_database_still_serves_metrics():
    app = create_app(Settings(database_url="postgresql://postgres@127.0.0.1:1/none"))
    with running(app) as base:
        r = httpx.get(f"{base}/metrics", timeout=15)
    assert r.status_code == 200 and "fartkoll_db_pool_size" in r.text


def test_settings_reject_an_unknown_log_format():
    from fartkoll.settings import SettingsError

    with pytest.raises(SettingsError, match="log_format"):
        Settings.load(api={"log_format": "xml"})

