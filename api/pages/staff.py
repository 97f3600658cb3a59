"""Pages for municipality staff (the viewer role and up), in the sites of their scope:

- ``/staff``: the sites one may see, the export form and the archive of situation pictures;
- ``/staff/sites/{id}``: a site's figures with hourly detail, small groups and hours flagged (not
  hidden, as the public page does);
- ``/staff/export``: period and format for the export endpoint (``/api/v1/sites/{id}/export``);
- ``/staff/reports``: the situation pictures the report job wrote into ``jobs.report_dir``;
- ``/sites/{id}/measures``: a site's measures and the form to record one; ``/measures/{id}``: its
  before/after against comparison sites (planner.measures).

Anonymous visitors are sent to the login page; another municipality's site is not found.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import ValidationError

from core import i18n
from core.errors import InvalidInput, NotFound
from planner.charts import bar_chart
from planner.load import load_sites
from planner.measures import KINDS, MeasureEffect, MeasureNew, add_measure, get_measure, list_measures, measure_effect
from planner.sitestats import site_statistics
from sql import QUERIES

from .. import scope
from ..deps import AppSettings, Conn, Viewer
from .hourprofile import hour_profiles
from .login import LoginFirst
from .render import render
from .site_cache import page_cache

router = APIRouter(include_in_schema=False, route_class=LoginFirst)
SMALL_N = 30
"""Groups and hours with fewer vehicles are flagged: their figures are uncertain (and public pages withhold them)."""
EXPORT_FORMATS = ("csv", "json", "toronto", "telraam")
REPORT_NAME = re.compile(r"^lagesbild-(\d{4}-W\d{2})\.(sv|en)\.(html|pdf)$")


def _lang(request: Request) -> i18n.Lang:
    return i18n.language(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE))


def visible_sites(conn, who) -> list:
    """The sites ``who`` may see, by municipality and name."""
    return sorted((s for s in load_sites(conn).values() if scope.site_visible(conn, who, s.id)),
                  key=lambda s: (s.municipality, s.name))


def reports(directory: Path) -> list[dict]:
    """The situation pictures in ``directory``, newest week first."""
    if not directory.is_dir():
        return []
    found = []
    for f in directory.iterdir():
        m = REPORT_NAME.match(f.name)
        if m and f.is_file():
            found.append({"name": f.name, "week": m.group(1), "lang": m.group(2), "format": m.group(3),
                          "size_kb": max(1, round(f.stat().st_size / 1024))})
    return sorted(found, key=lambda r: (r["week"], r["lang"], r["format"]), reverse=True)


@router.get("/staff")
def staff_home(request: Request, conn: Conn, settings: AppSettings, who: Viewer) -> Response:
    """The staff's start page."""
    return render(request, "staff/home.html", sites=visible_sites(conn, who), formats=EXPORT_FORMATS,
                  reports=reports(settings.jobs.report_dir)[:8])


