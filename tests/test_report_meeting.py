"""The situation picture as the joint meeting reads it: one row per site with its best hours, the
limit change marked on the chart, units on change columns, a week without data that says so,
local times with their zone, both languages; the PDF fits its pages."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest

from fartkoll.demo import world as W
from planner.report.data import gather
from planner.report.model import Week
from planner.report.render import render_html
from planner.settings import PlannerSettings

UTC = timezone.utc
NOW = datetime(2024, 11, 4, 8, 0, tzinfo=UTC)
LAST = Week.last_complete(NOW)
EMPTY = Week(2024, 50)
PLANNER = PlannerSettings()
DUMP = os.environ.get("REPORT_VIEW_DIR")  # a directory: write the rendered pages there to look at


@pytest.fixture(scope="module")
def pics(demo_ro_url):
    with psycopg.connect(demo_ro_url) as conn:
        yield {w.label: gather(conn, w, PLANNER, now=datetime(2024, 12, 20, tzinfo=UTC) if w == EMPTY else NOW)
               for w in (LAST, EMPTY)}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _html(pic, lang):
    html = render_html(pic, lang)
    if DUMP:
        Path(DUMP, f"{pic.week.label}-{lang}.html").write_text(html, encoding="utf-8")
    return html


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_ranking_lists_each_site_once_with_its_best_hours(pics, lang):
    pic = pics[LAST.label]
    names = [c.site_name for c in pic.top]
    assert len(names) == len(set(names)) >= 5
    assert all(1 <= len(c.best_hours) <= 2 for c in pic.top)
    assert all(c.best_hours[0].weekday == c.weekday and c.best_hours[0].hour == c.hour for c in pic.top)
    top = re.search(r'<section id="top".*?</section>', _html(pic, lang), re.S).group(0)
    assert top.count("<tr>") == len(pic.top) + 1  # header + one row per site
    assert {"sv": "Bästa timmar", "en": "Best hours"}[lang] in top


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_limit_change_is_marked_on_the_trend_chart(pics, lang):
    pic = pics[LAST.label]
    kungs = next(t for t in pic.trends if t.site_name.startswith("Kungsgatan"))
    limits = [p.limit_kmh for p in kungs.points if p.limit_kmh is not None]
    assert limits[0] != W.NEW_LIMIT and limits[-1] == W.NEW_LIMIT
    html = _html(pic, lang)
    marks = re.findall(r'<g class="limit-change">.*?<text[^>]*>([^<]*)</text></g>', html)
    word = {"sv": "gräns", "en": "limit"}[lang]
    assert marks == [f"{kungs.site_name}: {word} {limits[0]} → {W.NEW_LIMIT} km/h"]


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_change_columns_carry_their_unit_and_est_is_explained_once(pics, lang):
    text = _text(_html(pics[LAST.label], lang))
    unit = {"sv": "procentenheter", "en": "percentage points"}[lang]
    assert f"Förändring ({unit})" in text if lang == "sv" else f"Change ({unit})" in text
    assert text.count("Effektiv samverkan för trafiksäkerhet") == 1
    assert {"sv": "Åter från", "en": "Return from"}[lang] in text
    assert "Revisit by" not in text and "Åter senast" not in text
    assert not re.search(r"\b1 dagar\b|\b1 days\b", text)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_times_are_local_with_their_zone(pics, lang):
    pic = pics[LAST.label]
    text = _text(_html(pic, lang))
    for c in pic.controls:
        local = c.start.astimezone(pic.week.start.tzinfo)
        assert f"{local:%Y-%m-%d %H:%M} {local:%Z}" in text
    assert re.search(r"\d\d:\d\d CES?T", text)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_a_week_without_data_says_so(pics, lang):
    pic = pics[EMPTY.label]
    assert pic.figures.vehicles == 0
    html = _html(pic, lang)
    text = _text(html)
    says = {"sv": f"Ingen trafikdata för vecka {EMPTY.week}", "en": f"No traffic data for week {EMPTY.week}"}[lang]
    assert says in text and 'id="top"' not in html and 'id="figures"' not in html
    assert {"sv": "Senaste data: 2024-11-0", "en": "Latest data: 2024-11-0"}[lang] in text


PROBE = """<pre id="probe"></pre><script>
const body = document.body.getBoundingClientRect();
const tables = [...document.querySelectorAll('table')].map(t => Math.ceil(t.getBoundingClientRect().right));
const rank = document.querySelector('#top table');
document.getElementById('probe').textContent = JSON.stringify({
  body_right: Math.ceil(body.right), tables: tables,
  top_table_y: rank ? rank.getBoundingClientRect().top : null});
