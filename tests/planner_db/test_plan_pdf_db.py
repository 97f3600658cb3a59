"""`fartkoll planner plan --pdf OUT`: the printable plan page printed to an A4 PDF by headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess

import psycopg
import pytest

from fartkoll.cli import main
from planner.report.pdf import PdfError, find_chromium


def _have_chromium() -> bool:
    try:
        find_chromium()
    except PdfError:
        return False
    return True


needs_chromium = pytest.mark.skipif(not _have_chromium(),
                                    reason="chromium is not installed (make test installs it: apt-get install chromium)")


@pytest.fixture
def plan_cli(pdemo_url, monkeypatch, capsys, tmp_path):
    """Runs `fartkoll planner plan` on a fresh demo copy with one small patrol slot; returns (code, out, err)."""
    monkeypatch.setenv("DATABASE_URL", pdemo_url)
    monkeypatch.delenv("FARTKOLL_CONFIG", raising=False)
    slots = tmp_path / "slots.csv"
    slots.write_text("date,start,end,units\n2024-11-05,07:00,09:00,1\n")

    def run(*argv):
        code = main(["planner", "plan", "--slots", str(slots), "--seed", "7", "--actor", "tester", *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@needs_chromium
def test_plan_pdf_is_the_printable_page_on_a4(plan_cli, tmp_path):
    pdf, html = tmp_path / "out" / "plan.pdf", tmp_path / "plan.html"
    code, out, err = plan_cli("--pdf", str(pdf), "--html", str(html))
    assert code == 0, err
    assert out.startswith("plan 1:")
    assert "@page { size: A4" in html.read_text(encoding="utf-8")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    pages = [int(n) for n in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data, re.S)]
    assert pages and max(pages) >= 1
    # A4 (595 × 842 pt), landscape for the wide table of controls
    assert re.search(rb"/MediaBox\s*\[0 0 (59[45]\.\d+ 84[12]|84[12]\.\d+ 59[45])\.?\d*\]", data)
    assert b"(Kontrollplan 1)" in data  # the page title, in the plan's language (Swedish by default)
    if shutil.which("pdftotext"):  # the text itself is compressed; read it only where poppler is installed
        text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                       check=True).stdout.split())
        sites = re.findall(r"unit \d+: (.+?) dir \d", out)
        assert sites and "Kontroller / Controls" in text
        assert all(s.split(",")[0].split()[0] in text for s in sites)


def test_plan_pdf_without_chromium_stores_no_plan(plan_cli, pdemo_url, monkeypatch, tmp_path):
    monkeypatch.delenv("FARTKOLL_CHROMIUM", raising=False)
    monkeypatch.setattr("planner.report.pdf.CHROMIUM_CANDIDATES", ("chromium-that-is-not-there",))
    pdf = tmp_path / "plan.pdf"
    code, out, err = plan_cli("--pdf", str(pdf))
    assert code == PdfError.exit_code == 7 and out == ""  # Unavailable: install chromium
    assert err.startswith("fartkoll planner plan: no Chromium found") and "apt-get install chromium" in err
    assert not pdf.exists()
    with psycopg.connect(pdemo_url) as conn:
        assert conn.execute("SELECT count(*) FROM plans").fetchone() == (0,)
