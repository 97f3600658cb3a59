"""Writing the demo data set: the world through named queries, passes through ``write_columns``.

Never commits: the caller owns the transaction (``fartkoll demo seed`` commits once at the end).
Re-seeding the same ``(weeks, seed, end)`` adds nothing: world rows are inserted only when
absent and passes carry stable keys (``pass_key("demo:<seed>", site key, epoch hour, ordinal)``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import psycopg

from collector.columns import PassColumns
from collector.passes import Direction, Display
from collector.store import write_columns
from core.errors import Conflict
from sql import QUERIES

from .traffic import SitePasses, active_hours, generate
from .world import TZ, UTC, World, build_world

BATCH = 50_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DIRECTIONS = (Direction.UNKNOWN, Direction.APPROACHING, Direction.RECEDING)
_DISPLAYS = (Display.STEALTH, Display.DISPLAY)


class DemoError(Conflict):
    """The demo data cannot be written as asked; the message says why and what to do."""


@dataclass(frozen=True)
class SeedSummary:
    """What one ``seed`` call added (zeros on a re-seed) and how many passes it generated."""

    sites: int
    signs: int
    deployments: int
    passes: int
    controls: int
    tips: int
    passes_generated: int
    coverage_hours: int
    users: int

    def __str__(self) -> str:
        return (f"{self.sites} sites, {self.signs} signs, {self.deployments} deployments, "
                f"{self.passes:,} passes (of {self.passes_generated:,} generated), {self.controls} controls, "
                f"{self.tips} tips, {self.users} users, {self.coverage_hours:,} coverage hours added")


def is_empty(conn: psycopg.Connection) -> bool:
    """True when the database has no sites, signs or vehicle passes yet."""
    return bool(conn.execute(QUERIES["demo_is_empty"]).fetchone()[0])


def seed(conn: psycopg.Connection, *, weeks: int = 8, seed: int = 1, end: date | None = None,
         log: Callable[[str], object] = print) -> SeedSummary:
    """Write the demo world and ``weeks`` weeks of traffic ending the day before ``end``.

    ``end`` defaults to today (Stockholm); the data is a pure function of ``(weeks, seed, end)``.
    Raises :class:`DemoError` when the database holds demo data of another period.
    """
    if end is None:
        end = datetime.now(TZ).date()
    world = build_world(weeks=weeks, end=end)
    t0 = time.monotonic()
    # One transaction for the world even on an autocommit connection: a refused world leaves nothing.
    with conn.transaction() if conn.autocommit else nullcontext():
        ids, added = _write_world(conn, world)
        _check_world(conn, world)
        added["coverage_hours"] = _write_coverage(conn, world, ids)
    log(f"demo: world written ({len(world.sites)} sites, {len(world.signs)} signs, "
        f"{len(world.deployments)} deployments) for {_period(world)}")
    sign_ids = [ids["signs"][g.serial] for g in world.signs]  # SitePasses.sign indexes world.signs
    # made, not received: the passes count as received at the end of their period if that is later
    # than now, so a demo of any period passes the plausible-time rule
    received = max(datetime.now(UTC), world.end)
    generated = inserted = 0
    for sp in generate(world, seed):
        site_inserted = 0
        for lo in range(0, len(sp), BATCH):
            batch = _columns(sp, lo, min(len(sp), lo + BATCH), seed, ids["sites"][sp.site], sign_ids)
            result = write_columns(conn, batch, received=received)
            if result.rejected:
                raise DemoError(f"the write path rejected {len(result.rejected)} demo passes, first: "
                                f"{result.rejected[0]}; this is a bug in fartkoll.demo")
            site_inserted += result.inserted
        generated += len(sp)
        inserted += site_inserted
        log(f"demo: {world.site(sp.site).name}: {len(sp):,} passes, {site_inserted:,} new "
            f"({time.monotonic() - t0:.1f} s)")
    return SeedSummary(passes=inserted, passes_generated=generated, **added)


def _period(world: World) -> str:
    """The local days of the period, e.g. ``2024-10-21 .. 2024-11-03``."""
    last = (world.end - timedelta(hours=1)).astimezone(TZ).date()
    return f"{world.start.astimezone(TZ).date()} .. {last}"


def _one(conn: psycopg.Connection, name: str, params: dict) -> tuple[int, bool]:
    row = conn.execute(QUERIES[name], params).fetchone()
    return row[0], row[1]


def _write_world(conn: psycopg.Connection, world: World) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Insert what is missing; returns ids by natural key and counts of new rows."""
    n = dict(sites=0, signs=0, deployments=0, controls=0, tips=0, users=0)
    area, _ = _one(conn, "demo_police_area", {"name": world.police_area})
    muni: dict[str, int] = {}
    for m in world.municipalities:
        muni[m.name], _ = _one(conn, "demo_municipality", {"name": m.name, "code": m.code, "police_area_id": area})
    sites: dict[str, int] = {}
    for s in world.sites:
        street, _ = _one(conn, "demo_street", {"municipality_id": muni[s.municipality], "name": s.street})
        sites[s.key], new = _one(conn, "demo_site", {"street_id": street, "name": s.name, "lat": s.lat,
                                                     "lon": s.lon, "tags": list(s.tags)})
        n["sites"] += new
    for lim in world.limits:
        conn.execute(QUERIES["demo_speed_limit"], {"site_id": sites[lim.site], "valid_from": lim.valid_from,
                                                   "valid_to": lim.valid_to, "limit_kmh": lim.limit_kmh})
    signs: dict[str, int] = {}
    for g in world.signs:
        signs[g.serial], new = _one(conn, "demo_sign", {
            "serial": g.serial, "vendor": g.vendor, "model": g.model, "protocol": g.protocol,
            "rounding": g.rounding, "configured_limit_kmh": g.configured_limit_kmh})
        n["signs"] += new
    for d in world.deployments:
        n["deployments"] += conn.execute(QUERIES["demo_deployment"], {
            "sign_id": signs[d.sign], "site_id": sites[d.site], "valid_from": d.valid_from,
            "valid_to": d.valid_to, "display": d.display, "approach_heading": d.approach_heading,
            "note": d.note}).rowcount
    users: dict[str, int] = {}
    for u in world.users:
        users[u.email], new = _one(conn, "demo_user", {
            "email": u.email, "name": u.name, "role": u.role,
            "police_area_id": area if u.police_area else None,
            "municipality_id": muni[u.municipality] if u.municipality else None})
        n["users"] += new
    for c in world.controls:
        n["controls"] += conn.execute(QUERIES["demo_control"], {
            "site_id": sites[c.site], "direction": c.direction, "start_time": c.start, "end_time": c.end,
            "method": c.method, "vehicles_checked": c.vehicles_checked, "reports_written": c.reports_written,
            "planned": c.planned, "note": c.note, "created_by": users[c.created_by]}).rowcount
    for t in world.tips:
        n["tips"] += conn.execute(QUERIES["demo_tip"], {
            "received_at": t.received_at, "site_id": sites[t.site], "text": t.text, "status": t.status}).rowcount
    return {"sites": sites, "signs": signs}, n


