"""The living demo: simulated signs that upload through the real ingest endpoint while the demo
serves, so the live pages, the fleet and the figures move.

Each :class:`LiveSign` is a radar sign played on a pseudo-terminal (:mod:`collector.simulate_pty`)
read by the real collector in edge mode (:func:`collector.runner.run` with the forwarder, as
``fartkoll collector run --forward URL --token T`` does), in threads of this process. The demo
issues each sign a fresh upload token at start (the seeded data set itself is untouched).
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from collector.config import CollectorSettings, SerialSource
from collector.drain import make_sink
from collector.encode import ENCODERS
from collector.runner import run
from collector.setup import sign_tokens
from collector.simulate_pty import SimulatedSign, random_traffic
from sql import QUERIES

log = logging.getLogger(__name__)
DEMO_SIGNS = 3
BATCH_AGE_S = 0.3
"""The demo's collectors send a pass at most this long after it was read (the default, 5 s,
suits a mobile link; the live page wants it sooner)."""


@dataclass
class LiveSign:
    """A simulated sign and the collector that forwards its passes to ``url``."""

    serial: str
    protocol: str
    unit: str | None
    url: str
    token: str
    spool: Path
    every_s: float = 4.0
    mean_kmh: float = 42.0
    seed: int = 0
    batch_age_s: float = BATCH_AGE_S
    heartbeat_s: float = 30.0
    wrap_sink: Callable[[Any], Any] | None = None
    """Wraps the forwarder (a benchmark times its calls)."""
    make_grouper: Callable[[SerialSource], Any] | None = None
    """Builds each source's grouper (a benchmark watches when runs end); the collector's default if None."""
    stop_event: threading.Event = field(default_factory=threading.Event)

    def start(self) -> LiveSign:
        chunks = random_traffic(self.protocol, self.unit, self.every_s, self.mean_kmh, self.seed)
        self.device = SimulatedSign(chunks)
        self.device.start()
        settings = CollectorSettings(
            sources=[SerialSource(port=self.device.path, protocol=self.protocol, unit=self.unit,
                                  sign_serial=self.serial)],
            spool_path=self.spool, forward_url=self.url, forward_token=self.token,
            max_batch_age_s=self.batch_age_s, sink_backoff_min_s=0.5, sink_backoff_max_s=5.0,
            heartbeat_interval_s=self.heartbeat_s)
        self.sink = make_sink(settings)
        self._sink = self.wrap_sink(self.sink) if self.wrap_sink is not None else self.sink
        self.thread = threading.Thread(target=self._run, args=(settings,), name=f"live-sign {self.serial}", daemon=True)
        self.thread.start()
        return self

    def _run(self, settings: CollectorSettings) -> None:
        try:
            extra = {} if self.make_grouper is None else {"make_grouper": self.make_grouper}
            self.result = run(settings, self._sink, self.stop_event, on_heartbeat=lambda hb: None, **extra)
        except Exception:  # a demo sign that fails must not take the server down; say why
            log.exception("demo sign %s stopped", self.serial)

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)
        self.device.stop()
        close = getattr(self.sink, "close", None)
        if close is not None:
            close()


def demo_signs(conn: psycopg.Connection, *, count: int = DEMO_SIGNS) -> list[dict]:
    """Signs standing somewhere now whose protocol can be simulated, one per protocol first."""
    rows = conn.cursor(row_factory=dict_row).execute(QUERIES["live_demo_signs"], {"now": datetime.now(UTC)}).fetchall()
    usable = [r for r in rows if r["protocol"] in ENCODERS]
    chosen, protocols = [], set()
    for r in usable:  # a variety of protocols first
        if r["protocol"] not in protocols:
            chosen.append(r)
            protocols.add(r["protocol"])
    chosen += [r for r in usable if r not in chosen]
    return chosen[:count]


def start_demo_signs(conn: psycopg.Connection, url: str, spool_dir: Path, *, count: int = DEMO_SIGNS) -> list[LiveSign]:
    """Issue tokens to ``count`` demo signs (committed) and start them uploading to ``url``."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    started = []
    for k, r in enumerate(demo_signs(conn, count=count)):
        token = sign_tokens.issue_token(conn, actor="demo", sign_id=r["id"], label="fartkoll demo (live)").token
        conn.commit()
        unit = r["unit"] if r["unit"] in ("kmh", "mph") else None
        started.append(LiveSign(r["serial_number"], r["protocol"], unit, url, token,
                                spool_dir / f"{r['serial_number']}.sqlite3", every_s=3.0 + k,
                                seed=int(datetime.now(UTC).timestamp()) + k).start())
    return started


DEMO_PASSWORD = "demo-fartkoll"  # noqa: S105 - the demo's printed login password, not a secret
DEMO_PEOPLE = (("admin", "admin@demo.fartkoll.se"), ("technician", "tekniker@demo.fartkoll.se"),
               ("officer", "polis@demo.fartkoll.se"), ("viewer", "kommun@demo.fartkoll.se"))


def demo_logins(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """One login per role (made when missing, committed): (role, e-mail), all with DEMO_PASSWORD."""
    from api import people
    from collector.setup import places
    from core.errors import NotFound

    municipalities = places.list_municipalities(conn)
    if not municipalities:
        return []
    home = municipalities[0]
    scopes = {"admin": (None, None), "technician": (home.id, None), "officer": (None, home.police_area_id),
              "viewer": (home.id, None)}
    for role, email in DEMO_PEOPLE:
        try:
            people.user_by_email(conn, email)
        except NotFound:
            mun, area = scopes[role]
            people.add_user(conn, "demo", people.UserNew(email=email, role=role, name=f"Demo ({role})",
                                                        municipality_id=mun, police_area_id=area,
                                                        password=DEMO_PASSWORD))
    conn.commit()
    return [(role, email) for role, email in DEMO_PEOPLE]


class LivingDemo:
    """Demo logins printed at once; once ``url`` answers, demo signs start uploading to it."""

    def __init__(self, connect, url: str, spool_dir: Path | None = None, *, count: int = DEMO_SIGNS, out=print) -> None:
        self._connect, self.url, self.count, self._out = connect, url, count, out
        self.spool_dir = spool_dir or Path(tempfile.mkdtemp(prefix="fartkoll-demo-live-"))
        self.signs: list[LiveSign] = []
        self._stop = threading.Event()

    def __enter__(self) -> LivingDemo:
        with self._connect() as conn:
            for role, email in demo_logins(conn):
                self._out(f"demo login ({role}): {email} / {DEMO_PASSWORD}")
        self._thread = threading.Thread(target=self._start_when_serving, name="living-demo", daemon=True)
        self._thread.start()
        return self

    def _start_when_serving(self) -> None:
        import httpx

        while not self._stop.wait(0.5):
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                continue
        if self._stop.is_set():
            return
        with self._connect() as conn:
            self.signs = start_demo_signs(conn, self.url, self.spool_dir, count=self.count)
        for s in self.signs:
            self._out(f"demo sign {s.serial} ({s.protocol}) uploads to {self.url} over a pseudo-terminal; "
                      f"watch it at {self.url}/tech/fleet")

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in self.signs:
            s.stop()


def local_url(settings, host: str | None, port: int | None) -> str:
    """The URL this machine reaches the served demo at."""
    h = host or settings.api.host
    if h in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard address, not binding it
        h = "127.0.0.1"
    return f"http://{'[' + h + ']' if ':' in h else h}:{port or settings.api.port}"
