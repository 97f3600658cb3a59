"""The public pages in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright)
against a real uvicorn on the seeded demo: both languages, no console error, no request to any
other origin, axe-core without serious or critical violations, the map with its tiles blocked,
screenshots at desktop and phone size in tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from ready import wait_until_ready
from servers import running

from api.app import create_app
from fartkoll.settings import Settings, WebSettings

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SOURCE = AXE.read_text()
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ARTIFACTS.mkdir(exist_ok=True)
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
TILES = "https://tiles.example.org/{z}/{x}/{y}.png"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(demo_ro_url) -> Iterator[tuple[str, list[dict]]]:
    """(base URL of a server on the shared read-only copy of the demo with a tile URL set, the
    demo's sites with a place); one server for the module (the pages only read)."""
    with psycopg.connect(demo_ro_url) as conn:
        sites = [{"id": i, "name": n} for i, n in
                 conn.execute("SELECT id, name FROM sites WHERE lat IS NOT NULL ORDER BY id").fetchall()]
    app = create_app(Settings(database_url=demo_ro_url, web=WebSettings(tiles_url=TILES)))
    with running(app) as base:
        yield base, sites


class Watch:
    """Console errors, page errors and every request that left the server's origin (aborted)."""

    def __init__(self, page, base: str) -> None:
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(r):
            if r.request.url.startswith(base + "/") or r.request.url == base:
                r.continue_()
            else:
                self.foreign.append(r.request.url)
                r.abort()

        page.route("**/*", route)

    def _console(self, m) -> None:
        # a request this test aborted (a blocked tile) logs a load failure: that one is ours
        if m.type == "error" and m.location.get("url") not in self.foreign:
            self.errors.append(f"{m.text} at {m.location.get('url')}")


def axe_violations(browser, url: str, viewport: dict) -> list[str]:
    """Serious or critical axe-core findings on the page at ``url``. axe is injected with
    add_script_tag, an inline script the page's own policy forbids, so this one context bypasses
    the policy (the other checks run under it)."""
    context = browser.new_context(bypass_csp=True, viewport=viewport)
    origin = "/".join(url.split("/")[:3]) + "/"
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(origin) else r.abort())
    page = context.new_page()
    page.goto(url)
    wait_until_ready(page)
    page.add_script_tag(path=str(AXE))
    found = axe_on(page)
    context.close()
    return found


def axe_on(page) -> list[str]:
    """Serious or critical axe-core findings on ``page`` as it is now, once it is ready. axe is
    evaluated (not added as a script tag, which the page's own policy forbids), so the page is the
    one the test loaded, under its policy."""
    wait_until_ready(page)
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_home_and_a_site_page_in_both_languages_at_both_sizes(browser, site):
    base, sites = site
    first = sites[0]
    for size, viewport in VIEWPORTS.items():
        for lang, heading in (("sv", "Hastigheter på våra gator"), ("en", "Speeds on our streets")):
            page = browser.new_page(viewport=viewport)
            watch = Watch(page, base)
            r = page.goto(f"{base}/?lang={lang}")
            assert r.status == 200
            csp = r.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert page.locator("html").get_attribute("lang") == lang
            assert page.locator("h1").inner_text() == heading
            page.wait_for_function("document.getElementById('map').dataset.markers !== undefined")
            assert page.locator("table.sites tbody tr").count() >= len(sites)
            page.screenshot(path=str(ARTIFACTS / f"home-{lang}-{size}.png"), full_page=True)
            assert axe_on(page) == []
            r = page.goto(f"{base}/sites/{first['id']}")  # the language cookie carries over
            assert r.status == 200
            assert page.locator("html").get_attribute("lang") == lang
            assert page.locator("h1").inner_text() == first["name"]
            assert page.locator("svg.chart").count() >= 2
            assert page.locator("svg.chart title").first.text_content().strip() != ""
            v85 = page.locator(".figures dd").first.inner_text()
            assert re.fullmatch(r"\d+[.,]\d km/h", v85), v85
            page.wait_for_selector("#controls-body")  # the effect of past controls, loaded by htmx
            page.screenshot(path=str(ARTIFACTS / f"site-{lang}-{size}.png"), full_page=True)
            assert axe_on(page) == []
            ids = "&".join(f"site={s['id']}" for s in sites[:3])
            r = page.goto(f"{base}/compare?{ids}")
            assert r.status == 200
            assert page.locator("table.data tbody th a").all_inner_texts() == [s["name"] for s in sites[:3]]
            assert page.locator("svg.chart").count() == 2
            page.screenshot(path=str(ARTIFACTS / f"compare-{lang}-{size}.png"), full_page=True)
            if lang == "en":  # the layout is the language's; once per size keeps the test within its time
                assert axe_on(page) == []
            r = page.goto(f"{base}/sites/{first['id']}/controls")
            assert r.status == 200
            if lang == "en":
                assert axe_on(page) == []
            assert watch.errors == []
            assert watch.foreign == [] or all(u.startswith("https://tiles.example.org/") for u in watch.foreign)
            page.close()


