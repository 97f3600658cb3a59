"""The officers' plan page in a real headless Chromium against a real uvicorn on the seeded demo: a
drawn and approved plan shows its header and controls in both languages, with no console error,
no request to another origin and no serious axe-core finding; printed (A4 landscape) its table
fits the page and its header and the site's navigation are gone; screenshots at desktop and phone
size and a PNG of the printed page in tests/artifacts/."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import psycopg
import pytest
from people import session_cookie
from servers import running
from test_public_pages import ARTIFACTS, CHROMIUM, VIEWPORTS, Watch, axe_on

from api import people
from api.app import create_app
from fartkoll.settings import Settings
from planner import planlife
from planner.planning import propose_plan
from planner.schedule import PatrolSlot

playwright_sync = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
A4_LANDSCAPE_PX = 1047
"""297 mm less the plan's 10 mm margins, at 96 px per inch."""


@pytest.fixture(scope="module")
def plan_site(server_url, demo_template):
    """(base URL, session cookie of an admin, plan id) on a copy of the demo with an approved plan."""
    from seeded_demo import copy_of_demo

    for url in copy_of_demo(server_url, demo_template):
        with psycopg.connect(url) as conn:
            settings = Settings(database_url=url)
            slots = [PatrolSlot(date(2024, 11, 12), time(7), time(10), 2),
                     PatrolSlot(date(2024, 11, 14), time(15), time(18), 1)]
            out = propose_plan(conn, settings.planner, now=datetime(2024, 11, 4, 8, tzinfo=UTC),
                               tz="Europe/Stockholm", actor="planerare", slots=slots, seed=3)
            planlife.approve_plan(conn, out.plan_id, "kommissarie", datetime(2024, 11, 5, 9, tzinfo=UTC))
            chief = people.add_user(conn, "test", people.UserNew(email="chief@polisen.se", role="admin"))
            conn.commit()
            cookie = session_cookie(conn, chief.id)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with running(create_app(settings)) as base:
            yield base, cookie, out.plan_id


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def _context(browser, base: str, cookie: str, viewport: dict, **kw):
    context = browser.new_context(viewport=viewport, **kw)
    context.add_cookies([{"name": "fartkoll_session", "value": cookie, "url": base}])
    return context


def test_the_plan_page_reads_and_prints(browser, plan_site):
    base, cookie, pid = plan_site
    url = f"{base}/officer/plans/{pid}"
    for size, viewport in VIEWPORTS.items():
        for lang, title, police in (("sv", f"Kontrollplan {pid}", "Endast för polisen"),
                                    ("en", f"Control plan {pid}", "For police use only")):
            context = _context(browser, base, cookie, viewport)
            page = context.new_page()
            watch = Watch(page, base)
            r = page.goto(f"{url}?lang={lang}")
            assert r.status == 200
            assert page.locator("h1").inner_text() == title
            assert page.locator(".police").first.inner_text().startswith(police)
            rows = page.locator("tr[id^=item-]")
            assert rows.count() >= 2
            assert {"sv": "godkänd av kommissarie", "en": "approved by kommissarie"}[lang] in \
                page.locator(".plan-head").inner_text()
            page.screenshot(path=str(ARTIFACTS / f"plan-{lang}-{size}.png"), full_page=True)
            assert axe_on(page) == []
            assert watch.errors == [] and watch.foreign == []
            context.close()

    context = _context(browser, base, cookie, {"width": A4_LANDSCAPE_PX, "height": 740})
    page = context.new_page()
    page.goto(f"{url}?lang=sv")
    page.emulate_media(media="print")
    right = page.evaluate("Math.ceil(document.querySelector('.plan table').getBoundingClientRect().right)")
    assert right <= A4_LANDSCAPE_PX
    assert page.locator("header.top").is_hidden() and page.locator("nav.noprint").is_hidden()
    assert page.locator("td.write").first.bounding_box()["height"] >= 30  # room to write by hand
    page.screenshot(path=str(ARTIFACTS / "plan-sv-print.png"), full_page=True)
    pdf = page.pdf(format="A4", landscape=True, prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    context.close()

