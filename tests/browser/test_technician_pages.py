"""Technicians in a real headless Chromium: register a new sign, deploy it by picking its site on
the map, issue its token (shown once with the collector settings), then watch its first passes —
from a simulated sign on a pseudo-terminal read by the collector in edge mode, uploading through
the real ingest endpoint — arrive on the live page; the fleet sorted by trouble; a site's limits;
who may see these pages by navigation and by typed URL; screenshots at desktop and 390 px;
axe-core without serious or critical violations."""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest
from pages_behind_login import (
    CHROMIUM,
    Site,
    axe_violations,
    context,
    launch,
    module_site,
    shoot,
    submit,
    wait_until,
    watch_errors,
)

from fartkoll.demo_live import LiveSign

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")


@pytest.fixture(scope="module")
def site(server_url, template_db) -> Iterator[Site]:
    yield from module_site(server_url, template_db)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from launch()


def test_a_technician_brings_a_new_sign_online_and_watches_its_passes_arrive(browser, site, tmp_path):
    ctx = context(browser, site, "technician")
    page = ctx.new_page()
    errors = watch_errors(page)
    r = page.goto(f"{site.base}/tech/setup?lang=en")
    assert r.status == 200
    assert page.locator("h1").inner_text() == "Set up a sign"
    page.fill("#serial", "HR-NEW-1")
    page.select_option("#protocol", "houston-dr500")
    page.select_option("#unit", "kmh")
    page.fill("#vendor", "Houston Radar")
    page.fill("#configured_limit_kmh", "50")
    submit(page, "button:has-text('Register the sign')")
    assert re.search(r"/tech/signs/\d+$", page.url), page.url
    sign_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator("h1").inner_text() == "Sign HR-NEW-1"
    assert "not deployed" in page.locator(".facts").inner_text()
    # deploy: the site picked on the map fills the form's site field
    wait_until(page, "document.getElementById('pick-map').dataset.markers !== undefined")
    page.locator("#pick-map path.leaflet-interactive").first.click(force=True)
    assert page.locator("#site_id").input_value() == str(site.world.site_a)
    page.select_option("#display", "stealth")
    page.fill("#mount_angle_deg", "15")
    page.select_option("#approach_heading", "N")
    shoot(page, "tech-sign-deploy-desktop")
    submit(page, "button:text-is('Deploy')")
    facts = page.locator(".facts").inner_text()
    assert "Storgatan 1" in facts and "hidden measuring" in facts and "15°" in facts and "heading N" in facts
    # the token: shown once, with the settings snippet to paste
    submit(page, "button:has-text('Issue a token')")
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("fks_")
    toml = page.locator("#snippet-toml").inner_text()
    assert f'forward_token = "{token}"' in toml and 'sign_serial = "HR-NEW-1"' in toml
    assert 'protocol = "houston-dr500"' in toml and f'forward_url = "{site.base}"' in toml
    assert f"--token {token}" in page.locator("#snippet-command").inner_text()
    shoot(page, "tech-token-desktop")
    page.goto(f"{site.base}/tech/signs/{sign_id}")
    assert page.locator("#new-token").count() == 0  # shown once
    assert token not in page.content()
    # the live page, then the sign's first passes through the collector's forwarder
    page.goto(f"{site.base}/tech/signs/{sign_id}/live")
    wait_until(page, "document.getElementById('live-state').textContent.startsWith('Connected')")
    assert page.locator("#live-rows tr.empty").count() == 1
    live = LiveSign("HR-NEW-1", "houston-dr500", "kmh", site.base, token, tmp_path / "spool.sqlite3",
                    every_s=1.5, seed=7).start()
    try:
        wait_until(page, "Number(document.getElementById('live').dataset.received || 0) >= 2", 40)
    finally:
        live.stop()
    rows = page.locator("#live-rows tr.new")
    assert rows.count() >= 2
    first = rows.first.locator("td").first.inner_text()
    assert re.fullmatch(r"\d+\.\d km/h", first), first
    shoot(page, "tech-live-desktop")
    with psycopg.connect(site.url) as conn:
        stored = conn.execute("SELECT count(*), min(site_id), max(display) FROM readings WHERE sign_id = %s",
                              (sign_id,)).fetchone()
    assert stored[0] >= 2 and stored[1] == site.world.site_a and stored[2] == 0  # stealth
    # a reload shows the stored passes without JavaScript's help
    page.reload()
    assert page.locator("#live-rows tr").count() >= 2
    assert errors == []
    ctx.close()