def _check_world(conn: psycopg.Connection, world: World) -> None:
    """Refuse to add passes when the stored deployments or limits are not this world's."""
    names = {s.key: s.name for s in world.sites}
    stored = {tuple(r) for r in conn.execute(QUERIES["demo_deployments_of_signs"],
                                             {"serials": [g.serial for g in world.signs]})}
    for d in world.deployments:
        if (d.sign, names[d.site], d.valid_from, d.valid_to, d.display) not in stored:
            raise DemoError(
                f"sign {d.sign} has other deployments than the demo of {_period(world)} needs (no {'display' if d.display else 'stealth'} deployment at "
                f"{names[d.site]!r} from {d.valid_from:%Y-%m-%d %H:%M}Z): the database holds demo data for "
                f"another period; seed into an empty database or repeat the same --weeks and end date")
    stored_limits = {tuple(r) for r in conn.execute(QUERIES["demo_speed_limits_of_sites"],
                                                    {"names": list(names.values())})}
    for lim in world.limits:
        if (names[lim.site], lim.valid_from, lim.valid_to, lim.limit_kmh) not in stored_limits:
            raise DemoError(
                f"site {names[lim.site]!r} has other speed limits than the demo needs ({lim.limit_kmh} km/h "
                f"from {lim.valid_from:%Y-%m-%d}): seed into an empty database or repeat the same --weeks and end")


def _write_coverage(conn: psycopg.Connection, world: World, ids: dict[str, dict[str, int]]) -> int:
    added = 0
    for d, hours in active_hours(world):
        if len(hours):
            added += conn.execute(QUERIES["demo_coverage"], {"sign_id": ids["signs"][d.sign],
                                                             "hours": hours.tolist()}).rowcount
    return added


def _columns(sp: SitePasses, lo: int, hi: int, seed: int, site_id: int, sign_ids: list[int]) -> PassColumns:
    """Passes ``lo:hi`` of a site as the columns ``write_passes`` would make of them as VehiclePass
    records (site, sign, display and the stable key ``pass_key``), built from the site's arrays
    without an object per pass (a third of the time)."""
    n = hi - lo
    time_us = sp.time_us[lo:hi].astype(np.int64)
    us = timedelta(microseconds=1)
    # pass_key(f"demo:{seed}", site, hour, ordinal): the namespace and site hashed once, then per pass
    prefix = hashlib.blake2b(digest_size=16)
    prefix.update(f"demo:{seed}".encode())
    prefix.update(b"\x1f" + repr(sp.site).encode())

    def key(h: int, i: int) -> bytes:
        k = prefix.copy()
        k.update(b"\x1f%a\x1f%a" % (h, i))
        return k.digest()

    keys = b"".join([key(h, i) for h, i in zip(sp.hour[lo:hi].tolist(), sp.ordinal[lo:hi].tolist(), strict=True)])
    return PassColumns(
        [_EPOCH + t * us for t in time_us.tolist()], time_us, sp.speed_kmh[lo:hi].astype(np.float64),
        np.array([int(d) for d in _DIRECTIONS], dtype=np.int64)[sp.direction[lo:hi]],
        np.array(sign_ids, dtype=np.int64)[sp.sign[lo:hi]], np.full(n, site_id, dtype=np.int64),
        np.array([int(x) for x in _DISPLAYS], dtype=np.int64)[sp.display[lo:hi]],
        sp.length_m[lo:hi].astype(np.float64), np.frombuffer(keys, dtype="V16").copy(), np.ones(n, dtype=bool))
