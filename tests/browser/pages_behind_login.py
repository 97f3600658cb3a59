"""What the browser tests of the technicians' and admins' pages share: one migrated database with
the access world (tests/people.py) per module, one server on it, one Chromium, logged-in contexts
(a session cookie made directly), axe-core and the screenshots."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from dbcopy import create_database, drop_database, url_of
from people import World, make_world, session_cookie
from servers import running

from api.app import create_app
from fartkoll.settings import Settings

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


class Site:
    def __init__(self, base: str, url: str, world: World) -> None:
        self.base, self.url, self.world = base, url, world

    def cookie(self, persona: str) -> list[dict]:
        with psycopg.connect(self.url) as conn:
            secret = session_cookie(conn, self.world.users[persona].id)
        return [{"name": "fartkoll_session", "value": secret, "url": self.base}]


def module_site(server_url: str, template_db: str) -> Iterator[Site]:
    name = f"fk_pages_{os.getpid()}_{os.urandom(3).hex()}"
    create_database(server_url, name, template_db)
    url = url_of(server_url, name)
    try:
        with psycopg.connect(url) as conn:
            world = make_world(conn)
        with running(create_app(Settings(database_url=url))) as base:
            yield Site(base, url, world)
    finally:
        drop_database(server_url, name)


def launch() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def context(browser, site: Site, persona: str | None, viewport: str = "desktop", **options):
    ctx = browser.new_context(viewport=VIEWPORTS[viewport], **options)
    if persona is not None:
        ctx.add_cookies(site.cookie(persona))
    return ctx


def axe_violations(page) -> list[str]:
    """Serious or critical axe-core findings on the page as it is now (axe injected as a script
    file through the page's own origin would need an inline start, so the check evaluates it)."""
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    def console(m) -> None:
        # the browser's own favicon request is no error of the page; nor is a refused form's
        # answer (a page with status 4xx, which the tests check themselves)
        refused = re.search(r"status of 4(01|03|04|09|22) ", m.text)
        if m.type == "error" and "favicon" not in (m.location.get("url") or "") and not refused:
            errors.append(f"{m.text} at {m.location.get('url')}")

    page.on("console", console)
    return errors


def submit(page, selector: str) -> None:
    """Click a form's button and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def wait_until(page, expression: str, timeout: float = 30.0) -> None:
    """Poll a JavaScript expression until it is true (page.wait_for_function evaluates strings
    with eval, which the pages' policy forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout:g} s: {expression}")
        page.wait_for_timeout(100)