@router.get("/staff/sites/{site_id}")
def staff_site(site_id: int, request: Request, conn: Conn, settings: AppSettings, who: Viewer) -> Response:
    """A site's figures for staff: every group and hour, the small ones flagged."""
    scope.require_site(conn, who, site_id)
    over = settings.threshold_over_kmh

    def gather():
        ss, fig = site_statistics(conn, settings.planner, site_id, over_kmh=over)
        return ss, fig, hour_profiles(conn, site_id, ss.site.time_zone, ss.period, min_n=1)

    ss, fig, hours = page_cache(request.app.state).get(conn, site_id, gather, "staff site", over)
    lang = _lang(request)
    t = i18n.translator(lang)
    groups = [{"g": g, "small": g.n < SMALL_N,
               "label": t("staff_group", direction=t("direction_" + g.direction),
                          display=t("display_" + g.display) if g.display else t("staff_display_unknown"),
                          limit=i18n.number(g.limit_kmh, lang, 0))} for g in fig.groups]
    limit = fig.groups[0].limit_kmh if fig.groups else None
    profiles = []
    for k, p in enumerate(hours):
        label = t("staff_profile", direction=t("direction_" + p.direction), display=t("display_" + p.display))
        shown = [h for h in p.hours if h.mean_kmh is not None]
        chart = bar_chart(
            f"staff-prof-{k}", [f"{h.hour:02d}" for h in p.hours], [h.mean_kmh for h in p.hours],
            title=t("staff_profile_title", group=label),
            desc=t("staff_profile_desc", hours=len(shown), small=sum(1 for h in shown if h.n < SMALL_N)),
            unit=t("staff_unit_mean"), value_label=lambda v: i18n.number(v, lang, 0), reference=limit,
            reference_label=t("staff_limit_at", limit=i18n.number(limit, lang, 0)) if limit else "",
            label_every=3) if shown else ""
        profiles.append({"p": p, "label": label, "chart": chart})
    zone = ZoneInfo(ss.site.time_zone)
    return render(request, "staff/site.html", site=ss.site, fig=fig, groups=groups, profiles=profiles,
                  small_n=SMALL_N, formats=EXPORT_FORMATS, first_day=ss.period.start.astimezone(zone).date(),
                  last_day=(ss.period.end.astimezone(zone) - timedelta(days=1)).date(),
                  measures=list_measures(conn, site_id=site_id, limit=20))


@router.get("/staff/export")
def staff_export(request: Request, conn: Conn, who: Viewer, site_id: str = "", format: str = "csv",
                 date_from: str = "", date_to: str = "") -> Response:
    """The export form; filled in, the export itself (a redirect to the export endpoint)."""
    t = i18n.translator(_lang(request))
    sites = visible_sites(conn, who)
    values = {"site_id": site_id, "format": format, "from": date_from, "to": date_to}
    errors: dict[str, str] = {}
    if site_id:
        if not site_id.isdigit() or int(site_id) not in {s.id for s in sites}:
            errors["site_id"] = t("export_bad_site")
        if format not in EXPORT_FORMATS:
            errors["format"] = t("export_bad_format")
        days = {}
        for key, v in (("date_from", date_from), ("date_to", date_to)):
            try:
                days[key] = date.fromisoformat(v) if v else None
            except ValueError:
                errors[key] = t("export_bad_day", value=v)
        if not errors and days["date_from"] and days["date_to"] and days["date_to"] < days["date_from"]:
            errors["date_to"] = t("export_to_before_from")
        if not errors:
            query = f"format={format}" + "".join(f"&{k}={d.isoformat()}" for k, d in
                                                 (("from", days["date_from"]), ("to", days["date_to"])) if d)
            return RedirectResponse(f"/api/v1/sites/{int(site_id)}/export?{query}", status_code=303)
    return render(request, "staff/export.html", status=422 if errors else 200, sites=sites,
                  formats=EXPORT_FORMATS, values=values, errors=errors)


@router.get("/staff/reports")
def staff_reports(request: Request, settings: AppSettings, who: Viewer) -> Response:
    """The archive of situation pictures."""
    return render(request, "staff/reports.html", reports=reports(settings.jobs.report_dir),
                  directory=str(settings.jobs.report_dir))


@router.get("/staff/reports/{name}")
def staff_report(name: str, settings: AppSettings, who: Viewer) -> Response:
    """One archived situation picture (HTML or PDF), by its file name only."""
    if not REPORT_NAME.match(name):
        raise NotFound(f"no situation picture named {name!r}")
    path = settings.jobs.report_dir / name
    if not path.is_file():
        raise NotFound(f"no situation picture named {name!r}")
    kind = "application/pdf" if name.endswith(".pdf") else "text/html; charset=utf-8"
    return FileResponse(path, media_type=kind, headers={"Content-Disposition": f'inline; filename="{name}"'})


def _measures_page(request: Request, conn, site_id: int, *, status: int = 200, values: dict | None = None,
                   errors: dict[str, str] | None = None) -> Response:
    site = load_sites(conn)[site_id]
    return render(request, "staff/measures.html", status=status, site=site, kinds=KINDS,
                  measures=list_measures(conn, site_id=site_id),
                  values=values or {"taken_on": "", "kind": "", "limit_kmh": "", "display": "", "note": ""},
                  errors=errors or {})


