"""Admins in a real headless Chromium: add a person with a role and scope, see the change in the
audit log, filter the log by who, what and when, disable the person and reset a password; a
refused addition shown on the form; only admins see these pages (navigation and typed URL);
screenshots at desktop and 390 px; axe-core without serious or critical violations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from pages_behind_login import CHROMIUM, Site, axe_violations, context, launch, module_site, shoot, submit, watch_errors

from api.sessions import COOKIE

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")


@pytest.fixture(scope="module")
def site(server_url, template_db) -> Iterator[Site]:
    yield from module_site(server_url, template_db)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from launch()


def test_an_admin_adds_a_person_and_finds_it_in_the_audit_log(browser, site):
    ctx = context(browser, site, "admin")
    page = ctx.new_page()
    errors = watch_errors(page)
    assert page.goto(f"{site.base}/admin/users?lang=en").status == 200
    page.fill("#email", "Ny.Tekniker@Angsvik.se")
    page.fill("#name", "Ny Tekniker")
    page.select_option("#role", "technician")
    page.select_option("#scope", f"m:{site.world.mun_a}")
    page.fill("#password", "a long enough password")
    submit(page, "button:has-text('Add')")
    assert re.search(r"/admin/users/\d+\?done=added$", page.url), page.url
    user_id = int(re.search(r"/admin/users/(\d+)", page.url).group(1))
    assert page.locator("h1").inner_text() == "ny.tekniker@angsvik.se"
    assert page.locator("#role").input_value() == "technician"
    assert page.locator("#scope").input_value() == f"m:{site.world.mun_a}"
    shoot(page, "admin-user-desktop")
    # the new person can log in with that password (the real login route)
    r = httpx.post(f"{site.base}/api/v1/sessions", json={"email": "ny.tekniker@angsvik.se",
                                                          "password": "a long enough password"}, timeout=20)
    assert r.status_code in (200, 201), r.text
    # the same e-mail again is refused on the form, with what was typed kept
    page.goto(f"{site.base}/admin/users")
    page.fill("#email", "ny.tekniker@angsvik.se")
    page.select_option("#role", "viewer")
    page.select_option("#scope", f"m:{site.world.mun_a}")
    submit(page, "button:has-text('Add')")
    assert "exists already" in page.locator(".error").inner_text()
    assert page.locator("#email").input_value() == "ny.tekniker@angsvik.se"
    # disable, then reset the password
    page.goto(f"{site.base}/admin/users/{user_id}")
    page.select_option("#active", "0")
    submit(page, "button:has-text('Save')")
    assert page.locator(".done").inner_text() == "The change has been saved."
    assert page.locator("#active").input_value() == "0"
    page.fill("#password", "another long password")
    submit(page, "button:has-text('Set the password')")
    assert "password has been set" in page.locator(".done").inner_text()
    # the audit log: everything above, filtered by who, what and when
    page.goto(f"{site.base}/admin/audit")
    actions = page.locator("table.audit tbody tr td:nth-child(3)").all_inner_texts()
    assert {"user.add", "user.disable", "user.password"} <= set(actions)
    page.fill("#f-actor", "admin@angsvik.se")
    page.fill("#f-action", "user.")
    today = datetime.now(ZoneInfo("Europe/Stockholm")).date().isoformat()  # the default time zone's day
    page.fill("#f-from", today)
    page.fill("#f-to", today)
    submit(page, "button:has-text('Show')")
    rows = page.locator("table.audit tbody tr").all_inner_texts()
    assert len(rows) == 3 and all("admin@angsvik.se" in r for r in rows), rows
    assert [r.split("\t")[2] for r in rows] == ["user.password", "user.disable", "user.add"]
    assert "ny.tekniker@angsvik.se" in rows[-1]
    assert "actor=admin%40angsvik.se" in page.url
    shoot(page, "admin-audit-desktop")
    page.fill("#f-from", "2000-01-01")
    page.fill("#f-to", "2000-01-02")
    submit(page, "button:has-text('Show')")
    assert page.locator("table.audit tbody").inner_text().strip() == "No rows match the filter."
    page.fill("#f-from", "2000-01-03")
    submit(page, "button:has-text('Show')")  # to before from: the reason, not a crash
    assert "must be after" in page.locator(".error").inner_text()
    assert errors == []
    ctx.close()


def test_admin_pages_at_both_sizes_pass_axe(browser, site):
    for size in ("desktop", "phone"):
        ctx = context(browser, site, "admin", size)
        page = ctx.new_page()
        for name, path in (("users", "/admin/users"), ("user", f"/admin/users/{site.world.users['viewer'].id}"),
                           ("audit", "/admin/audit")):
            assert page.goto(f"{site.base}{path}?lang=sv").status == 200
            assert page.locator("html").get_attribute("lang") == "sv"
            shoot(page, f"admin-{name}-sv-{size}")
            assert axe_violations(page) == [], (name, size)
        ctx.close()


def test_only_admins_see_the_admin_pages(browser, site):
    paths = ("/admin/users", f"/admin/users/{site.world.users['viewer'].id}", "/admin/audit")
    expect = {None: 401, "viewer": 403, "officer": 403, "technician": 403, "other_viewer": 403, "admin": 200}
    for persona, status in expect.items():
        ctx = context(browser, site, persona)
        page = ctx.new_page()
        for path in paths:
            assert page.goto(f"{site.base}{path}?lang=en").status == status, (persona, path)
        page.goto(f"{site.base}/tech/fleet?lang=en")
        nav = page.locator("header nav").inner_text()
        assert ("People" in nav and "Audit log" in nav) == (persona == "admin"), (persona, nav)
        ctx.close()
    # a form posted without the CSRF token is refused, and nothing is added
    cookie = site.cookie("admin")[0]["value"]
    r = httpx.post(f"{site.base}/admin/users", data={"email": "x@y.se", "role": "admin"},
                   headers={"cookie": f"{COOKIE}={cookie}"}, timeout=20)
    assert r.status_code == 403
    with psycopg.connect(site.url) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE email = 'x@y.se'").fetchone()[0] == 0
