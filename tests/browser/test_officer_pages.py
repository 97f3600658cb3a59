"""The officer's pages in a real headless Chromium against a real uvicorn on the seeded demo: an
officer builds a week's plan on the grid, reviews it on the map and in the list, redraws it,
approves it and downloads a valid .ics; on a 390 px phone logs a planned control, the connection
drops after the server stored it, the same form is sent again and one control is stored; viewers,
technicians and anonymous visitors get no officer page by typed URL; axe-core finds no serious or
critical violation; screenshots at desktop and phone size in tests/artifacts/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from people import PASSWORD, session_cookie
from ready import wait_until_ready
from servers import running

from api import people
from api.app import create_app
from fartkoll.settings import Settings, WebSettings

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
TILES = "https://tiles.example.org/{z}/{x}/{y}.png"
WEEK = "2024-11-04"  # the Monday after the demo's last day of data
# Mon 16–18, Tue 08–10, Wed 16–18, Thu 12–14, Fri 14–16 (day-block of the grid)
CELLS = ("0-5", "1-1", "2-5", "3-3", "4-4")


@pytest.fixture(scope="module")
def world(server_url, demo_template) -> Iterator[dict]:
    """A server on a copy of the demo, people of each role with a session, the database URL."""
    from seeded_demo import copy_of_demo

    for url in copy_of_demo(server_url, demo_template):
        with psycopg.connect(url) as conn:
            area = conn.execute("SELECT id FROM police_areas ORDER BY id LIMIT 1").fetchone()[0]
            mun = conn.execute("SELECT id FROM municipalities ORDER BY id LIMIT 1").fetchone()[0]
            specs = {"officer": ("officer@polisen.test", "officer", None, area),
                     "viewer": ("viewer@kommun.test", "viewer", mun, None),
                     "technician": ("tech@kommun.test", "technician", mun, None)}
            sessions = {}
            for persona, (email, role, m, a) in specs.items():
                u = people.add_user(conn, "test", people.UserNew(email=email, role=role, municipality_id=m,
                                                                 police_area_id=a, password=PASSWORD))
                sessions[persona] = session_cookie(conn, u.id)
            conn.commit()
        app = create_app(Settings(database_url=url, web=WebSettings(tiles_url=TILES)))
        with running(app) as base:
            yield {"base": base, "url": url, "sessions": sessions}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def context_as(browser, world: dict, persona: str | None, viewport: dict, **kw):
    """A browser context logged in as ``persona`` (None: anonymous), other origins blocked."""
    context = browser.new_context(viewport=viewport, accept_downloads=True, **kw)
    if persona is not None:
        context.add_cookies([{"name": "fartkoll_session", "value": world["sessions"][persona], "url": world["base"]}])
    base = world["base"]
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base + "/") else r.abort())
    return context


class Errors:
    def __init__(self, page) -> None:
        self.seen: list[str] = []
        page.on("pageerror", lambda e: self.seen.append(str(e)))
        page.on("console", lambda m: self.seen.append(m.text) if m.type == "error"
                and "tiles.example.org" not in (m.location.get("url") or "") and "ERR_FAILED" not in m.text else None)


def axe_serious(page) -> list[str]:
    """Serious or critical axe-core findings on the page shown (axe is injected, which only a
    context bypassing the page's policy allows; the other tests run under the policy)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{page.url}: {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def unfold(ics: str) -> list[str]:
    """RFC 5545 content lines: CRLF-separated, a line starting with a space continues the last."""
    assert ics.endswith("\r\n") and "\n" not in ics.replace("\r\n", "")
    raw = ics.split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in raw), "content lines are folded at 75 octets"
    out: list[str] = []
    for line in raw:
        if line.startswith((" ", "\t")):
            out[-1] += line[1:]
        else:
            out.append(line)
    return out


def parse_events(ics: str) -> list[dict[str, str]]:
    lines = unfold(ics)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(x.startswith("PRODID:") for x in lines)
    stack, events, current = [], [], None
    for line in lines:
        name, _, value = line.partition(":")
        if name == "BEGIN":
            stack.append(value)
            if value == "VEVENT":
                current = {}
        elif name == "END":
            assert stack.pop() == value, f"END:{value} closes another component"
            if value == "VEVENT":
                events.append(current)
                current = None
        elif current is not None:
            current[name] = value
    assert stack == []
    return events