def test_the_map_shows_every_site_with_its_tiles_blocked(browser, site):
    base, sites = site
    page = browser.new_page(viewport=VIEWPORTS["desktop"])
    watch = Watch(page, base)
    page.goto(f"{base}/?lang=en")
    page.wait_for_function("document.getElementById('map').dataset.markers !== undefined")
    assert page.locator("#map path.leaflet-interactive").count() == len(sites)
    labels = page.locator("#map .site-label").all_text_contents()
    assert sorted(labels) == sorted(s["name"] for s in sites)
    # where sites cluster, no two visible names overlap
    boxes = page.eval_on_selector_all(
        "#map .site-label:not(.label-hidden)", "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; })")
    assert boxes
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    assert watch.foreign, "the tile URL was set, so the map asked for tiles (and they were blocked)"
    assert all(u.startswith("https://tiles.example.org/") for u in watch.foreign)
    assert watch.errors == []
    page.close()


# The popup is shown once it has faded in and stopped moving (Leaflet pans the map so that it
# fits): clicked while the map still pans, the press and the release land on different elements
# and no link is followed (3 of 40 tries at phone size before this wait, 0 of 40 after it).
POPUP_SETTLED = """() => {
  const p = document.querySelector('.leaflet-popup');
  if (!p || getComputedStyle(p).opacity !== '1') { return false; }
  const r = p.getBoundingClientRect(), at = [r.left, r.top, window.scrollX, window.scrollY].join();
  const same = window.__popupAt === at;
  window.__popupAt = at;
  return same;
}"""


def settle_popup(page) -> None:
    page.wait_for_function(POPUP_SETTLED, polling=150)


def test_a_site_s_figures_in_two_clicks_from_the_map_and_without_javascript(browser, site):
    base, sites = site
    page = browser.new_page(viewport=VIEWPORTS["phone"])
    Watch(page, base)
    page.goto(f"{base}/?lang=en")
    page.wait_for_function("document.getElementById('map').dataset.markers !== undefined")
    page.locator("#map path.leaflet-interactive").first.click(force=True)  # click 1: a site on the map
    settle_popup(page)
    page.locator(".leaflet-popup-content a").click()  # click 2: its figures
    page.wait_for_url(re.compile(r"/sites/\d+$"), timeout=15000)
    assert re.search(r"/sites/\d+$", page.url)
    assert page.locator("h2#fig-h").inner_text() == "Figures"
    assert page.locator(".figures dt").first.inner_text().startswith("V85")
    page.close()
    context = browser.new_context(java_script_enabled=False, viewport=VIEWPORTS["phone"])
    page = context.new_page()
    page.goto(f"{base}/")
    assert "JavaScript" in page.locator("#map").inner_text()
    page.locator("table.sites a", has_text=sites[0]["name"]).first.click()
    assert page.locator("h1").inner_text() == sites[0]["name"]
    assert page.locator("svg.chart").count() >= 2
    context.close()
