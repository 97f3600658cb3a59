"""Logging in, sessions, CSRF, throttling, personal tokens and the audit log, over a real
uvicorn server (and two `fartkoll serve` processes) on a real database."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from people import PASSWORD, make_world
from servers import free_port, running

from api import throttle
from api.app import create_app
from fartkoll.settings import Settings

V1 = "/api/v1"


@pytest.fixture
def world(db):
    return make_world(db)


@pytest.fixture
def base(db_url, world):
    with running(create_app(Settings(database_url=db_url))) as url:
        yield url


def _login(http: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return http.post(f"{V1}/sessions", json={"email": email, "password": password})


def _logged_in(base: str, email: str) -> tuple[httpx.Client, str]:
    """A client holding the session and CSRF cookies of a fresh JSON login, and its CSRF token."""
    http = httpx.Client(base_url=base, timeout=20)
    r = _login(http, email)
    assert r.status_code == 201, r.text
    return http, r.json()["csrf_token"]


def test_json_login_sets_an_httponly_lax_cookie_and_me_answers(base, world, db):
    with httpx.Client(base_url=base, timeout=20) as http:
        r = _login(http, "Viewer@Angsvik.se")  # e-mail without case
        assert r.status_code == 201, r.text
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("fartkoll_session="))
        attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "path", "max-age", "samesite"} <= attrs and "secure" not in attrs
        assert "samesite=lax" in cookie.lower()
        body = r.json()
        assert body["user"]["email"] == "viewer@angsvik.se" and body["user"]["role"] == "viewer"
        assert body["session"]["current"] and body["csrf_token"] == http.cookies["csrftoken"]
        me = http.get(f"{V1}/me")
        assert me.status_code == 200
        assert me.json()["user"]["municipality"] == "Ängsvik" and me.json()["session_id"] == body["session"]["id"]
    # only the hash of the cookie's id is stored
    secret = http.cookies.get("fartkoll_session") or cookie.split(";")[0].split("=", 1)[1]
    stored = db.execute("SELECT id_hash FROM sessions").fetchall()
    assert len(stored) == 1 and bytes(stored[0][0]) != secret.encode()


def test_cookies_are_secure_when_the_site_is_behind_https(db_url, world):
    with running(create_app(Settings(database_url=db_url, api={"https": True}))) as url:
        r = httpx.post(f"{url}{V1}/sessions", json={"email": "admin@angsvik.se", "password": PASSWORD}, timeout=20)
    assert r.status_code == 201
    cookies = r.headers.get_list("set-cookie")
    assert len(cookies) == 2 and all("Secure" in c for c in cookies)


def test_wrong_password_unknown_email_and_disabled_account_answer_401_alike(base, world, db):
    with httpx.Client(base_url=base, timeout=20) as http:
        answers = [_login(http, "viewer@angsvik.se", "wrong password!"), _login(http, "nobody@angsvik.se")]
        db.execute("UPDATE users SET active = false WHERE email = 'tech@angsvik.se'")
        db.commit()
        answers.append(_login(http, "tech@angsvik.se"))
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert len({a.json()["detail"] for a in answers}) == 1
    assert "fartkoll_session" not in str([a.headers.get_list("set-cookie") for a in answers])
    reasons = [r[0] for r in db.execute(
        "SELECT detail->>'reason' FROM audit_log WHERE action = 'session.login_failed' ORDER BY id")]
    assert reasons == ["wrong password", "unknown e-mail", "disabled"]


def test_form_login_needs_the_csrf_field_and_redirects_to_a_local_page(base, world):
    with httpx.Client(base_url=base, timeout=20) as http:
        form = {"email": "officer@polisen.se", "password": PASSWORD, "next": "/officer/ranking"}
        # a form from nowhere (login CSRF): refused even without cookies
        r = http.post(f"{V1}/sessions", data=form)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        assert "fartkoll_session" not in http.cookies
        # the CSRF cookie comes with a page (here: an answer that asks for the token)
        viewer, _ = _logged_in(base, "viewer@angsvik.se")
        csrf = viewer.cookies["csrftoken"]
        http.cookies.set("csrftoken", csrf)
        r = http.post(f"{V1}/sessions", data=form)
        assert r.status_code == 403
        r = http.post(f"{V1}/sessions", data={**form, "csrftoken": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/officer/ranking"
        assert http.get(f"{V1}/me").json()["user"]["role"] == "officer"
        # no open redirect
        r = http.post(f"{V1}/sessions", data={**form, "next": "//evil.example/x", "csrftoken": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/"
        viewer.close()


def test_cookie_requests_need_the_csrf_token_and_bearer_requests_do_not(base, world):
    http, csrf = _logged_in(base, "tech@angsvik.se")
    with closing(http):
        refused = http.post(f"{V1}/tokens", json={"label": "forged"})
        assert refused.status_code == 403 and "X-CSRFToken" in refused.json()["detail"]
        assert http.request("DELETE", f"{V1}/sessions/current").status_code == 403
        wrong = http.post(f"{V1}/tokens", json={"label": "x"}, headers={"x-csrftoken": csrf[:-2] + "xx"})
        assert wrong.status_code == 403
        # a token with characters outside ASCII is a wrong token too (not a server error)
        odd = http.post(f"{V1}/tokens", json={"label": "x"}, headers={"x-csrftoken": "åäö".encode("latin-1")})
        assert odd.status_code == 403
        odd = http.post(f"{V1}/sessions/current/logout", data={"csrftoken": "ö"})
        assert odd.status_code == 403 and odd.headers["content-type"] == "application/problem+json"
        r = http.post(f"{V1}/tokens", json={"label": "export script"}, headers={"x-csrftoken": csrf})
        assert r.status_code == 201
        token = r.json()["token"]
        assert token.startswith("fkp_")
        assert [t["label"] for t in http.get(f"{V1}/tokens").json()] == ["export script"]
    # a script with the token: no cookies, no CSRF token
    with httpx.Client(base_url=base, timeout=20, headers={"authorization": f"Bearer {token}"}) as script:
        r = script.post(f"{V1}/tokens", json={"label": "made by a script"})
        assert r.status_code == 201
        assert script.get(f"{V1}/me").json()["user"]["email"] == "tech@angsvik.se"


def test_logout_and_revoked_sessions_stop_working_at_once(base, world):
    first, csrf1 = _logged_in(base, "admin@angsvik.se")
    second, _ = _logged_in(base, "admin@angsvik.se")
    with closing(first), closing(second):
        sessions = first.get(f"{V1}/sessions").json()
        assert len(sessions) == 2 and sum(s["current"] for s in sessions) == 1
        other = next(s["id"] for s in sessions if not s["current"])
        assert first.delete(f"{V1}/sessions/{other}", headers={"x-csrftoken": csrf1}).status_code == 204
        assert second.get(f"{V1}/me").status_code == 401
        assert first.delete(f"{V1}/sessions/{other}", headers={"x-csrftoken": csrf1}).status_code == 404
        r = first.delete(f"{V1}/sessions/current", headers={"x-csrftoken": csrf1})
        assert r.status_code == 204 and "fartkoll_session=" in r.headers["set-cookie"]
        assert first.get(f"{V1}/me").status_code == 401
        # a stale cookie is anonymity on public routes, not an error
        assert first.get(f"{V1}/sites").status_code == 200
    # logging out from an HTML form: the csrftoken field, a redirect, the cookie cleared
    third, csrf3 = _logged_in(base, "admin@angsvik.se")
    with closing(third):
        assert third.post(f"{V1}/sessions/current/logout", data={}).status_code == 403
        r = third.post(f"{V1}/sessions/current/logout", data={"csrftoken": csrf3})
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert third.get(f"{V1}/me").status_code == 401


def test_revoked_token_and_disabled_user_stop_working_at_once(base, world, db):
    http, csrf = _logged_in(base, "admin@angsvik.se")
    with closing(http):
        made = http.post(f"{V1}/tokens", json={"label": "cron"}, headers={"x-csrftoken": csrf}).json()
        bearer = {"authorization": f"Bearer {made['token']}"}
        assert httpx.get(f"{base}{V1}/users", headers=bearer).status_code == 200
        assert http.delete(f"{V1}/tokens/{made['id']}", headers={"x-csrftoken": csrf}).status_code == 204
        assert httpx.get(f"{base}{V1}/users", headers=bearer).status_code == 401
        # disabling a user ends their sessions and tokens
        viewer, vcsrf = _logged_in(base, "viewer@angsvik.se")
        vtoken = viewer.post(f"{V1}/tokens", json={}, headers={"x-csrftoken": vcsrf}).json()["token"]
        uid = world.users["viewer"].id
        r = http.patch(f"{V1}/users/{uid}", json={"active": False}, headers={"x-csrftoken": csrf})
        assert r.status_code == 200 and r.json()["active"] is False
        assert viewer.get(f"{V1}/me").status_code == 401
        assert httpx.get(f"{base}{V1}/me", headers={"authorization": f"Bearer {vtoken}"}).status_code == 401
        assert _login(httpx.Client(base_url=base), "viewer@angsvik.se").status_code == 401
        viewer.close()
    revoked = db.execute("SELECT count(*) FROM api_tokens WHERE user_id = %s AND revoked_at IS NOT NULL",
                         (uid,)).fetchone()[0]
    assert revoked == 1


def test_throttling_answers_429_with_retry_after_per_account_and_per_address(base, world, db):
    with httpx.Client(base_url=base, timeout=20) as http:
        codes = [_login(http, "officer@polisen.se", f"wrong guess {i}").status_code for i in range(5)]
        assert codes == [401] * 5
        r = _login(http, "officer@polisen.se")  # even the right password now waits
        assert r.status_code == 429
        assert 850 <= int(r.headers["retry-after"]) <= 900
        assert "officer" not in r.text or "account" in r.json()["detail"]
        # another account from the same address still may
        assert _login(http, "tech@angsvik.se").status_code == 201
        http.cookies.clear()  # a client with cookies would need the CSRF header from now on
        # once the failures leave the window, the account may log in again
        db.execute("UPDATE login_failures SET at = at - interval '16 minutes' WHERE email = 'officer@polisen.se'")
        db.commit()
        assert _login(http, "officer@polisen.se").status_code == 201
        http.cookies.clear()
        # per address: 20 failures over many accounts
        for i in range(throttle.LIMITS.per_address - 5):
            assert _login(http, f"guess{i}@angsvik.se", "nope nope nope").status_code == 401
        db.execute("INSERT INTO login_failures (email, address) SELECT 'x' || g || '@a.se', '127.0.0.1' "
                   "FROM generate_series(1, 5) g")
        db.commit()
        r = _login(http, "admin@angsvik.se")
        assert r.status_code == 429 and "address" in r.json()["detail"]


def test_concurrent_guesses_cannot_pass_the_throttle_together(base, world):
    """Ten wrong guesses at once for one account: five are counted, the rest wait (429)."""
    from concurrent.futures import ThreadPoolExecutor

    def guess(i: int) -> int:
        return httpx.post(f"{base}{V1}/sessions", json={"email": "admin@angsvik.se", "password": f"guess number {i}"},
                          timeout=30).status_code

    with ThreadPoolExecutor(10) as pool:
        codes = sorted(pool.map(guess, range(10)))
    assert codes == [401] * 5 + [429] * 5


def test_a_user_with_the_early_planner_role_acts_as_a_viewer(base, world, db):
    db.execute("UPDATE users SET role = 'planner' WHERE email = 'viewer@angsvik.se'")
    db.commit()
    http, _ = _logged_in(base, "viewer@angsvik.se")
    with closing(http):
        assert http.get(f"{V1}/me").status_code == 200
        assert http.get(f"{V1}/users").status_code == 403


def test_throttle_counts_are_shared_through_the_database(db, db_url, world):
    now = datetime.now(UTC)
    for _ in range(4):
        throttle.failed(db, "a@b.se", "10.0.0.1", now=now)
    db.commit()
    throttle.check(db, "a@b.se", "10.0.0.2", now=now)  # 4 of 5: still allowed
    with psycopg.connect(db_url) as other:  # another process's connection
        throttle.failed(other, "a@b.se", "10.0.0.3", now=now)
        other.commit()
    with pytest.raises(throttle.LoginThrottled) as e:
        throttle.check(db, "a@b.se", "10.0.0.4", now=now + timedelta(minutes=1))
    assert e.value.status == 429 and e.value.retry_after == 14 * 60


def test_admin_manages_users_and_the_audit_log_records_who(base, world, db):
    http, csrf = _logged_in(base, "admin@angsvik.se")
    h = {"x-csrftoken": csrf}
    with closing(http):
        r = http.post(f"{V1}/users", headers=h, json={"email": "Ny@Bergby.se", "role": "viewer",
                                                     "municipality_id": world.mun_b, "password": "ett långt lösenord"})
        assert r.status_code == 201 and r.json()["email"] == "ny@bergby.se" and r.json()["municipality"] == "Bergby"
        new_id = r.json()["id"]
        dup = http.post(f"{V1}/users", headers=h, json={"email": "ny@bergby.se", "role": "admin"})
        assert dup.status_code == 409
        bad = http.post(f"{V1}/users", headers=h, json={"email": "x@y.se", "role": "officer", "password": "short"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "police_area_id"
        assert "short" not in bad.text
        r = http.patch(f"{V1}/users/{new_id}", headers=h, json={"role": "officer", "police_area_id": world.police_area})
        assert r.status_code == 200 and (r.json()["role"], r.json()["police_area"]) == ("officer", "LPO Norr")
        assert r.json()["municipality_id"] is None
        r = http.put(f"{V1}/users/{new_id}/password", headers=h, json={"password": "ett annat långt lösenord"})
        assert r.status_code == 200
        # the last admin stays
        me = world.users["admin"].id
        assert http.patch(f"{V1}/users/{me}", headers=h, json={"active": False}).status_code == 409
        assert http.get(f"{V1}/users").status_code == 200
        audit = http.get(f"{V1}/audit", params={"actor": "admin@angsvik.se", "entity": "user"}).json()
        assert [a["action"] for a in audit] == ["user.password", "user.update", "user.add"]
        assert all(a["entity_id"] == str(new_id) for a in audit)
        logins = http.get(f"{V1}/audit", params={"action": "session."}).json()
        assert [a["action"] for a in logins] == ["session.login"]
        later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        assert http.get(f"{V1}/audit", params={"from": later}).json() == []
        assert http.get(f"{V1}/audit", params={"from": later, "to": later}).status_code == 422
    viewer, _ = _logged_in(base, "viewer@angsvik.se")
    with closing(viewer):
        assert viewer.get(f"{V1}/audit").status_code == 403
    # who: the person's e-mail, never an OS account
    actors = {r[0] for r in db.execute("SELECT DISTINCT actor FROM audit_log")}
    assert actors <= {"test", "admin@angsvik.se", "viewer@angsvik.se", "anonymous"}
    assert os.environ.get("USER", "root") not in actors


def test_own_password_change_needs_the_current_one_and_ends_other_sessions(base, world):
    first, csrf = _logged_in(base, "tech@angsvik.se")
    second, _ = _logged_in(base, "tech@angsvik.se")
    with closing(first), closing(second):
        r = first.put(f"{V1}/me/password", headers={"x-csrftoken": csrf},
                      json={"current_password": "not it at all", "new_password": "ett nytt långt lösenord"})
        assert r.status_code == 422 and "not it" not in r.text
        r = first.put(f"{V1}/me/password", headers={"x-csrftoken": csrf},
                      json={"current_password": PASSWORD, "new_password": "ett nytt långt lösenord"})
        assert r.status_code == 200
        assert first.get(f"{V1}/me").status_code == 200 and second.get(f"{V1}/me").status_code == 401
        fresh = httpx.Client(base_url=base, timeout=20)
        assert _login(fresh, "tech@angsvik.se").status_code == 401
        assert _login(fresh, "tech@angsvik.se", "ett nytt långt lösenord").status_code == 201
        fresh.close()


def _serve(db_url: str, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "FARTKOLL_DATABASE_URL": db_url}
    # one process each (as tests/serve_process.py): two servers are what the test is about
    return subprocess.Popen([sys.executable, "-m", "fartkoll.cli", "serve", "--port", str(port), "--workers", "1"],
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _wait_up(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "fartkoll serve exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def test_two_serve_processes_share_logins_and_no_secret_reaches_logs_or_the_database(
        db_url, world, db, tmp_path):
    ports = [free_port(), free_port()]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [_serve(db_url, p, log) for p, log in zip(ports, logs, strict=True)]
    try:
        a, b = (f"http://127.0.0.1:{p}" for p in ports)
        for url, proc in zip((a, b), procs, strict=True):
            _wait_up(url, proc)
        with httpx.Client(base_url=a, timeout=20) as at_a:
            r = _login(at_a, "officer@polisen.se")
            assert r.status_code == 201
            csrf = r.json()["csrf_token"]
            cookies = dict(at_a.cookies)
        with httpx.Client(base_url=b, timeout=20, cookies=cookies) as at_b:
            assert at_b.get(f"{V1}/me").json()["user"]["email"] == "officer@polisen.se"
            # the CSRF token from server A is good at server B (the signing key is shared)
            made = at_b.post(f"{V1}/tokens", json={"label": "b"}, headers={"x-csrftoken": csrf})
            assert made.status_code == 201
            token = made.json()["token"]
            assert at_b.delete(f"{V1}/sessions/current", headers={"x-csrftoken": csrf}).status_code == 204
        with httpx.Client(base_url=a, timeout=20, cookies=cookies) as again_a:
            assert again_a.get(f"{V1}/me").status_code == 401  # logged out at B: out at A too
        assert httpx.get(f"{a}{V1}/me", headers={"authorization": f"Bearer {token}"}).status_code == 200
        assert _login(httpx.Client(base_url=b), "officer@polisen.se", "a wrong password").status_code == 401
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(15)
    secrets = [PASSWORD, "a wrong password", token, cookies["fartkoll_session"]]
    text = "\n".join(log.read_text(errors="replace") for log in logs)
    assert "POST /api/v1/sessions" in text  # the servers' logs were captured
    assert [s for s in secrets if s in text] == []
    # nothing in any table holds a password, token or session id in the clear
    tables = [r[0] for r in db.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")]
    found = []
    for t in tables:
        dump = "\n".join(r[0] for r in db.execute(f'SELECT t::text FROM "{t}" t'))
        found += [(t, s[:6]) for s in secrets if s in dump]
    assert found == []
    hashes = [r[0] for r in db.execute("SELECT password_hash FROM users")]
    assert all(h.startswith("$argon2id$") for h in hashes)


@contextmanager
def _debug_server(app):
    """Like servers.running, but uvicorn logs at DEBUG through the root logger (no config of its
    own, so access lines propagate to pytest's capture)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="debug", log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_server_side_logs_at_debug_hold_no_password_token_or_session_id(db_url, world, caplog):
    """The in-process server's loggers (uvicorn, the app, psycopg) at DEBUG; the test's own
    HTTP client logs what it receives and is left out."""
    caplog.set_level(logging.DEBUG)
    with _debug_server(create_app(Settings(database_url=db_url))) as url:
        http, csrf = _logged_in(url, "admin@angsvik.se")
        with closing(http):
            token = http.post(f"{V1}/tokens", json={"label": "t"}, headers={"x-csrftoken": csrf}).json()["token"]
            assert httpx.get(f"{url}{V1}/me", headers={"authorization": f"Bearer {token}"}).status_code == 200
            assert _login(httpx.Client(base_url=url), "admin@angsvik.se", "the wrong one!").status_code == 401
            secret = http.cookies["fartkoll_session"]
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    text = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in server_side)
    assert "POST /api/v1/sessions" in text  # the access log was captured
    assert [s for s in (PASSWORD, "the wrong one!", token, secret) if s in text] == []