@router.get("/sites/{site_id}/measures")
def measures_page(site_id: int, request: Request, conn: Conn, who: Viewer) -> Response:
    """A site's measures and the form to record one."""
    scope.require_site(conn, who, site_id)
    return _measures_page(request, conn, site_id)


_FIELD_KEYS = {"taken_on": "measure_bad_day", "kind": "measure_bad_kind", "limit_kmh": "measure_bad_limit",
               "display": "measure_bad_display", "note": "measure_bad_note"}


@router.post("/sites/{site_id}/measures")
async def measures_post(site_id: int, request: Request, conn: Conn, who: Viewer) -> Response:
    """Record a measure from the form; to its before/after page, or the form again with what to change."""
    scope.require_site(conn, who, site_id)
    t = i18n.translator(_lang(request))
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("taken_on", "kind", "limit_kmh", "display", "note")}
    errors: dict[str, str] = {}
    try:
        body = MeasureNew(taken_on=values["taken_on"], kind=values["kind"], limit_kmh=values["limit_kmh"] or None,
                          display=values["display"] or None, note=values["note"])
        m = add_measure(conn, site_id, body, actor=who.actor, now=datetime.now(UTC))
    except ValidationError as e:
        for err in e.errors():
            field = str(err["loc"][0]) if err["loc"] else "kind"
            errors.setdefault(field, t(_FIELD_KEYS.get(field, "measure_bad_kind")))
    except InvalidInput as e:
        for err in e.errors or [{"field": "kind"}]:
            errors.setdefault(err["field"], t(_FIELD_KEYS.get(err["field"], "measure_bad_kind")))
    if errors:
        conn.rollback()
        return _measures_page(request, conn, site_id, status=422, values=values, errors=errors)
    conn.commit()
    return RedirectResponse(f"/measures/{m.id}", status_code=303)


_KEPT: dict[tuple, MeasureEffect] = {}
"""Before/afters already worked out (they take seconds), by what they rest on."""


def kept_effect(conn, settings, measure_id: int, municipality_ids: list[int] | None) -> MeasureEffect:
    """The measure's before/after, worked out again only when the data, the controls, the
    measures, the limits or the settings have changed since (the scope is checked every time)."""
    measure = get_measure(conn, measure_id, municipality_ids=municipality_ids)
    key = (settings.database_url, measure.model_dump_json(), *conn.execute(QUERIES["measures_fingerprint"]).fetchone(),
           settings.planner.model_dump_json(), settings.threshold_over_kmh)
    if key not in _KEPT:
        if len(_KEPT) >= 32:
            _KEPT.clear()
        _KEPT[key] = measure_effect(conn, settings.planner, measure_id, over_kmh=settings.threshold_over_kmh)
    return _KEPT[key]


@router.get("/measures/{measure_id}")
def measure_page(measure_id: int, request: Request, conn: Conn, settings: AppSettings, who: Viewer) -> Response:
    """A measure's before/after against comparison sites."""
    e = kept_effect(conn, settings, measure_id, scope.municipality_ids(conn, who))
    names = {s.id: s.name for s in load_sites(conn).values()}
    return render(request, "staff/measure.html", e=e, f=e.followup, names=names, sides=side_rows(e))


def side_rows(e) -> list[dict]:
    """Per site (the measure's first), its groups with the figures before and after side by side."""
    out = []
    for k, (b, a) in enumerate(zip(e.before, e.after, strict=True)):
        key = lambda s: (s.direction, s.display, s.limit_kmh)  # noqa: E731
        before, after = {key(s): s for s in b.sides}, {key(s): s for s in a.sides}
        rows = [{"direction": d, "display": m, "limit": lim, "before": before.get((d, m, lim)),
                 "after": after.get((d, m, lim))}
                for d, m, lim in sorted(before.keys() | after.keys(), key=lambda x: (x[0], x[1], x[2] or 0))]
        out.append({"site": b.site, "treated": k == 0, "rows": rows})
    return out
