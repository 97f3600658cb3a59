"""The citizen pages in a real headless Chromium against a real uvicorn on the seeded demo: a tip
sent without JavaScript (post, confirmation page; the place from the list) and with it (htmx,
in place; the place picked on the map, which the list follows) reaches the
officers' list; its errors, the rate limit among them, are shown on the form in the page's
language; the promise page in both languages at phone and desktop size, with no console error,
no request to another origin and no serious axe-core finding; and the promise never shows a
control inside its delay. Screenshots in tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from people import PASSWORD, session_cookie
from seeded_demo import copy_of_demo
from servers import running
from test_public_pages import ARTIFACTS, CHROMIUM, VIEWPORTS, Watch, axe_on, axe_violations

from api import people
from api.app import create_app
from fartkoll.settings import Settings
from planner.promise import PromiseSettings, promise

playwright_sync = pytest.importorskip("playwright.sync_api")
REFUSED = re.compile(r"^Failed to load resource: the server responded with a status of 4(01|22|29) ")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")


@pytest.fixture(scope="module")
def demo(server_url, demo_template) -> Iterator[dict]:
    """One server on one copy of the demo for the module, with an officer of its police area."""
    for url in copy_of_demo(server_url, demo_template):
        with psycopg.connect(url) as conn:
            area = conn.execute("SELECT id FROM police_areas ORDER BY id LIMIT 1").fetchone()[0]
            officer = people.add_user(conn, "test", people.UserNew(email="officer@polisen.se", role="officer",
                                                                   police_area_id=area, password=PASSWORD))
            conn.commit()
            cookie = session_cookie(conn, officer.id)
            site = conn.execute("SELECT s.id, s.name, st.name FROM sites s JOIN streets st ON st.id = s.street_id "
                                "WHERE s.name LIKE 'Kungsgatan%'").fetchone()
        with running(create_app(Settings(database_url=url))) as base:
            yield {"base": base, "url": url, "officer": cookie, "site": site}


def errors(watch: Watch) -> list[str]:
    """The console errors but those of the document loads this module provokes: a refused form (422, 429)."""
    return [e for e in watch.errors if not REFUSED.match(e)]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def _visible_point(page, selector: str) -> tuple[float, float]:
    """A point of the element where it is the topmost one (sites close together overlap on the map)."""
    point = page.evaluate("""(sel) => {
        const el = document.querySelector(sel), r = el.getBoundingClientRect();
        for (let dy = 0.5; dy < r.height; dy += 1) for (let dx = 0.5; dx < r.width; dx += 1) {
            const x = r.left + dx, y = r.top + dy;
            if (document.elementFromPoint(x, y) === el) return [x, y];
        }
        return null;
    }""", selector)
    assert point is not None, f"{selector} is hidden under others everywhere"
    return point[0], point[1]


def _sites(demo) -> int:
    with psycopg.connect(demo["url"]) as conn:
        return conn.execute("SELECT count(*) FROM sites WHERE lat IS NOT NULL AND lon IS NOT NULL").fetchone()[0]


def _officers_tips(demo) -> list[str]:
    r = httpx.get(demo["base"] + "/api/v1/tips", headers={"cookie": f"fartkoll_session={demo['officer']}"})
    assert r.status_code == 200
    return [t["text"] for t in r.json()]


def test_a_tip_without_javascript_errors_first_then_confirmed_and_listed_for_officers(browser, demo):
    base, site_id = demo["base"], demo["site"][0]
    context = browser.new_context(java_script_enabled=False, viewport=VIEWPORTS["phone"])
    page = context.new_page()
    watch = Watch(page, base)
    r = page.goto(f"{base}/tips/new?lang=en")
    assert r.status == 200 and page.locator("h1").inner_text() == "Report speeding"
    assert not page.locator("#tip-map-wrap").is_visible()  # no map without JavaScript: the list picks
    page.screenshot(path=str(ARTIFACTS / "tip-en-phone.png"), full_page=True)
    page.locator("#text").fill("Cars race here after school")
    with page.expect_navigation():
        page.locator("button[type=submit]", has_text="Send the tip").click()
    assert page.locator(".form-error").inner_text().count("Choose a place from the list.") == 1
    assert page.locator("#site_id").get_attribute("aria-invalid") == "true"
    assert page.locator("#text").input_value() == "Cars race here after school"  # what was typed stays
    page.screenshot(path=str(ARTIFACTS / "tip-error-en-phone.png"), full_page=True)
    page.select_option("#site_id", str(site_id))
    page.select_option("#when", "evening")
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    assert page.url == f"{base}/tips/thanks"
    assert page.locator("h2").inner_text() == "Thank you for your tip!"
    assert errors(watch) == [] and watch.foreign == []
    context.close()
    assert "[When: in the evening] Cars race here after school" in _officers_tips(demo)


def test_a_tip_with_javascript_is_confirmed_in_place(browser, demo):
    base, site_id = demo["base"], demo["site"][0]
    page = browser.new_page(viewport=VIEWPORTS["desktop"])
    watch = Watch(page, base)
    page.goto(f"{base}/tips/new?lang=sv")
    assert page.locator("h1").inner_text() == "Tipsa om fortkörning"
    tip_map = page.locator("#tip-map")
    assert tip_map.is_visible() and tip_map.get_attribute("data-markers") == str(_sites(demo))
    assert page.locator("#tip-map-picked").inner_text() == "Ingen plats vald än."
    # a click on the site's circle on the map picks it in the list of places
    x, y = _visible_point(page, f'#tip-map path[data-site="{site_id}"]')
    page.mouse.click(x, y)
    assert page.locator("#site_id").input_value() == str(site_id)
    assert tip_map.get_attribute("data-picked") == str(site_id)
    street, name = demo["site"][2], demo["site"][1]
    assert page.locator("#tip-map-picked").inner_text() == f"Vald plats: {street} – {name}"
    page.screenshot(path=str(ARTIFACTS / "tip-map-sv-desktop.png"), full_page=True)
    # a pick in the list marks another site on the map
    other = page.locator("#site_id option[value]:not([value=''])").nth(0).get_attribute("value")
    other = other if other != str(site_id) else page.locator("#site_id option[value]:not([value=''])").nth(1) \
        .get_attribute("value")
    page.select_option("#site_id", other)
    assert tip_map.get_attribute("data-picked") == other
    page.select_option("#site_id", str(site_id))
    assert tip_map.get_attribute("data-picked") == str(site_id)
    page.locator("#text").fill("Mopeder i hög fart på kvällarna")
    page.locator("button[type=submit]").click()
    page.locator(".confirm h2").wait_for()
    assert page.locator(".confirm h2").inner_text() == "Tack för ditt tips!"
    assert page.url == f"{base}/tips/new?lang=sv"  # swapped in place, no new page
    assert errors(watch) == [] and watch.foreign == []
    page.close()
    assert "Mopeder i hög fart på kvällarna" in _officers_tips(demo)
    for lang in ("sv", "en"):
        assert axe_violations(browser, f"{base}/tips/new?lang={lang}", VIEWPORTS["phone"]) == []


def test_the_promise_page_in_both_languages_at_both_sizes(browser, demo):
    base = demo["base"]
    for size, viewport in VIEWPORTS.items():
        for lang, heading in (("sv", "Medborgarlöftet: fortkörning"), ("en", "The citizen promise: speeding")):
            page = browser.new_page(viewport=viewport)
            watch = Watch(page, base)
            r = page.goto(f"{base}/promise?lang={lang}")
            assert r.status == 200 and page.locator("html").get_attribute("lang") == lang
            assert page.locator("h1").inner_text() == heading
            weeks = page.locator("table.promise-weeks tbody tr")
            assert weeks.count() >= 4
            # the demo's control at Skolvägen (tips about it came in before) with its day, never its hour
            assert "Skolvägen (2024-09-27)" in page.locator("table.promise-weeks").inner_text()
            effects = page.locator("table.promise-effects tbody tr")
            assert effects.count() >= 1 and "Skolvägen" in effects.first.inner_text()
            assert "05:15" not in page.content() and "07:15" not in page.content()
            page.screenshot(path=str(ARTIFACTS / f"promise-{lang}-{size}.png"), full_page=True)
            assert axe_on(page) == []
            assert errors(watch) == [] and watch.foreign == []
            page.close()


def test_the_promise_never_shows_a_control_inside_its_delay(demo):
    """With ``now`` ten days after the demo's end and a delay of 14 days, the last week shown is
    the one ending 27 October: a control on 22 October shows, those on 30 October and 2 November
    (inside the delay) do not, in any week or count."""
    settings = Settings(database_url=demo["url"])
    now = datetime(2024, 11, 14, 12, tzinfo=UTC)
    with psycopg.connect(demo["url"]) as conn:
        site_id = demo["site"][0]
        for start in ("2024-10-22 15:00+02", "2024-10-30 15:00+01", "2024-11-02 09:00+01"):
            conn.execute("INSERT INTO controls (site_id, start_time, end_time, method) "
                         "VALUES (%s, %s::timestamptz, %s::timestamptz + interval '1 hour', 'laser')",
                         (site_id, start, start))
        p = promise(conn, settings.planner, PromiseSettings(delay_days=14, weeks=12), now=now,
                    time_zone="Europe/Stockholm")
        conn.rollback()
    assert p.shown_until.isoformat() == "2024-10-27"
    assert p.weeks[0].week == "2024-W43"
    shown = [(c.site_id, c.day.isoformat()) for w in p.weeks for c in w.controls]
    assert (site_id, "2024-10-22") in shown
    assert all(day <= "2024-10-27" for _, day in shown)
    assert not {(site_id, "2024-10-30"), (site_id, "2024-11-02")} & set(shown)
    with psycopg.connect(demo["url"]) as conn:
        later = promise(conn, settings.planner, PromiseSettings(delay_days=14), now=now + timedelta(days=7),
                        time_zone="Europe/Stockholm")
    assert later.shown_until.isoformat() == "2024-11-03"  # a week later the week of 30 October shows (data end)


def test_the_tip_form_s_rate_limit_is_shown_on_the_form_in_swedish(demo):
    base, site_id = demo["base"], demo["site"][0]
    with httpx.Client(base_url=base, timeout=30) as http:
        http.get("/tips/new")
        token = http.cookies["csrftoken"]
        for _ in range(10):
            r = http.post("/tips/new", data={"csrftoken": token, "site_id": str(site_id), "text": "igen"})
            if r.status_code != 303:
                break
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) > 0
        assert "Försök igen om" in r.text and 'role="alert"' in r.text
        assert r.headers["content-type"].startswith("text/html")
        r = http.post("/tips/new", data={"site_id": str(site_id), "text": "utan token"},
                      headers={"cookie": f"csrftoken={token}"})
        assert r.status_code == 403  # a form without the CSRF field is refused