def test_an_officer_builds_a_week_redraws_approves_and_downloads_a_valid_calendar(browser, world):
    base = world["base"]
    context = context_as(browser, world, "officer", VIEWPORTS["desktop"])
    page = context.new_page()
    errors = Errors(page)
    page.goto(f"{base}/officer/schedule?week={WEEK}&lang=en")
    assert page.locator("h1").inner_text() == "Plan the week"
    for cell in CELLS:
        page.locator(f"input[name=slot][value='{cell}']").check()
    page.screenshot(path=str(ARTIFACTS / "officer-schedule-en-desktop.png"), full_page=True)
    page.locator("button[type=submit].big").click()
    assert re.search(r"/officer/schedule/\d+\?", page.url), page.url
    first_id = int(re.search(r"/schedule/(\d+)", page.url).group(1))
    assert "draft" in page.locator("h1").inner_text()
    rows = page.locator("table.plan tbody tr")
    assert rows.count() >= len(CELLS)
    assert page.locator("table.plan tbody tr td:nth-child(6)").first.inner_text().strip() != ""  # why chosen
    page.wait_for_selector("#plan-map[data-markers]", state="attached")
    markers = int(page.locator("#plan-map").get_attribute("data-markers"))
    assert markers >= 1 and page.locator("#plan-map path.leaflet-interactive").count() == markers
    seed_text = page.locator("p.lead").inner_text()
    page.screenshot(path=str(ARTIFACTS / "officer-plan-draft-en-desktop.png"), full_page=True)

    page.locator("#redraw").click()  # another (random) seed, the same slots
    second_id = int(re.search(r"/schedule/(\d+)", page.url).group(1))
    assert second_id != first_id and page.locator("p.lead").inner_text() != seed_text
    assert page.locator("table.plan tbody tr").count() >= len(CELLS)
    with psycopg.connect(world["url"]) as conn:
        old = conn.execute("SELECT status, cancel_note FROM plans WHERE id = %s", (first_id,)).fetchone()
    assert old == ("cancelled", f"redrawn as plan {second_id}")

    page.locator("#approve").click()
    assert "approved" in page.locator("h1").inner_text()
    assert "Approved by officer@polisen.test" in page.locator("main").inner_text()
    with page.expect_download() as got:
        page.locator("#ics").click()
    ics = Path(got.value.path()).read_bytes().decode("utf-8")
    events = parse_events(ics)
    with psycopg.connect(world["url"]) as conn:
        planned = conn.execute("SELECT id, start_time, end_time FROM planned_controls WHERE plan_id = %s "
                               "ORDER BY start_time, unit, id", (second_id,)).fetchall()
    assert len(events) == len(planned) == page.locator("table.plan tbody tr").count()
    zone = ZoneInfo("Europe/Stockholm")
    for ev, (item, start, end) in zip(events, planned, strict=True):
        assert ev["UID"] == f"plan{second_id}-item{item}@fartkoll.invalid"
        assert ev["DTSTART;TZID=Europe/Stockholm"] == start.astimezone(zone).strftime("%Y%m%dT%H%M%S")
        assert ev["DTEND;TZID=Europe/Stockholm"] == end.astimezone(zone).strftime("%Y%m%dT%H%M%S")
        assert ev["SUMMARY"] and ev["CLASS"] == "CONFIDENTIAL"
    assert page.locator("#print").get_attribute("href") == f"/api/v1/plans/{second_id}/plan.pdf"
    assert page.locator("a", has_text="Log it").count() == len(planned)
    page.screenshot(path=str(ARTIFACTS / "officer-plan-approved-en-desktop.png"), full_page=True)
    assert errors.seen == [], errors.seen
    context.close()


def _approved_item(world) -> tuple[int, int]:
    """(plan item id, plan id) of a not yet done control of an approved plan."""
    with psycopg.connect(world["url"]) as conn:
        row = conn.execute("SELECT pc.id, p.id FROM planned_controls pc JOIN plans p ON p.id = pc.plan_id "
                           "WHERE p.status = 'approved' AND pc.control_id IS NULL ORDER BY p.id DESC, pc.start_time LIMIT 1"
                           ).fetchone()
    assert row, "the plan test approves a plan first"
    return row


