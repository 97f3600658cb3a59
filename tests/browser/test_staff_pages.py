"""The staff pages in a real headless Chromium against a real uvicorn on the seeded demo: an
anonymous visitor is sent to the login and, logged in as a viewer of the municipality, back to
the page asked for (a wrong password is said on the form first); the staff's site page shows a
group of 3 vehicles flagged where the public page withholds it; exports through the form and the
links; the archive of situation pictures; a measure recorded with the form and its before/after
shown; logging out. Phone and desktop screenshots, no console error, no request to another
origin, no serious axe-core finding."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from people import PASSWORD
from seeded_demo import copy_of_demo
from servers import running
from test_public_pages import ARTIFACTS, CHROMIUM, VIEWPORTS, Watch, axe_on

from api import people
from api.app import create_app
from fartkoll.settings import Settings
from planner.jobs.settings import JobsSettings

playwright_sync = pytest.importorskip("playwright.sync_api")
REFUSED = re.compile(r"^Failed to load resource: the server responded with a status of 4(01|22|29) ")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
EMAIL = "planner@angsvik.se"
REPORT = "lagesbild-2024-W44.sv.html"


@pytest.fixture(scope="module")
def demo(server_url, demo_template, tmp_path_factory) -> Iterator[dict]:
    """One server on one copy of the demo: a viewer of the municipality of Skolvägen, a group of
    3 vehicles (direction unknown) at that site, and one situation picture in the archive."""
    reports = tmp_path_factory.mktemp("reports")
    (reports / REPORT).write_text("<!doctype html><title>Lägesbild 2024-W44</title><h1>Lägesbild vecka 44</h1>",
                                  encoding="utf-8")
    (reports / "notes.txt").write_text("not a situation picture", encoding="utf-8")
    for url in copy_of_demo(server_url, demo_template):
        with psycopg.connect(url) as conn:
            site, mun, name = conn.execute(
                "SELECT s.id, st.municipality_id, s.name FROM sites s JOIN streets st ON st.id = s.street_id "
                "WHERE s.name LIKE 'Skolvägen%'").fetchone()
            latest = conn.execute("SELECT max(hour) FROM rollup_hourly WHERE site_id = %s", (site,)).fetchone()[0]
            conn.execute("INSERT INTO rollup_hourly (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist) "
                         "VALUES (%s, 0, 1, %s, 3, 123, 5045, '[40:42]={1,1,1}')", (site, latest))
            people.add_user(conn, "test", people.UserNew(email=EMAIL, role="viewer", municipality_id=mun,
                                                         password=PASSWORD))
            conn.commit()
        settings = Settings(database_url=url, jobs=JobsSettings(report_dir=reports))
        with running(create_app(settings)) as base:
            yield {"base": base, "site": site, "name": name, "reports": reports}


def errors(watch: Watch) -> list[str]:
    """The console errors but those of the document loads this module provokes: a refused login (401) or form (422)."""
    return [e for e in watch.errors if not REFUSED.match(e)]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def staff(browser, demo) -> Iterator[tuple[object, Watch]]:
    """A viewer's browser context, logged in through the pages (the test below checks the way there)."""
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    watch = Watch(page, demo["base"])
    yield page, watch
    context.close()


