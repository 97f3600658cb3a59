"""Setting up signs and sites over HTTP: the same use cases as ``fartkoll site|limit|sign|token``
(:mod:`collector.setup`), answering the same JSON. Writes need a technician (or an admin), reads
a viewer; each change is audited with the authenticated person's e-mail.

``GET /sites`` (the public list with figures) lives in :mod:`api.routes.sites`; a site's set-up
(limits, deployments) is ``GET /sites/{id}/setup``.

Scope: a technician with a municipality (or police area) manages the sites there and the signs
standing there (or standing nowhere); another municipality's site or sign answers 404, adding a
site elsewhere 403. An admin, or a technician with neither, manages everything.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from collector.setup import deployments, limits, places, sign_tokens, signs
from collector.setup.deployments import DeploymentOut, MoveOut
from collector.setup.limits import LimitOut, LimitSet
from collector.setup.places import MunicipalityOut, SiteDetail, SiteOut
from collector.setup.sign_tokens import IssuedToken, TokenOut
from collector.setup.signs import SignOut
from core.errors import Forbidden

from .. import scope
from ..deps import AppSettings, Conn, Technician, Viewer

router = APIRouter(tags=["set-up"])


def _now() -> datetime:
    return datetime.now(UTC)


class MunicipalityIn(BaseModel):
    name: str
    police_area: str = Field(description="created when new")
    code: str | None = Field(None, description="e.g. the 4-digit Swedish kommunkod")


class SiteIn(BaseModel):
    name: str = Field(description="unique, e.g. 'Skolgatan 12'")
    street: str = Field(description="created in the municipality when new")
    municipality: str
    police_area: str | None = Field(None, description="creates an unknown municipality in this police area")
    lat: float | None = None
    lon: float | None = None
    time_zone: str | None = Field(None, description="IANA zone; default: that of the municipality's other "
                                                    "sites, else the default_time_zone setting")
    tags: list[str] = Field(default_factory=list, description="e.g. ['school']")


class LimitIn(BaseModel):
    posted_value: int = Field(description="the posted limit: 5–130 km/h or 5–80 mph")
    posted_unit: str = Field("kmh", description="kmh or mph")
    from_date: date = Field(description="local date of the site on which it takes effect")
    to_date: date | None = Field(None, description="local date on which it no longer applies (default: open)")
    hours: str | None = Field(None, description='weekdays and local hours it holds, e.g. "mon-fri 07-17" '
                                                "(default: a standing limit, every hour)")


class SignIn(BaseModel):
    serial: str
    protocol: str = Field(description="a collector protocol name, e.g. houston-dr500")
    unit: str = "kmh"
    vendor: str = ""
    model: str = ""
    rounding: str = "truncate"
    configured_limit_kmh: int | None = None


class PlacementIn(BaseModel):
    site_id: int
    at: datetime | None = Field(None, description="ISO 8601 with offset (default: now)")
    display: str | None = Field(None, description="display or stealth (deploy: display; move: as before)")
    mount_angle_deg: float = 0.0
    approach_heading: str = Field("", description="heading of the traffic that approaches the sign, e.g. N")
    note: str = ""


class RemoveIn(BaseModel):
    at: datetime | None = Field(None, description="ISO 8601 with offset (default: now)")


class TokenIn(BaseModel):
    label: str = ""


@router.get("/municipalities")
def list_municipalities(conn: Conn, who: Viewer) -> list[MunicipalityOut]:
    return places.list_municipalities(conn)


@router.post("/municipalities", status_code=201)
def add_municipality(body: MunicipalityIn, conn: Conn, who: Technician) -> MunicipalityOut:
    if scope.municipality_ids(conn, who) is not None:
        raise Forbidden("a technician of a municipality or police area cannot add municipalities: ask an admin")
    out = places.add_municipality(conn, actor=who.actor, name=body.name, police_area=body.police_area, code=body.code)
    conn.commit()
    return out


@router.post("/sites", status_code=201)
def add_site(body: SiteIn, conn: Conn, settings: AppSettings, who: Technician) -> SiteOut:
    allowed = scope.municipality_ids(conn, who)
    if allowed is not None:
        mun = places.municipality(conn, body.municipality.strip())
        if mun is None or mun.id not in allowed:
            raise Forbidden(f"you set up sites in your own municipalities only, not in {body.municipality!r}")
    out = places.add_site(conn, actor=who.actor, name=body.name, street=body.street, municipality_name=body.municipality,
                          police_area=body.police_area, lat=body.lat, lon=body.lon,
                          time_zone=body.time_zone, default_time_zone=settings.default_time_zone, tags=body.tags)
    conn.commit()
    return out


@router.get("/sites/{site_id}/setup")
def show_site(site_id: int, conn: Conn, who: Viewer) -> SiteDetail:
    scope.require_site(conn, who, site_id)
    return places.show_site(conn, site_id)


@router.get("/sites/{site_id}/limits")
def list_limits(site_id: int, conn: Conn, who: Viewer) -> list[LimitOut]:
    scope.require_site(conn, who, site_id)
    return limits.list_limits(conn, site_id)


@router.post("/sites/{site_id}/limits", status_code=201)
def set_limit(site_id: int, body: LimitIn, conn: Conn, who: Technician) -> LimitSet:
    scope.require_site(conn, who, site_id)
    out = limits.set_limit(conn, actor=who.actor, site_id=site_id, value=body.posted_value, unit=body.posted_unit,
                           from_date=body.from_date, to_date=body.to_date, hours=body.hours)
    conn.commit()
    return out


@router.get("/signs")
def list_signs(conn: Conn, who: Viewer) -> list[SignOut]:
    return signs.list_signs(conn, at=_now())


@router.post("/signs", status_code=201)
def add_sign(body: SignIn, conn: Conn, who: Technician) -> SignOut:
    out = signs.add_sign(conn, actor=who.actor, serial=body.serial, protocol=body.protocol, unit=body.unit,
                         vendor=body.vendor, model=body.model, rounding=body.rounding,
                         configured_limit_kmh=body.configured_limit_kmh)
    conn.commit()
    return out


@router.get("/signs/{sign_id}")
def show_sign(sign_id: int, conn: Conn, who: Viewer) -> SignOut:
    scope.require_sign(conn, who, sign_id)
    return signs.show_sign(conn, sign_id, at=_now())


@router.post("/signs/{sign_id}/deploy", status_code=201)
def deploy(sign_id: int, body: PlacementIn, conn: Conn, who: Technician) -> DeploymentOut:
    scope.require_sign(conn, who, sign_id)
    scope.require_site(conn, who, body.site_id)
    out = deployments.deploy(conn, actor=who.actor, sign_id=sign_id, site_id=body.site_id, at=body.at or _now(),
                             display=body.display or "display", mount_angle_deg=body.mount_angle_deg,
                             approach_heading=body.approach_heading, note=body.note)
    conn.commit()
    return out


@router.post("/signs/{sign_id}/move")
def move(sign_id: int, body: PlacementIn, conn: Conn, who: Technician) -> MoveOut:
    scope.require_sign(conn, who, sign_id)
    scope.require_site(conn, who, body.site_id)
    out = deployments.move(conn, actor=who.actor, sign_id=sign_id, site_id=body.site_id, at=body.at or _now(),
                           display=body.display, mount_angle_deg=body.mount_angle_deg,
                           approach_heading=body.approach_heading, note=body.note)
    conn.commit()
    return out


@router.post("/signs/{sign_id}/remove")
def remove(sign_id: int, conn: Conn, who: Technician, body: RemoveIn | None = None) -> DeploymentOut:
    scope.require_sign(conn, who, sign_id)
    out = deployments.remove(conn, actor=who.actor, sign_id=sign_id, at=(body.at if body else None) or _now())
    conn.commit()
    return out


@router.get("/deployments")
def list_deployments(conn: Conn, who: Viewer, sign_id: int | None = None, site_id: int | None = None,
                     current: bool = False) -> list[DeploymentOut]:
    return deployments.list_deployments(conn, sign_id=sign_id, site_id=site_id, at=_now() if current else None)


@router.post("/signs/{sign_id}/tokens", status_code=201)
def issue_token(sign_id: int, conn: Conn, who: Technician, body: TokenIn | None = None) -> IssuedToken:
    scope.require_sign(conn, who, sign_id)
    out = sign_tokens.issue_token(conn, actor=who.actor, sign_id=sign_id, label=body.label if body else "")
    conn.commit()
    return out


@router.get("/signs/{sign_id}/tokens")
def list_tokens(sign_id: int, conn: Conn, who: Technician) -> list[TokenOut]:
    scope.require_sign(conn, who, sign_id)
    return sign_tokens.list_tokens(conn, sign_id=sign_id)


@router.post("/signs/{sign_id}/tokens/{token_id}/revoke")
def revoke_token(sign_id: int, token_id: int, conn: Conn, who: Technician) -> TokenOut:
    scope.require_sign(conn, who, sign_id)
    out = sign_tokens.revoke_token(conn, actor=who.actor, token_id=token_id, at=_now(), sign_id=sign_id)
    conn.commit()
    return out
