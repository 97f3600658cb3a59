"""A small world of places and people for the access tests: two police areas, three
municipalities, a site and a sign in municipality A, and one user of each role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from api import people, sessions

PASSWORD = "correct horse battery"


@dataclass
class World:
    police_area: int          # P1: serves municipalities A and B
    other_police_area: int    # P2: serves municipality C
    mun_a: int
    mun_b: int
    mun_c: int
    site_a: int               # a site in A
    site_c: int               # a site in C
    sign_a: int               # a sign deployed in A
    users: dict[str, people.User]  # by persona


PERSONAS = ("viewer", "officer", "technician", "admin", "other_viewer")


def make_world(conn: psycopg.Connection) -> World:
    def one(q: str, *p: object) -> int:
        return conn.execute(q, p).fetchone()[0]

    p1 = one("INSERT INTO police_areas (name) VALUES ('LPO Norr') RETURNING id")
    p2 = one("INSERT INTO police_areas (name) VALUES ('LPO Syd') RETURNING id")
    a = one("INSERT INTO municipalities (name, code, police_area_id) VALUES ('Ängsvik', '1901', %s) RETURNING id", p1)
    b = one("INSERT INTO municipalities (name, police_area_id) VALUES ('Bergby', %s) RETURNING id", p1)
    c = one("INSERT INTO municipalities (name, police_area_id) VALUES ('Cederlund', %s) RETURNING id", p2)
    sites = {}
    for mun, name in ((a, "Storgatan 1"), (c, "Kyrkvägen 2")):
        street = one("INSERT INTO streets (municipality_id, name) VALUES (%s, %s) RETURNING id", mun, name.split()[0])
        sites[mun] = one("INSERT INTO sites (street_id, name, lat, lon) VALUES (%s, %s, 59.6, 16.5) RETURNING id",
                         street, name)
        conn.execute("INSERT INTO speed_limits (site_id, valid_from, limit_kmh) VALUES (%s, '2020-01-01Z', 50)",
                     (sites[mun],))
    sign = one("INSERT INTO signs (serial_number, protocol) VALUES ('SN-A', 'ops-json') RETURNING id")
    conn.execute("INSERT INTO deployments (sign_id, site_id, valid_from, display) VALUES (%s, %s, '2024-01-01Z', 1)",
                 (sign, sites[a]))
    specs = {
        "viewer": ("viewer@angsvik.se", "viewer", a, None),
        "officer": ("officer@polisen.se", "officer", None, p1),
        "technician": ("tech@angsvik.se", "technician", a, None),
        "admin": ("admin@angsvik.se", "admin", None, None),
        "other_viewer": ("viewer@cederlund.se", "viewer", c, None),
    }
    users = {}
    for persona, (email, role, mun, area) in specs.items():
        users[persona] = people.add_user(conn, "test", people.UserNew(
            email=email, role=role, municipality_id=mun, police_area_id=area, password=PASSWORD))
    conn.commit()
    return World(p1, p2, a, b, c, sites[a], sites[c], sign, users)


def session_cookie(conn: psycopg.Connection, user_id: int) -> str:
    """A fresh session for a user, made directly (no argon2 on the way), committed."""
    new = sessions.create(conn, user_id, now=datetime.now(UTC), address="127.0.0.1")
    conn.commit()
    return new.secret
