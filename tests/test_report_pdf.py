"""`fartkoll planner report --out X.pdf`: a real PDF printed by headless Chromium."""

from __future__ import annotations

import re
import shutil

import pytest

from fartkoll.cli import main
from planner.report.pdf import PdfError, find_chromium, html_to_pdf

needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
    reason="chromium is not installed (make test installs it: apt-get install chromium)")


def _pages(pdf: bytes) -> int:
    counts = [int(m) for m in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf, re.S)]
    counts += [int(m) for m in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", pdf, re.S)]
    return max(counts, default=0)


@needs_chromium
@pytest.mark.parametrize("lang", ["sv", "en"])
def test_report_command_writes_a_pdf(demo_ro_url, monkeypatch, tmp_path, capsys, lang):
    monkeypatch.setenv("DATABASE_URL", demo_ro_url)
    out = tmp_path / f"lagesbild.{lang}.pdf"
    assert main(["planner", "report", "--week", "2024-W42", "--lang", lang, "--at", "2024-11-04T09:00",
                 "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert _pages(data) >= 2  # the picture runs over more than one A4 page


def test_report_command_writes_html_to_stdout(demo_ro_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", demo_ro_url)
    assert main(["planner", "report", "--week", "42", "--lang", "en", "--at", "2024-11-04T09:00"]) == 0
    html = capsys.readouterr().out
    assert html.startswith("<!DOCTYPE html>") and "week 42, 2024" in html
    assert main(["planner", "report", "--week", "2024-W60"]) == 2
    assert "2024-W44" in capsys.readouterr().err


@needs_chromium
def test_html_to_pdf_directly(tmp_path):
    out = html_to_pdf("<!DOCTYPE html><html><body><h1>Lägesbild</h1></body></html>", tmp_path / "x" / "a.pdf")
    assert out.exists() and _pages(out.read_bytes()) == 1


def test_missing_chromium_says_how_to_install_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("planner.report.pdf.CHROMIUM_CANDIDATES", ("chromium-that-is-not-there",))
    with pytest.raises(PdfError, match="apt-get install chromium"):
        find_chromium()
    with pytest.raises(PdfError, match="apt-get install chromium"):
        find_chromium("/opt/no/chromium")