def _axe_as_staff(browser, page, url: str, viewport: dict) -> list[str]:
    """axe-core on a page for people: a context with the logged-in page's cookies."""
    context = browser.new_context(bypass_csp=True, viewport=viewport)
    context.add_cookies(page.context.cookies())
    p = context.new_page()
    p.goto(url)
    p.add_script_tag(path=str(Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"))
    result = p.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    context.close()
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_anonymous_is_sent_to_the_login_and_back_after_a_wrong_then_right_password(browser, demo, staff):
    base, site = demo["base"], demo["site"]
    page, watch = staff
    r = page.goto(f"{base}/staff/sites/{site}?lang=en")
    assert page.url == f"{base}/login?next=/staff/sites/{site}%3Flang%3Den&lang=en"
    assert r.status == 200 and page.locator("h1").inner_text() == "Log in"
    page.screenshot(path=str(ARTIFACTS / "login-en-desktop.png"), full_page=True)
    assert _axe_as_staff(browser, page, f"{base}/login", VIEWPORTS["phone"]) == []
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill("not the password")
    with page.expect_navigation():
        page.locator("main button[type=submit]").click()
    assert page.locator("#login-error").inner_text() == "Wrong e-mail address or password, or the account is disabled."
    assert page.locator("#email").input_value() == EMAIL
    page.locator("#password").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("main button[type=submit]").click()
    assert page.url == f"{base}/staff/sites/{site}?lang=en"
    assert page.locator("h1").inner_text() == demo["name"]
    assert EMAIL in page.locator("header").inner_text()
    assert errors(watch) == [] and watch.foreign == []


def test_the_staff_site_page_flags_a_small_group_the_public_page_withholds(browser, demo, staff):
    base, site = demo["base"], demo["site"]
    page, watch = staff
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        page.goto(f"{base}/staff/sites/{site}?lang=en")
        small = page.locator("table.staff-groups tr.small-cell")
        assert small.count() == 1
        assert "unknown direction" in small.inner_text() and "under 30" in small.inner_text()
        assert small.locator("td").first.inner_text() == "3"
        assert page.locator("table.staff-hours tr.small-cell").count() >= 1
        assert page.locator("svg.chart").count() >= 2
        page.screenshot(path=str(ARTIFACTS / f"staff-site-en-{size}.png"), full_page=True)
        assert axe_on(page) == []
    page.set_viewport_size(VIEWPORTS["desktop"])
    public = browser.new_page()
    public.goto(f"{base}/sites/{site}?lang=en")
    assert "3" not in [c.strip() for c in public.locator(".figures dd").all_inner_texts()]
    public.close()
    assert errors(watch) == [] and watch.foreign == []


def test_exports_through_the_form_and_the_archive_of_situation_pictures(demo, staff):
    base, site = demo["base"], demo["site"]
    page, watch = staff
    page.goto(f"{base}/staff?lang=sv")
    assert page.locator("h1").inner_text() == "Kommunens sidor"
    assert page.locator("table.staff-sites tbody tr").count() >= 3
    page.screenshot(path=str(ARTIFACTS / "staff-home-sv-desktop.png"), full_page=True)
    page.select_option("#export-site_id", str(site))
    page.locator("#export-date_from").fill("2024-10-01")
    page.locator("#export-date_to").fill("2024-10-07")
    with page.expect_download() as d:
        page.locator("form[action='/staff/export'] button").click()
    csv = Path(d.value.path()).read_text(encoding="utf-8")
    assert "2024-10-07" in csv and "2024-10-08" not in csv
    page.goto(f"{base}/staff/export?site_id={site}&date_from=2024-10-07&date_to=2024-10-01&format=csv&lang=en")
    assert "The last day is before the first." in page.locator(".form-error").inner_text()
    page.goto(f"{base}/staff/reports?lang=en")
    links = page.locator("ul.reports a")
    assert links.all_inner_texts() == ["Week 2024-W44, Swedish, HTML"]  # notes.txt is no situation picture
    r = page.request.get(f"{base}/staff/reports/{REPORT}")
    assert r.status == 200 and "Lägesbild vecka 44" in r.text()
    assert page.request.get(f"{base}/staff/reports/notes.txt").status == 404
    assert page.request.get(f"{base}/staff/reports/..%2F..%2Fetc%2Fpasswd").status == 404
    assert errors(watch) == [] and watch.foreign == []


def test_a_measure_recorded_with_the_form_shows_its_before_and_after(browser, demo, staff):
    base, site = demo["base"], demo["site"]
    page, watch = staff
    page.goto(f"{base}/sites/{site}/measures?lang=en")
    assert page.locator("h1").inner_text() == f"Measures: {demo['name']}"
    page.locator("label.choice", has_text="new speed limit").locator("input").check()
    page.locator("#m-taken_on").fill("2024-10-14")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "A new limit needs the limit in km/h" in page.locator(".form-error").inner_text()
    page.locator("label.choice", has_text="speed bump").locator("input").check()
    page.locator("#m-note").fill("Two bumps by the school")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/measures/" in page.url
    assert page.locator("h1").inner_text() == f"Speed bump: {demo['name']}"
    rows = page.locator("table.measure-effect tbody tr")
    assert rows.count() == 4 and "Weeks 2–4" in rows.nth(3).inner_text()
    assert "percentage points" in rows.nth(3).inner_text()
    tables = page.locator("table.before-after")
    assert tables.count() >= 2 and "the measure's site" in tables.first.locator("caption").inner_text()
    url = page.url
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        page.goto(url)
        page.screenshot(path=str(ARTIFACTS / f"measure-en-{size}.png"), full_page=True)
        assert axe_on(page) == []
    page.set_viewport_size(VIEWPORTS["desktop"])
    page.goto(f"{base}/sites/{site}/measures?lang=en")
    assert "Two bumps by the school" in page.locator("table.measures").inner_text()
    assert errors(watch) == [] and watch.foreign == []


def test_logging_out_from_the_header(demo, staff):
    base = demo["base"]
    page, watch = staff
    page.goto(f"{base}/staff?lang=en")
    with page.expect_navigation():
        page.locator("header form.logout button").click()
    assert page.url == f"{base}/"
    assert "Log in" in page.locator("header").inner_text() and EMAIL not in page.locator("header").inner_text()
    page.goto(f"{base}/staff")
    assert page.url.startswith(f"{base}/login?next=/staff")
    assert errors(watch) == [] and watch.foreign == []
