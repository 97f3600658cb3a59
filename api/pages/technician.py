"""Technicians' pages: the fleet sorted by trouble, a sign (deploy, move, issue its token), the
set-up flow (register a sign, add a site), a site's speed limits, and a sign's live readings.

Every page calls the use cases the JSON routes call (:mod:`collector.setup`, :mod:`planner.fleet`,
:mod:`api.live.readings`); forms post with the CSRF token and work without JavaScript; a refused
change shows the form again with the reason. A technician sees the signs and sites of their
municipality (or police area), an admin all.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from collector.protocols import PROTOCOLS
from collector.setup import deployments, limits, places, sign_tokens, signs
from collector.setup.signs import ROUNDINGS, UNITS, SignOut
from core.errors import FartkollError, Forbidden, InvalidInput
from planner.fleet import fleet_status

from .. import scope
from ..deps import AppSettings, Conn, Technician
from ..live.readings import live_view
from ..principal import Principal
from .fleet_trouble import fleet_rows, local
from .guard import PageRoute, page

router = APIRouter(include_in_schema=False, route_class=PageRoute)
HEADINGS = ("", "N", "NE", "E", "SE", "S", "SW", "W", "NW")


def _now() -> datetime:
    return datetime.now(UTC)


def _signs_in_scope(conn, who: Principal) -> list[SignOut]:
    allowed = scope.municipality_ids(conn, who)
    every = signs.list_signs(conn, at=_now())
    return every if allowed is None else [s for s in every if scope.sign_visible(conn, who, s.id)]


def _sites_in_scope(conn, who: Principal) -> list[places.SiteOut]:
    allowed = scope.municipality_ids(conn, who)
    every = places.list_sites(conn)
    return every if allowed is None else [s for s in every if s.municipality_id in allowed]


def _sign_page(request: Request, conn, settings, who: Principal, sign_id: int, *, status: int = 200,
               error: str | None = None, issued: sign_tokens.IssuedToken | None = None, form: dict | None = None) -> Response:
    scope.require_sign(conn, who, sign_id)
    now = _now()
    sign = signs.show_sign(conn, sign_id, at=now)
    history = deployments.list_deployments(conn, sign_id=sign_id)
    sites = _sites_in_scope(conn, who)
    tz = sign.deployment.time_zone if sign.deployment else settings.default_time_zone
    markers = [{"id": s.id, "name": s.name, "lat": s.lat, "lon": s.lon} for s in sites if s.lat is not None]
    snippet = None
    if issued is not None:
        snippet = collector_snippet(str(request.base_url).rstrip("/"), sign, issued.token)
    return page(request, "technician/sign.html", who=who, status=status, sign=sign, history=history,
                tokens=sign_tokens.list_tokens(conn, sign_id=sign_id), sites=sites, markers=markers,
                headings=HEADINGS, error=error, issued=issued, snippet=snippet, form=form or {},
                local=lambda t, zone=tz: local(t, zone), tz=tz, tiles_url=settings.web.tiles_url,
                tiles_attribution=settings.web.tiles_attribution)


def collector_snippet(server: str, sign: SignOut, token: str) -> dict[str, str]:
    """What to paste at the roadside: the collector's settings file and the same as one command."""
    toml = (f'[collector]\nforward_url = "{server}"\nforward_token = "{token}"\n\n'
            f'[[collector.sources]]\nport = "/dev/serial/by-id/…"\nprotocol = "{sign.protocol}"\n'
            f'unit = "{sign.unit}"\nsign_serial = "{sign.serial}"\n')
    command = (f"fartkoll collector run --port /dev/serial/by-id/… --protocol {sign.protocol} --unit {sign.unit} "
               f"--sign {sign.serial} --forward {server} --token {token}")
    return {"toml": toml, "command": command}


@router.get("/tech/fleet")
def fleet_page(request: Request, conn: Conn, settings: AppSettings, who: Technician) -> Response:
    """Every sign in the technician's scope, the most troubled first."""
    now = _now()
    fleet = fleet_status(conn, now=now, municipality_ids=scope.municipality_ids(conn, who))
    by_id = {s.id: s for s in signs.list_signs(conn, at=now)}
    rows = fleet_rows(fleet.signs, by_id, now=now, default_tz=settings.default_time_zone)
    return page(request, "technician/fleet.html", who=who, rows=rows, local=local, now=now,
                default_tz=settings.default_time_zone)


@router.get("/tech/setup")
def setup_page(request: Request, conn: Conn, settings: AppSettings, who: Technician) -> Response:
    """Register a sign; the signs and sites in scope."""
    return _setup(request, conn, settings, who)


def _setup(request, conn, settings, who, *, status: int = 200, error: str | None = None, form: dict | None = None,
           site_error: str | None = None, site_form: dict | None = None) -> Response:
    sites = _sites_in_scope(conn, who)
    return page(request, "technician/setup.html", who=who, status=status, error=error, form=form or {},
                site_error=site_error, site_form=site_form or {}, protocols=list(PROTOCOLS), units=UNITS,
                roundings=ROUNDINGS, signs=_signs_in_scope(conn, who), sites=sites,
                municipalities=[m for m in places.list_municipalities(conn)
                                if scope.municipality_visible(conn, who, m.id)],
                markers=[{"id": s.id, "name": s.name, "lat": s.lat, "lon": s.lon} for s in sites if s.lat is not None],
                tiles_url=settings.web.tiles_url, tiles_attribution=settings.web.tiles_attribution)


