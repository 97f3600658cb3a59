"""Small builders for places, signs and deployments used by database tests."""

from __future__ import annotations

from datetime import datetime

import psycopg

SINCE = datetime.fromisoformat("2020-01-01T00:00:00+00:00")


def make_site(conn: psycopg.Connection, name: str = "Storgatan 12", limit_kmh: int = 50,
              since: datetime = SINCE,
              tags: list[str] | None = None) -> int:
    """A site (with police area, municipality and street made as needed) and its legal limit."""
    pa = conn.execute(
        "INSERT INTO police_areas (name) VALUES ('LPO Test') ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id"
    ).fetchone()[0]
    mun = conn.execute(
        "INSERT INTO municipalities (name, police_area_id) VALUES ('Testkommun', %s) "
        "ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id", (pa,)
    ).fetchone()[0]
    street = conn.execute(
        "INSERT INTO streets (municipality_id, name) VALUES (%s, %s) "
        "ON CONFLICT (municipality_id, name) DO UPDATE SET name = excluded.name RETURNING id",
        (mun, name.split()[0]),
    ).fetchone()[0]
    site = conn.execute(
        "INSERT INTO sites (street_id, name, lat, lon, tags) VALUES (%s, %s, 59.6, 16.5, %s) RETURNING id",
        (street, name, tags or []),
    ).fetchone()[0]
    conn.execute("INSERT INTO speed_limits (site_id, valid_from, limit_kmh) VALUES (%s, %s, %s)", (site, since, limit_kmh))
    return site


def make_sign(conn: psycopg.Connection, serial: str = "SN-1", rounding: str = "truncate") -> int:
    return conn.execute(
        "INSERT INTO signs (serial_number, vendor, model, protocol, rounding) VALUES (%s, 'Test', 'T1', 'ops-json', %s) RETURNING id",
        (serial, rounding),
    ).fetchone()[0]


def deploy(conn: psycopg.Connection, sign: int, site: int, start: datetime, end: datetime | None = None,
           display: int = 0) -> int:
    return conn.execute(
        "INSERT INTO deployments (sign_id, site_id, valid_from, valid_to, display) VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (sign, site, start, end, display),
    ).fetchone()[0]
