"""Police areas, municipalities, streets and sites: add, list, show.

A site stands on a street of a municipality; a municipality belongs to a police area. Adding a
site names its street and municipality; the street is created when the municipality has none of
that name, the municipality only when its police area is given too.
"""

from __future__ import annotations

import difflib
from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from core.errors import Conflict, NotFound
from sql import QUERIES

from . import audit, checks, refs
from .deployments import DeploymentOut, list_deployments
from .limits import LimitOut, list_limits


class MunicipalityOut(BaseModel):
    """A municipality and the police area that serves it."""

    id: int
    name: str
    code: str | None
    police_area_id: int
    police_area: str


class SiteOut(BaseModel):
    """A measuring site: where it is, its time zone and tags."""

    id: int
    name: str
    street: str
    municipality_id: int
    municipality: str
    police_area: str
    lat: float | None
    lon: float | None
    time_zone: str
    tags: list[str]
    created_at: datetime


class SiteDetail(SiteOut):
    """A site with its legal-limit history and the signs that stood or stand there."""

    limits: list[LimitOut] = Field(default_factory=list)
    deployments: list[DeploymentOut] = Field(default_factory=list)


def municipality(conn: psycopg.Connection, name: str) -> MunicipalityOut | None:
    """The municipality of this name, if any."""
    r = conn.cursor(row_factory=dict_row).execute(QUERIES["setup_municipality_by_name"], {"name": name}).fetchone()
    return None if r is None else MunicipalityOut(**r)


def list_municipalities(conn: psycopg.Connection) -> list[MunicipalityOut]:
    """Every municipality with its police area, by name."""
    cur = conn.cursor(row_factory=dict_row)
    return [MunicipalityOut(**r) for r in cur.execute(QUERIES["setup_municipalities"]).fetchall()]


def add_municipality(conn: psycopg.Connection, *, actor: str, name: str, police_area: str,
                     code: str | None = None) -> MunicipalityOut:
    """A new municipality in a police area (the area is created when new). Never commits."""
    name = checks.text("municipality", name)
    police_area = checks.text("police_area", police_area)
    if code is not None:
        code = checks.text("code", code, 20, required=False) or None
    if municipality(conn, name) is not None:
        raise Conflict(f"municipality {name!r} exists already",
                       errors=[{"record": None, "field": "municipality", "value": name, "reason": "exists"}])
    pa_id, pa_new = conn.execute(QUERIES["setup_police_area"], {"name": police_area}).fetchone()
    if pa_new:
        audit.record(conn, actor=actor, action="create", entity="police_area", entity_id=pa_id,
                     detail={"name": police_area})
    conn.execute(QUERIES["setup_municipality_insert"], {"name": name, "code": code, "police_area_id": pa_id})
    out = municipality(conn, name)
    if out is None:  # just inserted in this transaction: cannot happen
        raise RuntimeError(f"municipality {name!r} vanished after its insert")
    audit.record(conn, actor=actor, action="create", entity="municipality", entity_id=out.id,
                 detail=out.model_dump(mode="json"))
    return out


def add_site(conn: psycopg.Connection, *, actor: str, name: str, street: str, municipality_name: str,
             police_area: str | None = None, lat: float | None = None, lon: float | None = None,
             time_zone: str | None = None, default_time_zone: str = "Europe/Stockholm",
             tags: list[str] | None = None) -> SiteOut:
    """A new site on ``street`` of ``municipality_name``. The street is created when new; the
    municipality only when ``police_area`` is given (else an unknown one is an error). Without a
    ``time_zone`` the site takes that of the municipality's other sites, or ``default_time_zone``.
    Never commits."""
    name = checks.text("name", name)
    street = checks.text("street", street)
    municipality_name = checks.text("municipality", municipality_name)
    if time_zone is not None:
        checks.time_zone(time_zone)
    if (lat is None) != (lon is None):
        raise checks.invalid("lat" if lat is None else "lon", None, "give both lat and lon, or neither")
    if lat is not None and not -90 <= lat <= 90:
        raise checks.invalid("lat", lat, "must be between -90 and 90 degrees")
    if lon is not None and not -180 <= lon <= 180:
        raise checks.invalid("lon", lon, "must be between -180 and 180 degrees")
    clean_tags = sorted({checks.text("tags", t, 40).lower() for t in (tags or [])})
    mun = municipality(conn, municipality_name)
    if mun is None:
        if police_area is None:
            names = [r[0] for r in conn.execute(QUERIES["setup_municipality_names"]).fetchall()]
            near = difflib.get_close_matches(municipality_name, names, n=3)
            hint = f"did you mean {', '.join(near)}? " if near else ""
            raise NotFound(f"no municipality named {municipality_name!r}: {hint}give --police-area AREA "
                           "(police_area) to create it",
                           errors=[{"record": None, "field": "municipality", "value": municipality_name,
                                    "reason": "unknown municipality"}])
        mun = add_municipality(conn, actor=actor, name=municipality_name, police_area=police_area)
    if time_zone is None:
        row = conn.execute(QUERIES["setup_municipality_zone"], {"municipality_id": mun.id}).fetchone()
        time_zone = row[0] if row else checks.time_zone(default_time_zone, "default_time_zone")
    street_id, street_new = conn.execute(QUERIES["setup_street"], {"municipality_id": mun.id, "name": street}).fetchone()
    if street_new:
        audit.record(conn, actor=actor, action="create", entity="street", entity_id=street_id,
                     detail={"name": street, "municipality": mun.name})
    row = conn.execute(QUERIES["setup_site_insert"], {"street_id": street_id, "name": name, "lat": lat, "lon": lon,
                                                       "time_zone": time_zone, "tags": clean_tags}).fetchone()
    if row is None:
        raise Conflict(f"a site named {name!r} exists already (site names are unique): "
                       "`fartkoll site show` shows it",
                       errors=[{"record": None, "field": "name", "value": name, "reason": "exists"}])
    out = _sites(conn, row[0])[0]
    audit.record(conn, actor=actor, action="create", entity="site", entity_id=out.id,
                 detail=out.model_dump(mode="json"))
    return out


def _sites(conn: psycopg.Connection, site_id: int | None) -> list[SiteOut]:
    cur = conn.cursor(row_factory=dict_row)
    return [SiteOut(**r) for r in cur.execute(QUERIES["setup_sites"], {"site_id": site_id}).fetchall()]


def list_sites(conn: psycopg.Connection) -> list[SiteOut]:
    """Every site, by name."""
    return _sites(conn, None)


def show_site(conn: psycopg.Connection, site_id: int) -> SiteDetail:
    """One site with its limit history and deployments (404 for an unknown id)."""
    refs.site_by_id(conn, site_id)      # the 404 for an unknown id
    found = _sites(conn, site_id)
    return SiteDetail(**found[0].model_dump(), limits=list_limits(conn, site_id),
                      deployments=list_deployments(conn, site_id=site_id))
