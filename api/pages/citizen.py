"""Pages for citizens: the tip form (``/tips/new``, its confirmation ``/tips/thanks``) and the
citizen promise (``/promise``).

The form is plain HTML that works without JavaScript (post, then a redirect to the
confirmation): the place is picked from a list of sites by street. With JavaScript a map of the
sites (Leaflet, vendored) stands beside that list: a click on a site picks it in the list, a
pick in the list marks it on the map. With htmx the form posts in place and swaps in the confirmation or the form with its
errors. It goes through the tips use case of ``POST /api/v1/tips`` (collector.setup.tips: the
per-address rate limit, the size limit, the audit row), and shows its refusals on the form in
the page's language. No name or contact is asked for.

The promise page shows what was promised and what was done, with the delay of
planner.promise: no current or future control place or time.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from collector.setup import tips
from core import i18n
from core.errors import InvalidInput, NotFound
from planner.load import SiteInfo, load_sites
from planner.promise import Promise, last_shown_day, promise
from sql import QUERIES

from ..deps import AppSettings, Conn, Public
from ..routes.tips import MAX_BODY, RATE_LIMIT, RATE_WINDOW_S
from .render import render

router = APIRouter(include_in_schema=False)
WHENS = ("", "morning", "day", "evening", "night", "weekend", "always")
"""When the speeding happens, as the form offers it ('' : not said)."""


def places(conn) -> list[tuple[str, list[SiteInfo]]]:
    """Sites by municipality, each sorted by street: the form's list."""
    groups: dict[str, list[SiteInfo]] = defaultdict(list)
    for s in load_sites(conn).values():
        groups[s.municipality].append(s)
    return [(m, sorted(ss, key=lambda s: (s.street, s.name))) for m, ss in sorted(groups.items())]


def _lang(request: Request) -> i18n.Lang:
    return i18n.language(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE))


def _form(request: Request, conn, settings, *, status: int = 200, values: dict[str, str] | None = None,
          errors: dict[str, str] | None = None) -> Response:
    partial = request.headers.get("hx-request") == "true"
    groups = places(conn)
    context = {"places": groups, "whens": WHENS, "max_text": tips.MAX_TEXT, "errors": errors or {},
               "values": values or {"site_id": request.query_params.get("site", ""), "when": "", "text": ""}}
    if partial:  # htmx swaps only 2xx answers: the errors are in the form it swaps in
        return render(request, "citizen/tip_form.html", **context)
    markers = [{"id": s.id, "name": s.name, "street": s.street, "lat": s.lat, "lon": s.lon}
               for _, ss in groups for s in ss if s.lat is not None and s.lon is not None]
    return render(request, "citizen/tip_new.html", status=status, markers=markers,
                  tiles_url=settings.web.tiles_url, tiles_attribution=settings.web.tiles_attribution, **context)


@router.get("/tips/new")
def tip_page(request: Request, conn: Conn, settings: AppSettings, who: Public) -> Response:
    """The tip form (``?site=ID`` preselects a site, e.g. from its page); with JavaScript a map
    beside the list of places picks the place too."""
    return _form(request, conn, settings)


@router.post("/tips/new")
async def tip_post(request: Request, conn: Conn, settings: AppSettings, who: Public) -> Response:
    """Store the tip and confirm it, or show the form again with what to change."""
    t = i18n.translator(_lang(request))
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        return _form(request, conn, settings, status=413, errors={"text": t("tip_too_large", n=tips.MAX_TEXT)})
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("site_id", "when", "text")}
    errors: dict[str, str] = {}
    site_id = int(values["site_id"]) if values["site_id"].isdigit() else None
    if site_id is None:
        errors["site_id"] = t("tip_need_site")
    if values["when"] not in WHENS:
        errors["when"] = t("tip_bad_when")
    text = values["text"].strip()
    if len(text) > tips.MAX_TEXT:
        errors["text"] = t("tip_too_long", n=tips.MAX_TEXT, got=len(text))
    if errors:
        return _form(request, conn, settings, status=422, values=values, errors=errors)
    if values["when"]:
        text = f"[{t('tip_when')}: {t('tip_when_' + values['when'])}] {text}".strip()[:tips.MAX_TEXT]
    now = datetime.now(UTC)
    client = request.client.host if request.client else "unknown"
    try:
        tips.count_tip(conn, client=client, now=now, limit=RATE_LIMIT, window_s=RATE_WINDOW_S)
        tips.add_tip(conn, actor=who.actor, now=now, text=text, site_id=site_id, channel="web")
    except tips.RateLimited as e:
        conn.rollback()
        response = _form(request, conn, settings, status=429, values=values, errors={
            "rate": t("tip_rate_limited", n=RATE_LIMIT, minutes=max(1, -(-e.retry_after_s // 60)))})
        response.headers["Retry-After"] = str(e.retry_after_s)
        return response
    except NotFound:
        conn.rollback()
        return _form(request, conn, settings, status=422, values=values, errors={"site_id": t("tip_need_site")})
    except InvalidInput:
        conn.rollback()
        return _form(request, conn, settings, status=422, values=values, errors={"text": t("tip_invalid")})
    conn.commit()
    if request.headers.get("hx-request") == "true":
        return render(request, "citizen/tip_thanks_part.html")
    return RedirectResponse("/tips/thanks", status_code=303)


@router.get("/tips/thanks")
def tip_thanks(request: Request, who: Public) -> Response:
    """The confirmation after a tip was sent without JavaScript."""
    return render(request, "citizen/tip_thanks.html")


_KEPT: dict[tuple, Promise] = {}
"""Promise pages already worked out (their follow-ups take a while), by what they rest on."""


def kept_promise(conn, settings, now: datetime) -> Promise:
    """The promise as of ``now``, worked out again only when its database, its last shown day, the
    data, the controls (added), the tips or the settings have changed since."""
    zone = ZoneInfo(settings.default_time_zone)
    fp = conn.execute(QUERIES["promise_fingerprint"]).fetchone()
    data_end = None if fp[0] is None else fp[0] + timedelta(hours=1)
    key = (settings.database_url, last_shown_day(now, settings.promise.delay_days, data_end, zone), *fp,
           settings.promise.model_dump_json(), settings.planner.model_dump_json(), settings.default_time_zone)
    if key not in _KEPT:
        if len(_KEPT) >= 8:
            _KEPT.clear()
        _KEPT[key] = promise(conn, settings.planner, settings.promise, now=now, time_zone=settings.default_time_zone)
    return _KEPT[key]


@router.get("/promise")
def promise_page(request: Request, conn: Conn, settings: AppSettings, who: Public) -> Response:
    """What the municipality and the police promised, and what was done, with the delay."""
    p = kept_promise(conn, settings, datetime.now(UTC))
    return render(request, "citizen/promise.html", p=p, text=p.text_sv if _lang(request) == "sv" else p.text_en)
