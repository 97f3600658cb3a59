"""Where imported data goes: get-or-create police areas, municipalities, streets, sites, signs,
deployments and legal limits through named queries. Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

import psycopg

from core.errors import InvalidInput
from sql import QUERIES


class ImportFailed(InvalidInput):
    """The import cannot go on; the message names the record, field or place at fault and the fix."""


@dataclass(frozen=True)
class Area:
    """Where new sites go: a municipality (created under the police area when new)."""

    municipality: str
    police_area: str


def municipality_id(conn: psycopg.Connection, area: Area) -> int:
    pa = conn.execute(QUERIES["imp_police_area"], {"name": area.police_area}).fetchone()[0]
    return conn.execute(QUERIES["imp_municipality"], {"name": area.municipality, "police_area_id": pa}).fetchone()[0]


def sites(conn: psycopg.Connection, area: Area, wanted: Sequence[tuple[str, str]], time_zone: str) -> tuple[dict[str, int], int]:
    """Ids of the sites named in ``wanted`` ((street, site name) pairs), creating missing ones
    (and their streets) in the area's municipality. Returns ({site name: id}, how many were new).

    An existing site keeps its street and municipality."""
    if not wanted:
        return {}, 0
    mun = municipality_id(conn, area)
    by_name = {name: street for street, name in wanted}
    streets = sorted(set(by_name.values()))
    street_ids = dict((name, id_) for id_, name in conn.execute(
        QUERIES["imp_streets_bulk"], {"municipality_id": mun, "names": streets}).fetchall())
    names = sorted(by_name)
    rows = conn.execute(QUERIES["imp_sites_bulk"], {
        "street_ids": [street_ids[by_name[n]] for n in names], "names": names, "time_zone": time_zone,
    }).fetchall()
    return {name: id_ for id_, name, _ in rows}, sum(1 for *_, new in rows if new)


def site(conn: psycopg.Connection, area: Area, street: str, name: str, time_zone: str) -> tuple[int, bool]:
    """One site by name, created (with its street) when missing. Returns (id, new)."""
    ids, new = sites(conn, area, [(street, name)], time_zone)
    return ids[name], bool(new)


def sign(conn: psycopg.Connection, serial: str, *, vendor: str, model: str = "", protocol: str = "",
         unit: str = "kmh", rounding: str = "truncate") -> tuple[int, bool]:
    """A sign by serial number, created when missing. Returns (id, new)."""
    id_, _, new = conn.execute(QUERIES["imp_sign"], {
        "serial": serial, "vendor": vendor, "model": model, "protocol": protocol, "unit": unit,
        "rounding": rounding}).fetchone()
    return id_, new


def existing_site(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute(QUERIES["imp_site_place"], {"name": name}).fetchone()
    if row is None:
        raise ImportFailed(f"no site named {name!r}: create it first, or give --sign SERIAL")
    return row[0]


def existing_sign(conn: psycopg.Connection, serial: str) -> int:
    row = conn.execute(QUERIES["imp_sign_by_serial"], {"serial": serial}).fetchone()
    if row is None:
        raise ImportFailed(f"no sign with serial number {serial!r}: register it (or give --site) first")
    return row[0]


def deployment(conn: psycopg.Connection, *, sign_id: int, site_id: int, valid_from: datetime,
               valid_to: datetime | None, display: int, approach_heading: str = "", note: str = "",
               what: str, bridge_gaps: bool = False) -> tuple[int, bool]:
    """The sign's deployment at the site covering [valid_from, valid_to): reused (and widened when
    needed) if the sign already stands there in that mode, created if the sign has none then.

    Raises :class:`ImportFailed` naming ``what`` (e.g. ``campaign 3 'Sutton Road'``) when the
    sign stood elsewhere, or in another display mode, during that period. With ``bridge_gaps``
    (signs that never move, e.g. a cloud location) the sign's nearest deployment at the same site
    in the same mode is widened over a gap instead of starting another. Returns (id, new)."""
    span = {"sign_id": sign_id, "valid_from": valid_from, "valid_to": valid_to}
    overlapping = conn.execute(QUERIES["imp_deployments_overlapping"], span).fetchall()
    for dep_id, dep_site, dep_site_name, dep_from, dep_to, dep_display in overlapping:
        if dep_site != site_id or dep_display != display:
            mode = "display" if dep_display else "stealth"
            raise ImportFailed(
                f"{what}: the sign already has deployment {dep_id} at site {dep_site_name!r} ({mode}) "
                f"from {dep_from.isoformat()} to {dep_to.isoformat() if dep_to else 'open'}, overlapping "
                f"{valid_from.isoformat()}..{valid_to.isoformat() if valid_to else 'open'}: end or move that "
                "deployment, or import onto its site with --site")
    if len(overlapping) == 1:
        dep_id = overlapping[0][0]
        try:
            conn.execute(QUERIES["imp_deployment_widen"], {"id": dep_id, **span})
        except psycopg.errors.ExclusionViolation:
            raise ImportFailed(f"{what}: widening deployment {dep_id} to {valid_from.isoformat()}.."
                               f"{valid_to.isoformat() if valid_to else 'open'} would overlap another "
                               "deployment of the same sign") from None
        return dep_id, False
    if len(overlapping) > 1:
        raise ImportFailed(f"{what}: {valid_from.isoformat()}..{valid_to.isoformat() if valid_to else 'open'} "
                           f"spans {len(overlapping)} deployments of the sign ({', '.join(str(d[0]) for d in overlapping)}): "
                           "import with --site, or split the file")
    if bridge_gaps:
        near = conn.execute(QUERIES["imp_deployment_nearest"], span).fetchone()
        if near and near[1] == site_id and near[2] == display:
            try:
                with conn.transaction():      # a savepoint: a refused widening leaves nothing behind
                    conn.execute(QUERIES["imp_deployment_widen"], {"id": near[0], **span})
                return near[0], False
            except psycopg.errors.ExclusionViolation:
                pass                          # another deployment lies in the gap: start a new one
    dep_id = conn.execute(QUERIES["imp_deployment_insert"], {
        **span, "site_id": site_id, "display": display, "approach_heading": approach_heading, "note": note,
    }).fetchone()[0]
    return dep_id, True


def speed_limits(conn: psycopg.Connection, since: dict[int, datetime], limit_kmh: int) -> int:
    """Record ``limit_kmh`` as each site's legal limit from its time on (sites with an
    overlapping limit keep theirs). Returns how many limits were recorded."""
    if not since:
        return 0
    ids = sorted(since)
    cur = conn.execute(QUERIES["imp_speed_limits_bulk"], {
        "site_ids": ids, "valid_froms": [since[i] for i in ids], "limit_kmh": limit_kmh})
    return max(cur.rowcount, 0)