def test_the_fleet_puts_the_troubled_sign_first_and_a_site_shows_its_limits(browser, site):
    with psycopg.connect(site.url) as conn:  # SN-A: heard from now, wrong limit set; SN-QUIET never heard from
        conn.execute("INSERT INTO sign_heartbeats (sign_id, time, battery_v, clock_offset_s, configured_limit_kmh) "
                     "VALUES (%s, now(), 12.6, 0.4, 60)", (site.world.sign_a,))
        quiet = conn.execute("INSERT INTO signs (serial_number, protocol) VALUES ('SN-QUIET', 'ops-json') RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO deployments (sign_id, site_id, valid_from, display) VALUES (%s, %s, now() - interval '1 day', 1)",
                     (quiet, site.world.site_a))
    for size in ("desktop", "phone"):
        ctx = context(browser, site, "technician", size)
        page = ctx.new_page()
        page.goto(f"{site.base}/tech/fleet?lang=en")
        serials = page.locator("table.fleet tbody th a").all_inner_texts()
        assert serials.index("SN-QUIET") < serials.index("SN-A")
        quiet_row = page.locator("table.fleet tbody tr", has_text="SN-QUIET")
        assert "never heard from" in quiet_row.inner_text()
        assert "wrong limit set (60/50 km/h)" in page.locator("table.fleet tbody tr", has_text="SN-A").inner_text()
        shoot(page, f"tech-fleet-{size}")
        assert axe_violations(page) == []
        page.goto(f"{site.base}/tech/sites/{site.world.site_a}")
        assert "50 km/h" in page.locator("table.limits").inner_text()
        if size == "desktop":
            page.fill("#posted_value", "30")
            page.fill("#from_date", "2030-01-01")
            submit(page, "button:has-text('Save the limit')")
            limits = page.locator("table.limits tbody tr").all_inner_texts()
            assert any(t.startswith("30 km/h") and "2030-01-01" in t for t in limits), limits
            page.fill("#posted_value", "3")
            page.fill("#from_date", "2031-01-01")
            submit(page, "button:has-text('Save the limit')")
            assert page.locator(".error").count() == 1  # refused, shown on the form
            assert page.locator("#posted_value").input_value() == "3"
        shoot(page, f"tech-site-{size}")
        assert axe_violations(page) == []
        for path in ("/tech/setup", f"/tech/signs/{site.world.sign_a}", f"/tech/signs/{site.world.sign_a}/live"):
            page.goto(site.base + path)
            shoot(page, "tech-" + path.strip("/").replace("/", "-").replace(str(site.world.sign_a), "sign") + f"-{size}")
            assert axe_violations(page) == [], path
        ctx.close()


def test_each_role_sees_the_technician_pages_only_if_it_may(browser, site):
    paths = ("/tech/fleet", "/tech/setup", f"/tech/signs/{site.world.sign_a}", f"/tech/signs/{site.world.sign_a}/live",
             f"/tech/sites/{site.world.site_a}")
    expect = {None: 401, "viewer": 403, "officer": 403, "other_viewer": 403, "technician": 200, "admin": 200}
    for persona, status in expect.items():
        ctx = context(browser, site, persona)
        page = ctx.new_page()
        page.goto(f"{site.base}/?lang=en")
        nav = page.locator("header nav").inner_text()
        for path in paths:  # by typed URL: the answer and the parsed page (not its images and maps)
            r = page.goto(f"{site.base}{path}", wait_until="domcontentloaded")
            assert r.status == status, (persona, path, r.status)
            if status == 401:
                assert page.locator("main a[href^='/login']").count() == 1  # the page says where to log in
        r = page.goto(f"{site.base}/tech/fleet")
        nav = page.locator("header nav").inner_text()  # by navigation
        assert ("Signs" in nav) == (status == 200), (persona, nav)
        assert ("People" in nav) == (persona == "admin"), (persona, nav)
        if persona is None:
            shoot(page, "tech-login-needed-desktop")
            assert axe_violations(page) == []
        ctx.close()
    # another municipality's sign is not found, even for a technician
    with psycopg.connect(site.url) as conn:
        other = conn.execute("INSERT INTO signs (serial_number, protocol) VALUES ('SN-C', 'ops-json') RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO deployments (sign_id, site_id, valid_from, display) VALUES (%s, %s, now() - interval '1 day', 1)",
                     (other, site.world.site_c))
    ctx = context(browser, site, "technician")
    page = ctx.new_page()
    assert page.goto(f"{site.base}/tech/signs/{other}").status == 404
    assert page.goto(f"{site.base}/tech/sites/{site.world.site_c}").status == 404
    assert "SN-C" not in page.goto(f"{site.base}/tech/fleet").text()
    ctx.close()
