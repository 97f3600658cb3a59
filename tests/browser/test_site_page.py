"""The site page's sections, its CSV, the comparison page and the delay on past controls, over
HTTP against a real uvicorn on a copy of the demo (one server for the module), and the map with no
tile server configured in a real headless Chromium."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from servers import running

from api.app import create_app
from fartkoll.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ARTIFACTS.mkdir(exist_ok=True)
ZONE = ZoneInfo("Europe/Stockholm")


@pytest.fixture(scope="module")
def demo(server_url, demo_template) -> Iterator[tuple[str, str, dict[str, int]]]:
    """(base URL of a server without tiles, database URL, site ids by name) on a copy of the demo."""
    from seeded_demo import copy_of_demo

    for url in copy_of_demo(server_url, demo_template):
        with psycopg.connect(url) as conn:
            sites = dict(conn.execute("SELECT name, id FROM sites ORDER BY id").fetchall())
        with running(create_app(Settings(database_url=url))) as base:
            yield base, url, sites


@pytest.fixture(scope="module")
def http(demo) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo[0], timeout=60) as c:
        yield c


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_site_page_draws_every_section_as_svg_with_its_text_alternative_and_table(demo, http):
    _, _, sites = demo
    sid = sites["Kungsgatan vid Kvarnbacken, Ängsvik"]  # its limit went from 50 to 40 km/h in the demo
    page = http.get(f"/sites/{sid}?lang=en").text
    svgs = re.findall(r"<svg[^>]*class=\"chart\".*?</svg>", page, re.S)
    ids = [re.search(r'aria-labelledby="([\w-]+)-t ', s).group(1) for s in svgs]
    assert any(i.startswith("heat-") for i in ids) and "trend-v85" in ids and "trend-within" in ids
    assert "display" in ids and any(i.startswith("dist-") for i in ids) and any(i.startswith("prof-") for i in ids)
    for s in svgs:  # every chart names itself and says what it shows
        assert re.search(r"<title id=\"[\w-]+-t\">[^<]{5,}</title>", s)
        assert re.search(r"<desc id=\"[\w-]+-d\">[^<]{20,}</desc>", s)
    assert page.count('<table class="data') >= len(svgs) - 1  # the display chart shares one table
    assert "50→40" in page and "from 50 to 40 km/h" in page  # the limit change is marked on the trends
    assert "V85 by hour and weekday" in page and "Sign showing speeds or measuring hidden" in page
    assert 'hx-get="/sites/%d/controls"' % sid in page and 'href="/sites/%d/controls"' % sid in page
    sv = http.get(f"/sites/{sid}?lang=sv").text
    assert "Timme och veckodag" in sv and "Utveckling vecka för vecka" in sv


def test_the_csv_carries_the_page_s_figures_and_no_cell_under_30_vehicles(demo, http):
    _, _, sites = demo
    sid = sites["Storgatan vid torget, Ängsvik"]
    page = http.get(f"/sites/{sid}?lang=en").text
    r = http.get(f"/sites/{sid}/figures.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = rows_of(r.text)
    sections = {row["section"] for row in rows}
    assert sections == {"figures", "hour_profile", "hour_of_week", "distribution", "weekly_trend", "display_vs_stealth"}
    first, last = re.search(r"Period (\d{4}-\d\d-\d\d) to (\d{4}-\d\d-\d\d)", page).groups()
    for row in rows:
        if row["section"] != "weekly_trend":
            assert (row["period_from"], row["period_to"]) == (first, last)
        if row["withheld"] == "true":
            assert row["n"] == row["v85_kmh"] == row["mean_kmh"] == ""
        elif row["n"]:
            assert int(row["n"]) >= 30, row
    # the same numbers as the page: every group's V85 and vehicles, and every week of the trend
    for row in (r for r in rows if r["section"] == "figures" and r["withheld"] == "false"):
        assert f"{float(row['v85_kmh']):.1f} km/h" in page
        assert f"{int(row['n']):,}".replace(",", "\u202f") in page
    trend = [r for r in rows if r["section"] == "weekly_trend"]
    assert trend and len(trend) == page.count("(week ")
    heat = [r for r in rows if r["section"] == "hour_of_week"]
    assert len(heat) % 168 == 0 and any(r["withheld"] == "true" for r in heat)  # the quiet night hours


def test_a_control_inside_the_delay_is_not_shown_and_an_older_one_is(demo, http):
    _, url, sites = demo
    sid = sites["Björkvägen 16, Ängsvik"]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    recent, old = now - timedelta(days=3), now - timedelta(days=30)
    with psycopg.connect(url) as conn:
        for start in (recent, old):
            conn.execute("INSERT INTO controls (site_id, start_time, end_time, method, planned, note) "
                         "VALUES (%s, %s, %s, 'laser', false, '')", (sid, start, start + timedelta(hours=1)))
    page = http.get(f"/sites/{sid}/controls?lang=en").text
    assert page.count('<article class="card control"') == 1
    assert f"Control on {old.astimezone(ZONE):%Y-%m-%d}" in page
    recent_day = recent.astimezone(ZONE).strftime("%Y-%m-%d")
    assert recent_day not in page
    assert recent_day not in http.get(f"/sites/{sid}?lang=en").text
    assert recent_day not in http.get(f"/sites/{sid}/figures.csv").text
    assert http.get("/sites/999999/controls").status_code == 404


def test_the_page_follows_a_change_of_what_it_rests_on(demo, http):
    _, url, sites = demo
    sid = sites["Sjövägen vid badplatsen, Tallbacka"]
    assert "<h1>Sjövägen vid badplatsen, Tallbacka</h1>" in http.get(f"/sites/{sid}").text
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE sites SET name = 'Sjövägen 1, Tallbacka' WHERE id = %s", (sid,))
    assert "<h1>Sjövägen 1, Tallbacka</h1>" in http.get(f"/sites/{sid}").text
    before = rows_of(http.get(f"/sites/{sid}/figures.csv").text)
    with psycopg.connect(url) as conn:  # one more vehicle in the busiest hour of the period
        conn.execute("UPDATE rollup_hourly SET n = n + 1, sum_kmh = sum_kmh + array_lower(hist, 1), "
                     "sumsq_kmh = sumsq_kmh + array_lower(hist, 1) ^ 2, "
                     "hist[array_lower(hist, 1)] = hist[array_lower(hist, 1)] + 1 WHERE (site_id, hour, direction, display) = "
                     "(SELECT site_id, hour, direction, display FROM rollup_hourly WHERE site_id = %s "
                     "ORDER BY hour DESC, n DESC LIMIT 1)", (sid,))
    after = rows_of(http.get(f"/sites/{sid}/figures.csv").text)
    n = lambda rows: sum(int(r["n"]) for r in rows if r["section"] == "figures" and r["n"])  # noqa: E731
    assert n(after) == n(before) + 1


def test_compare_page_csv_and_its_refusals(demo, http):
    _, _, sites = demo
    a, b = sites["Storgatan vid torget, Ängsvik"], sites["Kyrkogatan 12, Tallbacka"]
    page = http.get(f"/compare?site={a}&site={b}&lang=en").text
    result = page[page.index("Side by side"):]
    assert result.index("Storgatan vid torget") < result.index("Kyrkogatan 12")
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2
    assert f'name="site" value="{a}" checked' in page
    rows = rows_of(http.get(f"/compare.csv?site={a}&site={b}").text)
    assert {int(r["site_id"]) for r in rows} == {a, b}
    assert all(r["n"] == "" or int(r["n"]) >= 30 for r in rows)
    assert "Side by side" not in http.get("/compare?lang=en").text  # the form alone
    assert http.get("/compare?site=999999").status_code == 404
    many = "&".join(f"site={i}" for i in sorted(sites.values())[:9])
    assert http.get(f"/compare?{many}").status_code in (400, 422)
    home = http.get("/?lang=en").text
    assert 'href="/compare"' in home and 'href="/sites.csv"' in home
    listed = rows_of(http.get("/sites.csv").text)
    assert {int(r["site_id"]) for r in listed} <= set(sites.values()) and listed


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_without_tiles_the_map_shows_every_site_and_its_name_on_a_plain_background(demo):
    playwright_sync = pytest.importorskip("playwright.sync_api")
    base, url, _ = demo
    with psycopg.connect(url) as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM sites WHERE lat IS NOT NULL")]
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = b.new_page(viewport={"width": 1280, "height": 800})
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url))
        page.goto(f"{base}/?lang=en")
        page.wait_for_function("document.getElementById('map').dataset.markers !== undefined")
        assert all(u.startswith(base) for u in asked)  # no tile server, no other origin
        assert page.locator("#map.map-plain").count() == 1
        assert page.locator("#map path.leaflet-interactive").count() == len(names)
        assert sorted(page.locator("#map .site-label").all_text_contents()) == sorted(names)
        assert sorted(page.locator(".map-list a").all_inner_texts()) == sorted(names)
        shown = int(page.locator("#map").get_attribute("data-labels-shown"))
        assert 1 <= shown <= len(names)
        page.locator("#map path.leaflet-interactive").first.hover(force=True)
        page.screenshot(path=str(ARTIFACTS / "home-no-tiles-desktop.png"))
        b.close()
