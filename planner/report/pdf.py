"""HTML to PDF with headless Chromium (``--print-to-pdf``), run as a subprocess.

The page's own ``@page`` rule sets the paper (A4) and margins; Chromium's header and footer are
switched off. Each run uses a throw-away profile directory and no network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from core.errors import Unavailable

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
DEFAULT_TIMEOUT_S = 60.0


class PdfError(Unavailable):
    """The PDF could not be made; the message says why and what to install or change."""


def find_chromium(explicit: str | None = None) -> str:
    """Path of a Chromium binary: ``explicit``, ``$FARTKOLL_CHROMIUM``, or the usual names on PATH."""
    for name in ([explicit] if explicit else []) + [os.environ.get("FARTKOLL_CHROMIUM", "")] + list(CHROMIUM_CANDIDATES):
        if not name:
            continue
        path = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name)
        if path:
            return path
        if explicit and name == explicit:
            raise PdfError(f"Chromium binary {explicit!r} not found or not executable; install it with "
                           f"`apt-get install chromium` or point FARTKOLL_CHROMIUM at it")
    raise PdfError("no Chromium found for PDF output (looked for /usr/bin/chromium, chromium, chromium-browser, "
                   "google-chrome); install it with `apt-get install chromium`, set FARTKOLL_CHROMIUM, "
                   "or write HTML only")


def chromium_command(chromium: str, profile_dir: str, html: Path, out: Path) -> list[str]:
    return [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
        f"--user-data-dir={profile_dir}", "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
        f"--print-to-pdf={out}", html.resolve().as_uri(),
    ]


def html_to_pdf(html: str, out: str | os.PathLike[str], *, chromium: str | None = None,
                timeout_s: float = DEFAULT_TIMEOUT_S) -> Path:
    """Write ``html`` (a whole document) as a PDF to ``out``; returns the path."""
    binary = find_chromium(chromium)
    out_path = Path(out).resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fartkoll-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        target = Path(tmp) / "report.pdf"
        profile = Path(tmp) / "profile"
        profile.mkdir()
        cmd = chromium_command(binary, str(profile), page, target)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                                  env={**os.environ, "HOME": tmp})
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium ({binary}) did not finish the PDF within {timeout_s:.0f} s; "
                           f"retry, or raise the timeout") from None
        if proc.returncode != 0 or not target.exists() or target.stat().st_size == 0:
            tail = "\n".join((proc.stderr or "").strip().splitlines()[-5:])
            raise PdfError(f"Chromium ({binary}) exited with {proc.returncode} and wrote no PDF: {tail or 'no output'}")
        shutil.move(str(target), out_path)
    return out_path