</script>"""
PRINT_WIDTH_PX, PRINT_HEIGHT_PX = 695, 1009
"""A4 less the page's margins (184 × 267 mm) at 96 px per inch."""


def _layout(html: str, tmp: Path) -> dict:
    """Table extents measured by headless Chromium at the printable width."""
    import json

    from planner.report.pdf import find_chromium

    page = tmp / "probe.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    out = subprocess.run([find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp}/p",
                          f"--window-size={PRINT_WIDTH_PX},{PRINT_HEIGHT_PX}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(tmp)}).stdout
    return json.loads(re.search(r'<pre id="probe">(.*?)</pre>', out, re.S).group(1).replace("&quot;", '"'))


def _pages(pdf: bytes) -> int:
    counts = [int(m) for m in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf, re.S)]
    counts += [int(m) for m in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", pdf, re.S)]
    return max(counts, default=0)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_pdf_page_count_and_no_table_wider_than_the_page(pics, lang, tmp_path):
    from planner.report.pdf import PdfError, html_to_pdf

    html = _html(pics[LAST.label], lang)
    try:
        pdf = html_to_pdf(html, tmp_path / "r.pdf")
    except PdfError as e:
        pytest.skip(str(e))
    assert 2 <= _pages(pdf.read_bytes()) <= 6
    lay = _layout(html, tmp_path)
    assert lay["tables"] and max(lay["tables"]) <= min(lay["body_right"], PRINT_WIDTH_PX), lay
    # page 1 is not left two-thirds empty: the ranking table starts on it
    assert lay["top_table_y"] is not None and lay["top_table_y"] < PRINT_HEIGHT_PX * 0.8, lay


def test_local_times_across_the_autumn_change():
    from core.templating import helpers, local_time

    zone = "Europe/Stockholm"
    assert local_time(datetime(2024, 10, 26, 12, tzinfo=UTC), zone) == "2024-10-26 14:00 CEST"
    assert local_time(datetime(2024, 10, 27, 0, 30, tzinfo=UTC), zone) == "2024-10-27 02:30 CEST"
    assert local_time(datetime(2024, 10, 27, 1, 30, tzinfo=UTC), zone) == "2024-10-27 02:30 CET"  # the repeated hour
    assert local_time(datetime(2024, 10, 28, 12, tzinfo=UTC), zone) == "2024-10-28 13:00 CET"
    sv, en = helpers("sv", zone)["plural"], helpers("en")["plural"]
    assert (sv("days", 1), sv("days", 2), en("days", 1), en("days", 3)) == ("1 dag", "2 dagar", "1 day", "3 days")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_a_controls_note_is_in_the_picture_escaped(pics, lang):
    from dataclasses import replace

    pic = pics[LAST.label]
    assert pic.controls
    noted = replace(pic, controls=(replace(pic.controls[0], note="regn <b>hela</b> passet"), *pic.controls[1:]))
    html = render_html(noted, lang)
    word = {"sv": "Anteckning", "en": "Note"}[lang]
    assert f"{word}: regn &lt;b&gt;hela&lt;/b&gt; passet" in html and "<b>hela" not in html
