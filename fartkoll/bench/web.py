"""`fartkoll bench web`: every public page's server time and weight on the demo, beside the time
of the API call the page rests on, measured in the same run.

A scratch database gets the demo data set (``fartkoll demo seed``), a `fartkoll serve` process
serves it, and one keep-alive client on the loopback asks, round after round, for every page of
every site and the API call beside it (so the two sides share the machine's load). A request's
time is its round trip on the loopback: the server's time plus well under a millisecond. The
first request of each URL is counted apart as "first" (a site page gathers its figures then;
later requests find them kept until the data change; with signs uploading between two requests
every request is a "first" one). The site CSV comes after the site page in each round, so it
finds the page's figures kept. A page's weight is its HTML plus every
stylesheet, script and image it links and every partial htmx loads into it, uncompressed, without
map tiles (the demo names no tile server).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
import numpy as np
import psycopg

from .api import _free_port, _serve, _wait_healthy
from .scratch import scratch_database

GOAL_MS, GOAL_KB = 200.0, 300.0
ASSET = re.compile(r'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src|img[^>]+src)="([^"]+)"')
PARTIAL = re.compile(r'hx-get="([^"]+)"')


@dataclass(frozen=True)
class Kind:
    """A public page kind: its URL and the API call it rests on, per site (or once)."""

    name: str
    page: Callable[[int], str]
    api: Callable[[int], str]
    per_site: bool = True


def kinds(site_ids: list[int]) -> list[Kind]:
    three = site_ids[:3]
    return [
        Kind("map /", lambda s: "/", lambda s: "/api/v1/sites", per_site=False),
        Kind("site /sites/{id}", lambda s: f"/sites/{s}", lambda s: f"/api/v1/sites/{s}/profile"),
        Kind("past controls /sites/{id}/controls", lambda s: f"/sites/{s}/controls",
             lambda s: f"/api/v1/sites/{s}/controls"),
        Kind("compare /compare?site=…", lambda s: "/compare?" + "&".join(f"site={i}" for i in three),
             lambda s: "/api/v1/compare?sites=" + ",".join(str(i) for i in three), per_site=False),
        Kind("site CSV /sites/{id}/figures.csv", lambda s: f"/sites/{s}/figures.csv",
             lambda s: f"/api/v1/sites/{s}/export?format=csv"),
    ]


@dataclass(frozen=True)
class Timing:
    first_ms: tuple[float, ...]
    later_ms: tuple[float, ...]

    def p(self, q: float, which: str = "all") -> float:
        xs = {"first": self.first_ms, "later": self.later_ms, "all": self.first_ms + self.later_ms}[which]
        return float(np.percentile(np.array(xs), q)) if xs else float("nan")


@dataclass(frozen=True)
class KindFigures:
    name: str
    page: Timing
    api: Timing
    api_name: str
    weight_bytes: int
    parts: int


@dataclass(frozen=True)
class WebFigures:
    sites: int
    weeks: int
    rounds: int
    kinds: tuple[KindFigures, ...]

    def report(self) -> str:
        lines = [f"fartkoll bench web: the demo ({self.sites} sites, {self.weeks} weeks), one keep-alive client, "
                 f"{self.rounds} rounds; goals: server time p95 < {GOAL_MS:.0f} ms, weight < {GOAL_KB:.0f} kB",
                  f"  {'page':<36} {'p50':>8} {'p95':>8} {'first p95':>10} {'later p95':>10} {'weight':>9}   "
                 f"{'API call it rests on':<30} {'p50':>8} {'p95':>8}  page/API p95"]
        for k in self.kinds:
            ok_t = "ok" if k.page.p(95) < GOAL_MS else "OVER"
            ok_w = "ok" if k.weight_bytes / 1000 < GOAL_KB else "OVER"
            lines.append(
                f"  {k.name:<36} {k.page.p(50):6.1f}ms {k.page.p(95):6.1f}ms {k.page.p(95, 'first'):8.1f}ms "
                f"{k.page.p(95, 'later'):8.1f}ms {k.weight_bytes / 1000:6.1f} kB   {k.api_name:<30} "
                f"{k.api.p(50):6.1f}ms {k.api.p(95):6.1f}ms  "
                f"{k.page.p(95) / k.api.p(95):5.2f}×  time {ok_t}, weight {ok_w} ({k.parts} files)")
        return "\n".join(lines)


def weight(client: httpx.Client, url: str) -> tuple[int, int]:
    """Bytes of the page at ``url`` with everything it loads (no tiles), and how many files."""
    html = client.get(url)
    total, seen = len(html.content), {url}
    text = html.text if html.headers.get("content-type", "").startswith("text/html") else ""
    for ref in ASSET.findall(text) + PARTIAL.findall(text):
        target = urljoin(url, ref)
        if target in seen:
            continue
        seen.add(target)
        total += len(client.get(target).content)
    return total, len(seen)


def _timed(client: httpx.Client, url: str) -> float:
    t = time.perf_counter()
    r = client.get(url)
    ms = (time.perf_counter() - t) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"GET {url} answered {r.status_code}: {r.text[:300]}")
    return ms


def measure(base: str, site_ids: list[int], rounds: int) -> list[KindFigures]:
    out = []
    with httpx.Client(base_url=base, timeout=120) as client:
        ks = kinds(site_ids)
        first: dict[str, list[float]] = {}
        later: dict[str, list[float]] = {}
        seen: set[str] = set()
        for _ in range(rounds):
            for k in ks:
                for s in site_ids if k.per_site else site_ids[:1]:
                    for key, url in ((k.name, k.page(s)), ("api " + k.name, k.api(s))):
                        ms = _timed(client, url)
                        (later if url in seen else first).setdefault(key, []).append(ms)
                        seen.add(url)
        for k in ks:
            w, parts = weight(client, base + k.page(site_ids[0]))
            out.append(KindFigures(
                k.name, Timing(tuple(first.get(k.name, [])), tuple(later.get(k.name, []))),
                Timing(tuple(first.get("api " + k.name, [])), tuple(later.get("api " + k.name, []))),
                re.sub(r"/\d+(?=/|$)", "/{id}", k.api(site_ids[0]).split("?")[0]), w, parts))
    return out


def run(server_url: str, *, weeks: int = 8, rounds: int = 10, seed: int = 1) -> WebFigures:
    """Seed the demo into a scratch database, serve it, measure (see the module docstring)."""
    from fartkoll.demo import seed as seed_demo

    with scratch_database(server_url, "web") as url:
        with psycopg.connect(url) as conn:
            seed_demo(conn, weeks=weeks, seed=seed, log=lambda m: None)
            conn.commit()
            site_ids = [r[0] for r in conn.execute("SELECT id FROM sites ORDER BY id")]
        port = _free_port()
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "serve.log"
            proc = _serve(url, port, 1, log)
            try:
                _wait_healthy("127.0.0.1", port, proc, log)
                figures = measure(f"http://127.0.0.1:{port}", site_ids, rounds)
            finally:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return WebFigures(len(site_ids), weeks, rounds, tuple(figures))