def test_a_control_logged_on_a_phone_over_a_dropped_connection_is_stored_once(browser, world):
    base = world["base"]
    item, plan_id = _approved_item(world)
    context = context_as(browser, world, "officer", VIEWPORTS["phone"], is_mobile=True, has_touch=True)
    page = context.new_page()
    errors = Errors(page)
    page.goto(f"{base}/officer/schedule/{plan_id}?lang=en")
    began = time.monotonic()
    taps, fields = 0, 0
    page.locator(f"a[href='/officer/controls/new?item={item}']").tap()
    taps += 1
    assert page.locator("h1").inner_text() == "Log a control"
    assert page.locator("#site_id").input_value() != "" and page.locator("#start").input_value() != ""
    assert page.locator("input[name=method][value=laser]").is_checked()
    save = page.locator("#save").bounding_box()
    assert save["height"] >= 44 and save["width"] >= 300  # a large target on a 390 px screen
    page.locator("#vehicles_checked").fill("23")
    page.locator("#reports_written").fill("4")
    fields += 2
    page.screenshot(path=str(ARTIFACTS / "officer-log-en-phone.png"), full_page=True)
    key = page.locator("input[name=client_key]").input_value()

    # the connection drops after the server stored the control: the answer never arrives
    dropped = []

    def drop_answer(route):
        if route.request.method == "POST" and not dropped:
            route.fetch(max_redirects=0)
            dropped.append(True)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/officer/controls", drop_answer)
    with page.expect_event("requestfailed") as failed:
        page.locator("#save").tap()
    assert failed.value.method == "POST"
    taps += 1
    assert dropped
    with psycopg.connect(world["url"]) as conn:
        stored = conn.execute("SELECT id, vehicles_checked, reports_written FROM controls WHERE client_key = %s",
                              (key,)).fetchall()
    assert len(stored) == 1 and stored[0][1:] == (23, 4)
    stored_after = time.monotonic() - began
    # the officer reloads the error page: the browser sends the same form again, with its key
    page.wait_for_url(lambda u: u.startswith("chrome-error:"))  # the browser's "no connection" page
    page.reload()
    assert re.search(rf"/officer/controls/{stored[0][0]}\?saved=again$", page.url), page.url
    assert "already saved" in page.locator("#saved").inner_text()
    # or goes back to the form, which the browser fetches anew: the planned control is logged already
    page.go_back()
    page.wait_for_url(re.compile(rf"/officer/controls/{stored[0][0]}\?saved=again$"))
    elapsed = time.monotonic() - began
    assert re.search(rf"/officer/controls/{stored[0][0]}\?saved=again$", page.url), page.url
    assert "already saved" in page.locator("#saved").inner_text()
    assert page.locator("#vehicles").inner_text() == "23"
    with psycopg.connect(world["url"]) as conn:
        assert conn.execute("SELECT count(*) FROM controls WHERE client_key = %s", (key,)).fetchone()[0] == 1
        assert conn.execute("SELECT control_id FROM planned_controls WHERE id = %s", (item,)).fetchone()[0] == stored[0][0]
    page.screenshot(path=str(ARTIFACTS / "officer-control-saved-en-phone.png"), full_page=True)
    print(f"\nlogging a planned control: {taps} taps, {fields} fields typed, stored {stored_after:.1f} s after "
          f"opening the plan; {elapsed:.1f} s with the dropped answer and two re-sends")
    assert errors.seen == [] or all("internetdisconnected" in e.lower() or "ERR_INTERNET" in e for e in errors.seen)
    context.close()