def _int_or_none(field: str, text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(f"{field} {text!r}: give a whole number") from None


def _float(field: str, text: str, default: float | None = 0.0) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(f"{field} {text!r}: give a number") from None


@router.post("/tech/signs")
def register_sign(request: Request, conn: Conn, settings: AppSettings, who: Technician,
                  serial: Annotated[str, Form()] = "", protocol: Annotated[str, Form()] = "",
                  unit: Annotated[str, Form()] = "kmh", vendor: Annotated[str, Form()] = "",
                  model: Annotated[str, Form()] = "", rounding: Annotated[str, Form()] = "truncate",
                  configured_limit_kmh: Annotated[str, Form()] = "") -> Response:
    """Register a sign, then go on to deploy it."""
    form = {"serial": serial, "protocol": protocol, "unit": unit, "vendor": vendor, "model": model,
            "rounding": rounding, "configured_limit_kmh": configured_limit_kmh}
    try:
        out = signs.add_sign(conn, actor=who.actor, serial=serial, protocol=protocol, unit=unit, vendor=vendor,
                             model=model, rounding=rounding,
                             configured_limit_kmh=_int_or_none("configured_limit_kmh", configured_limit_kmh))
        conn.commit()
    except FartkollError as e:
        conn.rollback()
        return _setup(request, conn, settings, who, status=e.status, error=str(e), form=form)
    return RedirectResponse(f"/tech/signs/{out.id}", status_code=303)


@router.post("/tech/sites")
def add_site(request: Request, conn: Conn, settings: AppSettings, who: Technician,
             name: Annotated[str, Form()] = "", street: Annotated[str, Form()] = "",
             municipality: Annotated[str, Form()] = "", lat: Annotated[str, Form()] = "",
             lon: Annotated[str, Form()] = "", school: Annotated[str, Form()] = "") -> Response:
    """Add a site (its place picked on the map or typed), then set its limit."""
    form = {"name": name, "street": street, "municipality": municipality, "lat": lat, "lon": lon, "school": school}
    try:
        if not municipality.strip():
            raise InvalidInput("municipality '': choose the municipality the site is in")
        allowed = scope.municipality_ids(conn, who)
        mun = places.municipality(conn, municipality.strip())
        if allowed is not None and (mun is None or mun.id not in allowed):
            raise Forbidden(f"you set up sites in your own municipalities only, not in {municipality!r}")
        out = places.add_site(conn, actor=who.actor, name=name, street=street, municipality_name=municipality,
                              police_area=None, lat=_float("lat", lat, None), lon=_float("lon", lon, None),
                              time_zone=None, default_time_zone=settings.default_time_zone,
                              tags=["school"] if school else [])
        conn.commit()
    except FartkollError as e:
        conn.rollback()
        return _setup(request, conn, settings, who, status=e.status, site_error=str(e), site_form=form)
    return RedirectResponse(f"/tech/sites/{out.id}", status_code=303)


@router.get("/tech/signs/{sign_id}")
def sign_page(sign_id: int, request: Request, conn: Conn, settings: AppSettings, who: Technician) -> Response:
    """A sign: where it stands and stood, deploy or move it, its upload tokens."""
    return _sign_page(request, conn, settings, who, sign_id)


def _placement(conn, settings, who: Principal, sign_id: int, *, move: bool, site_id: str, display: str,
               mount_angle_deg: str, approach_heading: str, note: str, at_local: str) -> None:
    site = _int_or_none("site_id", site_id)
    if site is None:
        raise InvalidInput("site_id '': choose the site where the sign stands")
    scope.require_site(conn, who, site)
    at = _now()
    if at_local.strip():
        zone = ZoneInfo(places.show_site(conn, site).time_zone)
        try:
            at = datetime.fromisoformat(at_local.strip()).replace(tzinfo=zone)
        except ValueError:
            raise InvalidInput(f"at {at_local!r}: give a local date and time, e.g. 2026-05-01T14:00") from None
    angle = _float("mount_angle_deg", mount_angle_deg)
    if move:
        deployments.move(conn, actor=who.actor, sign_id=sign_id, site_id=site, at=at, display=display or None,
                         mount_angle_deg=angle, approach_heading=approach_heading, note=note)
    else:
        deployments.deploy(conn, actor=who.actor, sign_id=sign_id, site_id=site, at=at, display=display or "display",
                           mount_angle_deg=angle, approach_heading=approach_heading, note=note)


@router.post("/tech/signs/{sign_id}/deploy")
def deploy_sign(sign_id: int, request: Request, conn: Conn, settings: AppSettings, who: Technician,
                site_id: Annotated[str, Form()] = "", display: Annotated[str, Form()] = "display",
                mount_angle_deg: Annotated[str, Form()] = "", approach_heading: Annotated[str, Form()] = "",
                note: Annotated[str, Form()] = "", at: Annotated[str, Form()] = "",
                move: Annotated[str, Form()] = "") -> Response:
    """Deploy a sign at a site, or (``move`` set) close its deployment and open one at the new site."""
    scope.require_sign(conn, who, sign_id)
    form = {"site_id": site_id, "display": display, "mount_angle_deg": mount_angle_deg,
            "approach_heading": approach_heading, "note": note, "at": at}
    try:
        _placement(conn, settings, who, sign_id, move=bool(move), site_id=site_id, display=display,
                   mount_angle_deg=mount_angle_deg, approach_heading=approach_heading, note=note, at_local=at)
        conn.commit()
    except FartkollError as e:
        conn.rollback()
        return _sign_page(request, conn, settings, who, sign_id, status=e.status, error=str(e), form=form)
    return RedirectResponse(f"/tech/signs/{sign_id}", status_code=303)


@router.post("/tech/signs/{sign_id}/tokens")
def issue_token(sign_id: int, request: Request, conn: Conn, settings: AppSettings, who: Technician,
                label: Annotated[str, Form()] = "") -> Response:
    """Issue an upload token: shown on this answer only, with the collector settings to paste."""
    scope.require_sign(conn, who, sign_id)
    issued = sign_tokens.issue_token(conn, actor=who.actor, sign_id=sign_id, label=label)
    conn.commit()
    response = _sign_page(request, conn, settings, who, sign_id, status=201, issued=issued)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/tech/signs/{sign_id}/tokens/{token_id}/revoke")
def revoke_token(sign_id: int, token_id: int, request: Request, conn: Conn, settings: AppSettings,
                 who: Technician) -> Response:
    scope.require_sign(conn, who, sign_id)
    try:
        sign_tokens.revoke_token(conn, actor=who.actor, token_id=token_id, at=_now(), sign_id=sign_id)
        conn.commit()
    except FartkollError as e:
        conn.rollback()
        return _sign_page(request, conn, settings, who, sign_id, status=e.status, error=str(e))
    return RedirectResponse(f"/tech/signs/{sign_id}", status_code=303)


@router.get("/tech/signs/{sign_id}/live")
def live_page(sign_id: int, request: Request, conn: Conn, settings: AppSettings, who: Technician) -> Response:
    """The sign's newest passes; with JavaScript new ones appear as they are stored."""
    scope.require_sign(conn, who, sign_id)
    view = live_view(conn, sign_id, now=_now(), default_time_zone=settings.default_time_zone)
    tz = view.sign.time_zone
    return page(request, "technician/live.html", who=who, view=view, tz=tz, local=lambda t: local(t, tz),
                local_s=lambda t: t.astimezone(ZoneInfo(tz)).strftime("%H:%M:%S") if t else "–")


def _site_page(request, conn, who: Principal, site_id: int, *, status: int = 200, error: str | None = None,
               form: dict | None = None) -> Response:
    scope.require_site(conn, who, site_id)
    detail = places.show_site(conn, site_id)
    today = datetime.now(ZoneInfo(detail.time_zone)).date()
    return page(request, "technician/site.html", who=who, status=status, site=detail, error=error,
                form=form or {"from_date": today.isoformat()}, local=lambda t: local(t, detail.time_zone))


@router.get("/tech/sites/{site_id}")
def site_page(site_id: int, request: Request, conn: Conn, who: Technician) -> Response:
    """A site's speed-limit history, its signs, and a form for a new limit."""
    return _site_page(request, conn, who, site_id)


@router.post("/tech/sites/{site_id}/limits")
def set_limit(site_id: int, request: Request, conn: Conn, who: Technician,
              posted_value: Annotated[str, Form()] = "", posted_unit: Annotated[str, Form()] = "kmh",
              from_date: Annotated[str, Form()] = "", to_date: Annotated[str, Form()] = "",
              hours: Annotated[str, Form()] = "") -> Response:
    """A new limit from a local date (the one in force until then ends that day)."""
    scope.require_site(conn, who, site_id)
    form = {"posted_value": posted_value, "posted_unit": posted_unit, "from_date": from_date, "to_date": to_date,
            "hours": hours}
    try:
        value = _int_or_none("posted_value", posted_value)
        if value is None:
            raise InvalidInput("posted_value '': give the posted limit, e.g. 30")
        try:
            start = date.fromisoformat(from_date.strip())
            end = date.fromisoformat(to_date.strip()) if to_date.strip() else None
        except ValueError:
            raise InvalidInput(f"from_date {from_date!r} / to_date {to_date!r}: give dates as 2026-05-01") from None
        limits.set_limit(conn, actor=who.actor, site_id=site_id, value=value, unit=posted_unit, from_date=start,
                         to_date=end, hours=hours.strip() or None)
        conn.commit()
    except FartkollError as e:
        conn.rollback()
        return _site_page(request, conn, who, site_id, status=e.status, error=str(e), form=form)
    return RedirectResponse(f"/tech/sites/{site_id}", status_code=303)
