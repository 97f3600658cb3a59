"""`fartkoll bench web`: every page's server time and weight on the demo, beside the time of the
API call the page rests on, measured in the same run.

A scratch database gets the demo data set, the cells job's running totals and daily sums and the
followups job's kept follow-ups, as ``fartkoll demo`` prepares them; a `fartkoll serve` process
serves it. One keep-alive client on the loopback asks, round after round, for every public and
citizen page (of every site) and the API call beside it (so the two sides share the machine's
load); a second client, logged in as a
viewer through the real login form, does the same for the staff pages of the viewer's sites. A request's
time is its round trip on the loopback: the server's time plus well under a millisecond. The
first request of each URL is counted apart as "first" (a site page gathers its figures then;
later requests find them kept until the data change; with signs uploading between two requests
every request is a "first" one). The site CSV comes after the site page in each round, so it
finds the page's figures kept. Before the rounds the server answers one request for a page that
rests on no data (``WARM_UP``, not counted), so the map's first request is not also the server
process's first. A page that rests on no API call (the promise, the tip form, the
archive of situation pictures) is timed alone. A page's weight is its HTML plus every
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
VIEWER_EMAIL, VIEWER_PASSWORD = "bench-viewer@demo.fartkoll.example", "bench web viewer password"
"""The viewer the staff pages are asked for by (made in the scratch database only)."""
ASSET = re.compile(r'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src|img[^>]+src)="([^"]+)"')
PARTIAL = re.compile(r'hx-get="([^"]+)"')
WARM_UP = "/tips/thanks"
"""Asked for once before the rounds, not counted: a page that rests on no data, so the first
request of the first page measured (the map) is the first after a data change, not also the
server process's first (its templates compiled, its pool's connections opened)."""


@dataclass(frozen=True)
class Kind:
    """A page kind: its URL and the API call it rests on (None: it rests on none), per site (or
    once); ``staff``: asked for by the logged-in viewer, for the viewer's sites."""

    name: str
    page: Callable[[int], str]
    api: Callable[[int], str] | None
    per_site: bool = True
    staff: bool = False


def kinds(site_ids: list[int]) -> list[Kind]:
    """The public and citizen pages (anonymous)."""
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
        Kind("promise /promise", lambda s: "/promise", None, per_site=False),
        Kind("tip form /tips/new", lambda s: "/tips/new", None, per_site=False),
    ]