def test_a_control_from_scratch_on_a_phone_and_an_error_kept_on_the_form(browser, world):
    base = world["base"]
    context = context_as(browser, world, "officer", VIEWPORTS["phone"], is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{base}/officer/controls/new?lang=sv")
    assert page.locator("h1").inner_text() == "Logga en kontroll"
    site = page.locator("#site_id option").nth(1).get_attribute("value")
    page.locator("#site_id").select_option(site)
    page.locator("#day").fill("2024-10-15")
    page.locator("#start").fill("07:30")
    page.locator("#end").fill("08:10")
    page.locator("input[name=method][value=radar]").check()
    page.locator("#vehicles_checked").fill("3")
    page.locator("#reports_written").fill("5")  # more reports than vehicles: refused, values kept
    key = page.locator("input[name=client_key]").input_value()
    page.locator("#save").tap()
    assert "sparades inte" in page.locator("#form-error").inner_text()
    assert page.locator("#reports_written").get_attribute("aria-invalid") == "true"
    assert page.locator("input[name=client_key]").input_value() == key
    assert page.locator("#start").input_value() == "07:30"
    page.screenshot(path=str(ARTIFACTS / "officer-log-error-sv-phone.png"), full_page=True)
    page.locator("#reports_written").fill("1")
    page.locator("#save").tap()
    assert "är sparad" in page.locator("#saved").inner_text()
    assert "07:30–08:10" in page.locator("main").inner_text()
    page.screenshot(path=str(ARTIFACTS / "officer-control-sv-phone.png"), full_page=True)
    context.close()


PAGES = ("/officer", "/officer/ranking", "/officer/schedule", "/officer/controls/new", "/officer/controls",
         "/officer/tips")


def test_viewers_technicians_and_anonymous_visitors_get_no_officer_page_by_typed_url(browser, world):
    base = world["base"]
    with psycopg.connect(world["url"]) as conn:
        plan = conn.execute("SELECT max(id) FROM plans").fetchone()[0]
        control = conn.execute("SELECT max(id) FROM controls").fetchone()[0]
        site = conn.execute("SELECT min(id) FROM sites").fetchone()[0]
    typed = (*PAGES, f"/officer/schedule/{plan}", f"/officer/controls/{control}", f"/officer/sites/{site}/followup")
    for persona, status in ((None, 401), ("viewer", 403), ("technician", 403)):
        context = context_as(browser, world, persona, VIEWPORTS["phone"])
        page = context.new_page()
        for path in typed:
            r = page.goto(base + path)
            assert r.status == status, f"{path} as {persona or 'anonymous'}: {r.status}"
            text = page.content()
            assert "Endast för polisen" not in text and "Police only" not in text
        # nor may they post a form: the same rule
        r = page.request.post(f"{base}/officer/ranking/rules", form={"site_id": str(site), "rule": "exclude",
                                                                      "note": "x"})
        assert r.status in (401, 403)
        context.close()


def test_every_officer_page_at_both_sizes_with_screenshots_and_no_serious_axe_finding(browser, world):
    base = world["base"]
    with psycopg.connect(world["url"]) as conn:
        plan = conn.execute("SELECT max(id) FROM plans WHERE status = 'approved'").fetchone()[0]
        control = conn.execute("SELECT max(id) FROM controls").fetchone()[0]
        site = conn.execute("SELECT site_id FROM controls GROUP BY site_id ORDER BY count(*) DESC LIMIT 1"
                            ).fetchone()[0]
    paths = {"home": "/officer", "ranking": "/officer/ranking", "schedule": f"/officer/schedule?week={WEEK}",
             "plan": f"/officer/schedule/{plan}", "log": "/officer/controls/new", "controls": "/officer/controls",
             "control": f"/officer/controls/{control}", "site": f"/officer/sites/{site}/followup",
             "tips": "/officer/tips"}
    found: list[str] = []
    for (size, viewport), lang in zip(VIEWPORTS.items(), ("sv", "en"), strict=True):
        context = context_as(browser, world, "officer", viewport, bypass_csp=True)
        page = context.new_page()
        errors = Errors(page)
        for name, path in paths.items():
            r = page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}")
            assert r.status == 200, f"{path}: {r.status} {page.content()[:300]}"
            assert page.locator("html").get_attribute("lang") == lang
            assert page.locator(".police-only").count() == 1
            if name in ("control", "site"):
                assert page.locator("svg.chart").count() == 1 and page.locator("svg.chart rect").count() > 7
            wait_until_ready(page)
            page.screenshot(path=str(ARTIFACTS / f"officer-{name}-{lang}-{size}.png"), full_page=True)
            found += axe_serious(page)
        assert errors.seen == [], errors.seen
        context.close()
    assert found == [], found


def test_the_ranking_shows_every_score_part_and_a_site_is_excluded_with_a_reason(browser, world):
    base = world["base"]
    context = context_as(browser, world, "officer", VIEWPORTS["desktop"])
    page = context.new_page()
    page.goto(f"{base}/officer/ranking?lang=en")
    headers = page.locator("table.cells thead th").all_inner_texts()
    for part in ("Vehicles", "Share over the threshold", "Reportable per 20 min", "How far over",
                 "Vulnerable place", "Tips", "Trend", "Score"):
        assert any(h.startswith(part) for h in headers), (part, headers)
    first = page.locator("ol.ranked > li").first
    name = first.locator("h3").inner_text()
    site_id = first.get_attribute("id").removeprefix("site-")
    first.locator("summary").click()
    first.locator("input[value=exclude]").check()
    first.locator("button[type=submit]").click()  # no reason: refused
    first = page.locator(f"#site-{site_id}")
    first.locator("p.error").wait_for()  # on the site's own form, left open
    assert "reason" in first.locator("p.error").inner_text()
    first.locator("input[value=exclude]").check()
    first.locator("input[name=note]").fill("road works until December")
    first.locator("button[type=submit]").click()
    page.locator(f"ol.ranked #site-{site_id}").wait_for(state="detached")
    rules = page.locator("#rules-h + div table tbody tr")
    assert rules.count() == 1 and "road works until December" in rules.first.inner_text()
    assert name in rules.first.inner_text()
    with psycopg.connect(world["url"]) as conn:
        assert conn.execute("SELECT actor, detail->>'note' FROM audit_log WHERE action = 'site.exclude'"
                            ).fetchall() == [("officer@polisen.test", "road works until December")]
    rules.first.locator("button").click()  # and back
    page.wait_for_selector(f"ol.ranked #site-{site_id}")
    assert page.locator("#rules-h + p").inner_text() == "No site is pinned or excluded."
    context.close()