def staff_kinds() -> list[Kind]:
    """The staff pages (a viewer), asked for with the viewer's session."""
    return [
        Kind("staff site /staff/sites/{id}", lambda s: f"/staff/sites/{s}", lambda s: f"/api/v1/sites/{s}/stats",
             staff=True),
        Kind("measures /sites/{id}/measures", lambda s: f"/sites/{s}/measures",
             lambda s: f"/api/v1/sites/{s}/measures", staff=True),
        Kind("archive /staff/reports", lambda s: "/staff/reports", None, per_site=False, staff=True),
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
    staff_sites: int = 0
    load: tuple[float, float] = (float("nan"), float("nan"))

    def report(self) -> str:
        lines = [f"fartkoll bench web: the demo ({self.sites} sites, {self.weeks} weeks), one keep-alive client, "
                 f"{self.rounds} rounds; goals: server time p95 < {GOAL_MS:.0f} ms, weight < {GOAL_KB:.0f} kB",
                  f"  {'page':<36} {'p50':>8} {'p95':>8} {'first p95':>10} {'later p95':>10} {'weight':>9}   "
                 f"{'API call it rests on':<30} {'p50':>8} {'p95':>8}  page/API p95"]
        for k in self.kinds:
            ok_t = "ok" if k.page.p(95) < GOAL_MS else "OVER"
            ok_w = "ok" if k.weight_bytes / 1000 < GOAL_KB else "OVER"
            api = (f"{k.api_name:<30} {k.api.p(50):6.1f}ms {k.api.p(95):6.1f}ms  {k.page.p(95) / k.api.p(95):5.2f}×"
                   if k.api_name else f"{'(none)':<30} {'–':>8} {'–':>8}  {'–':>5} ")
            lines.append(
                f"  {k.name:<36} {k.page.p(50):6.1f}ms {k.page.p(95):6.1f}ms {k.page.p(95, 'first'):8.1f}ms "
                f"{k.page.p(95, 'later'):8.1f}ms {k.weight_bytes / 1000:6.1f} kB   {api}  "
                f"time {ok_t}, weight {ok_w} ({k.parts} files)")
        lines.append(f"  staff pages: a viewer of {self.staff_sites} sites, logged in through /login; "
                     f"load average before {self.load[0]:.2f}, after {self.load[1]:.2f} (1 min)")
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


def login(client: httpx.Client, email: str, password: str) -> None:
    """Log in through the login form, as a browser does: its page sets the CSRF cookie, the form
    posts it back; the session cookie stays in the client."""
    page = client.get("/login")
    page.raise_for_status()
    token = re.search(r'name="csrftoken" value="([^"]*)"', page.text)
    r = client.post("/login", data={"email": email, "password": password, "next": "/staff",
                                    "csrftoken": token.group(1) if token else ""})
    if r.status_code != 303:
        raise RuntimeError(f"login as {email} answered {r.status_code}: {r.text[:300]}")


def measure(base: str, site_ids: list[int], rounds: int, staff_site_ids: list[int] | None = None,
            viewer: tuple[str, str] | None = None) -> list[KindFigures]:
    """Each kind's timings over ``rounds`` rounds and its weight; the staff kinds only with a
    viewer (email, password) and their sites."""
    out = []
    with httpx.Client(base_url=base, timeout=120) as anon, httpx.Client(base_url=base, timeout=120) as staff:
        ks = kinds(site_ids)
        _timed(anon, WARM_UP)  # the process's own start (templates, the pool's connections): no page's data
        if viewer and staff_site_ids:
            login(staff, *viewer)
            ks += staff_kinds()
        first: dict[str, list[float]] = {}
        later: dict[str, list[float]] = {}
        seen: set[str] = set()
        for _ in range(rounds):
            for k in ks:
                client, sites = (staff, staff_site_ids or []) if k.staff else (anon, site_ids)
                for s in sites if k.per_site else sites[:1]:
                    asks = [(k.name, k.page(s))] + ([("api " + k.name, k.api(s))] if k.api else [])
                    for key, url in asks:
                        ms = _timed(client, url)
                        (later if (k.staff, url) in seen else first).setdefault(key, []).append(ms)
                        seen.add((k.staff, url))
        for k in ks:
            client, sites = (staff, staff_site_ids or []) if k.staff else (anon, site_ids)
            w, parts = weight(client, base + k.page(sites[0]))
            api_name = re.sub(r"/\d+(?=/|$)", "/{id}", k.api(sites[0]).split("?")[0]) if k.api else ""
            out.append(KindFigures(
                k.name, Timing(tuple(first.get(k.name, [])), tuple(later.get(k.name, []))),
                Timing(tuple(first.get("api " + k.name, [])), tuple(later.get("api " + k.name, []))),
                api_name, w, parts))
    return out


def add_viewer(conn: psycopg.Connection, site_id: int) -> list[int]:
    """A viewer of the municipality of ``site_id`` (the bench's own, with a known password), and
    the sites the viewer sees."""
    from api import people

    mun = conn.execute("SELECT st.municipality_id FROM sites s JOIN streets st ON st.id = s.street_id "
                       "WHERE s.id = %s", (site_id,)).fetchone()[0]
    people.add_user(conn, "bench", people.UserNew(email=VIEWER_EMAIL, role="viewer", municipality_id=mun,
                                                  password=VIEWER_PASSWORD))
    return [r[0] for r in conn.execute("SELECT s.id FROM sites s JOIN streets st ON st.id = s.street_id "
                                       "WHERE st.municipality_id = %s ORDER BY s.id", (mun,))]


def run(server_url: str, *, weeks: int = 8, rounds: int = 10, seed: int = 1) -> WebFigures:
    """Seed the demo into a scratch database, serve it, measure (see the module docstring)."""
    import os

    from fartkoll.demo import seed as seed_demo
    from planner.cellcache import refresh
    from planner.followup_store import keep_followups
    from planner.settings import PlannerSettings

    with scratch_database(server_url, "web") as url:
        with psycopg.connect(url) as conn:
            seed_demo(conn, weeks=weeks, seed=seed, log=lambda m: None)
            conn.commit()
            refresh(conn, PlannerSettings())  # the cells job, as `fartkoll demo` runs it before serving
            keep_followups(conn, PlannerSettings())  # and the followups job
            site_ids = [r[0] for r in conn.execute("SELECT id FROM sites ORDER BY id")]
            staff_ids = add_viewer(conn, site_ids[0])
            conn.commit()
        port = _free_port()
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "serve.log"
            proc = _serve(url, port, 1, log)
            try:
                _wait_healthy("127.0.0.1", port, proc, log)
                before = os.getloadavg()[0]
                figures = measure(f"http://127.0.0.1:{port}", site_ids, rounds, staff_ids,
                                  (VIEWER_EMAIL, VIEWER_PASSWORD))
                after = os.getloadavg()[0]
            finally:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return WebFigures(len(site_ids), weeks, rounds, tuple(figures), len(staff_ids), (before, after))
