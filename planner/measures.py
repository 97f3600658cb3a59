"""Measures taken at a site — a new limit, a speed bump, a narrowing, a change of the sign's
display mode, or another with a note — and their before/after comparison with comparison sites.

A measure is dated by the site's local day it took effect. Its effect is estimated the way a
control's is (planner.followup's hourly series, planner.effect's difference in differences)
against sites with neither a control nor another measure in the window, with a baseline of
``followup_baseline_weeks`` ending the day before the measure (a measure is decided long before;
its day is the selection date), over the windows of :data:`WINDOWS`. Beside it, the figures of the site and of the comparison sites over the
two weeks before and the two weeks after (planner.compare). Nothing commits: the caller owns the
transaction.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from core.errors import InvalidInput, NotFound
from planner.compare import SiteColumn, compare_sites
from planner.controls import ControlRow
from planner.effect import SiteSeries, evaluate_control
from planner.followup import AFTER_DAYS, Followup, local_grid, site_series
from planner.followupview import FollowupView, followup_view
from planner.hourrows import hour_rows
from planner.load import LimitSpan, Period, latest_data_hour, load_sites, load_spans
from planner.settings import PlannerSettings
from sql import QUERIES

Kind = Literal["limit", "speed_bump", "narrowing", "sign_display", "other"]
KINDS: tuple[str, ...] = Kind.__args__
MAX_NOTE = 2000
HOUR = timedelta(hours=1)
WINDOWS: dict[str, tuple[int, int]] = {"+1 day": (1, 1), "week 1": (1, 7), "weeks 2-4": (8, 21)}
"""Window name → (first day after the measure's day, number of days): a lasting measure is read
over weeks, not over the single days a control's follow-up looks at."""
SIDE_DAYS = 14
"""Days of the before and the after figures beside the estimate."""


class MeasureNew(BaseModel):
    """A measure to record: its local day, its kind, and what goes with the kind."""

    taken_on: date = Field(description="the site's local day the measure took effect")
    kind: Kind
    limit_kmh: int | None = Field(None, ge=5, le=130, description="the new limit (kind 'limit')")
    display: Literal["display", "stealth"] | None = Field(None, description="the sign's new mode (kind 'sign_display')")
    note: str = Field("", max_length=MAX_NOTE, description="required for kind 'other'")


class Measure(BaseModel):
    """A recorded measure."""

    id: int
    site_id: int
    site_name: str
    municipality_id: int
    time_zone: str
    taken_on: date
    kind: Kind
    limit_kmh: int | None
    display: Literal["display", "stealth"] | None
    note: str
    created_by: str
    created_at: datetime


class MeasureEffect(BaseModel):
    """A measure's before/after: the estimate against comparison sites and the figures on each side."""

    measure: Measure
    followup: FollowupView
    """The estimate, as the follow-up of a control reads (the measure's day is the 'control')."""
    before: list[SiteColumn]
    """The site first, then each comparison site, over the ``SIDE_DAYS`` days before the measure."""
    after: list[SiteColumn]
    """The same sites over the ``SIDE_DAYS`` days from the day after the measure."""
    notes: list[str]


def _invalid(field: str, value: object, reason: str) -> InvalidInput:
    return InvalidInput(f"{field} {value!r}: {reason}",
                        errors=[{"record": None, "field": field, "value": value, "reason": reason}])


def check_measure(m: MeasureNew) -> MeasureNew:
    """The measure with its note trimmed, or InvalidInput naming the field that does not fit its kind."""
    note = m.note.strip()
    if m.kind == "limit" and m.limit_kmh is None:
        raise _invalid("limit_kmh", None, "a new limit needs the limit in km/h")
    if m.kind != "limit" and m.limit_kmh is not None:
        raise _invalid("limit_kmh", m.limit_kmh, "only a measure of kind 'limit' has a limit")
    if m.kind == "sign_display" and m.display is None:
        raise _invalid("display", None, "a change of display mode needs the new mode: display or stealth")
    if m.kind != "sign_display" and m.display is not None:
        raise _invalid("display", m.display, "only a measure of kind 'sign_display' has a display mode")
    if m.kind == "other" and not note:
        raise _invalid("note", "", "say in the note what was done (kind 'other')")
    return m.model_copy(update={"note": note})


def _rows(conn: psycopg.Connection, *, site_id: int | None = None, measure_id: int | None = None,
          municipality_ids: list[int] | None = None, limit: int = 200) -> list[Measure]:
    with conn.cursor(row_factory=class_row(Measure)) as cur:
        return cur.execute(QUERIES["measures_list"], {"site_id": site_id, "id": measure_id,
                                                      "municipality_ids": municipality_ids, "limit": limit}).fetchall()


def add_measure(conn: psycopg.Connection, site_id: int, m: MeasureNew, *, actor: str, now: datetime) -> Measure:
    """Record a measure at a site and audit it; the site must exist (NotFound otherwise)."""
    m = check_measure(m)
    if conn.execute(QUERIES["scope_site_municipality"], {"site_id": site_id}).fetchone() is None:
        raise NotFound(f"no site with id {site_id}")
    if m.taken_on > now.date() + timedelta(days=366):
        raise _invalid("taken_on", m.taken_on.isoformat(), "more than a year ahead: give the day it takes effect")
    measure_id = conn.execute(QUERIES["measure_insert"], {
        "site_id": site_id, "taken_on": m.taken_on, "kind": m.kind, "limit_kmh": m.limit_kmh, "display": m.display,
        "note": m.note, "created_by": actor, "now": now}).fetchone()[0]
    conn.execute(QUERIES["planner_audit"], {
        "actor": actor, "action": "measure.create", "entity": "measures", "entity_id": str(measure_id),
        "detail": Jsonb({"site_id": site_id, "taken_on": m.taken_on.isoformat(), "kind": m.kind,
                         "limit_kmh": m.limit_kmh, "display": m.display})})
    return _rows(conn, measure_id=measure_id)[0]


def list_measures(conn: psycopg.Connection, *, site_id: int | None = None,
                  municipality_ids: list[int] | None = None, limit: int = 200) -> list[Measure]:
    """Measures newest first, of one site or of every site of ``municipality_ids`` (None: all)."""
    if not 1 <= limit <= 5000:
        raise _invalid("limit", limit, "must be 1–5000")
    return _rows(conn, site_id=site_id, municipality_ids=municipality_ids, limit=limit)


def get_measure(conn: psycopg.Connection, measure_id: int, *, municipality_ids: list[int] | None = None) -> Measure:
    """One measure (NotFound when there is none, or it lies outside ``municipality_ids``)."""
    found = _rows(conn, measure_id=measure_id, municipality_ids=municipality_ids, limit=1)
    if not found:
        raise NotFound(f"no measure {measure_id}" + ("" if municipality_ids is None else " that you may see"))
    return found[0]


def _as_control(m: Measure) -> ControlRow:
    """The measure's day as a control row (both directions), for the follow-up's view of it."""
    zone = ZoneInfo(m.time_zone)
    start = datetime.combine(m.taken_on, time(0), zone)
    end = datetime.combine(m.taken_on + timedelta(days=1), time(0), zone)
    return ControlRow(id=m.id, site_id=m.site_id, site_name=m.site_name, direction=None, start_time=start,
                      end_time=end, method="other", vehicles_checked=None, reports_written=None, planned=True,
                      note=m.note, plan_id=None, plan_created_at=None)


def evaluate_measure(conn: psycopg.Connection, m: Measure, planner: PlannerSettings) -> Followup:
    """The measure's estimate with planner.followup's series and planner.effect's method.

    Unlike a control's follow-up, the treated site pools both display modes and both directions
    (a lasting measure acts on every hour, while a sign's display blocks alternate), and sites
    with another measure or a control in the window are no comparison sites."""
    sites = load_sites(conn)
    site = sites[m.site_id]
    zone = ZoneInfo(site.time_zone)
    c = _as_control(m)
    notes: list[str] = []
    b_start = m.taken_on - timedelta(weeks=planner.followup_baseline_weeks)
    start = datetime.combine(b_start, time(0), zone).astimezone(UTC)
    end = datetime.combine(m.taken_on + timedelta(days=AFTER_DAYS), time(0), zone).astimezone(UTC)
    latest = latest_data_hour(conn)
    if latest is not None and latest + HOUR < end:
        end = max(latest + HOUR, c.end_time.astimezone(UTC) + HOUR)
        notes.append(f"data ends {latest.astimezone(zone):%Y-%m-%d %H:%M %Z}: later windows are incomplete")
    period = Period(start, end)
    by_site: dict[int, list[LimitSpan]] = {}
    for s in load_spans(conn, period, sites, planner):
        by_site.setdefault(s.site_id, []).append(s)
    window = {"start": start, "end": end}
    busy = {r[0] for r in conn.execute(QUERIES["planner_controlled_sites"], window)}
    busy |= {r[0] for r in conn.execute(QUERIES["measures_sites_in_window"], {
        "start": start.astimezone(zone).date(), "end": end.astimezone(zone).date(), "id": m.id})}
    candidates = [sid for sid in sorted(sites) if sid != m.site_id and sid not in busy
                  and len({s.limit_kmh for s in by_site.get(sid, [])}) == 1]
    h = hour_rows(conn.execute(QUERIES["planner_hourly_rows"],
                               {"site_ids": [m.site_id, *candidates], **window}).fetchall())
    grid_utc, grid_local, grid_inv = local_grid(start, end, site.time_zone)

    def series(sid: int) -> SiteSeries:
        spans = by_site.get(sid, [])
        s = site_series(h, h.site_id == sid, grid_utc, grid_inv, grid_local.size, spans,
                        spans[0].rounding if spans else "truncate")
        return SiteSeries(grid_local, s.n, s.over, s.v85)

    treated = series(m.site_id)
    used = [sid for sid in candidates if (h.site_id == sid).any()]
    comparison = [series(sid) for sid in used]
    report = None
    if float(treated.n.sum()) > 0:
        first = conn.execute(QUERIES["site_first_hour"], {"site_id": m.site_id}).fetchone()[0]
        report = evaluate_control(
            treated, comparison, np.datetime64(c.start_time.replace(tzinfo=None), "s"),
            np.datetime64(c.end_time.replace(tzinfo=None), "s"), np.datetime64(m.taken_on, "D"),
            windows=WINDOWS, baseline_weeks=planner.followup_baseline_weeks, min_revisit_days=planner.followup_min_revisit_days,
            first_day=None if first is None else np.datetime64(first.astimezone(zone).date(), "D"))
    else:
        notes.append("no vehicles at the site in the window: nothing to evaluate")
    return Followup(c, site.time_zone, True, m.taken_on, "the day the measure took effect", tuple(used), None,
                    report, tuple(notes))


def measure_effect(conn: psycopg.Connection, planner: PlannerSettings, measure_id: int, *,
                   municipality_ids: list[int] | None = None, over_kmh: float = 6.0) -> MeasureEffect:
    """The before/after of one measure (see the module docstring)."""
    m = get_measure(conn, measure_id, municipality_ids=municipality_ids)
    f = evaluate_measure(conn, m, planner)
    ids = [m.site_id, *f.comparison_sites]
    day = timedelta(days=1)
    before = compare_sites(conn, planner, ids, public=False, date_from=m.taken_on - SIDE_DAYS * day,
                           date_to=m.taken_on - day, over_kmh=over_kmh).sites
    after = compare_sites(conn, planner, ids, public=False, date_from=m.taken_on + day,
                          date_to=m.taken_on + SIDE_DAYS * day, over_kmh=over_kmh).sites
    notes = ["the 'during' window is the measure's own day; the later windows are what a lasting measure changes"]
    if m.kind == "limit":
        notes.append("a new limit moves the share over the limit by definition: read V85 and the mean speed")
    if m.kind == "sign_display":
        notes.append("the sign's display mode changed: both modes are pooled on each side")
    view = followup_view(f)
    if view.effect is not None:  # a halo and a day to return are a control's, not a lasting measure's
        view.effect = view.effect.model_copy(update={
            "halo_days": None, "return_from": None, "notes": [n for n in view.effect.notes if "halo" not in n]})
    return MeasureEffect(measure=m, followup=view, before=before, after=after, notes=notes)


__all__ = ["KINDS", "Kind", "Measure", "MeasureEffect", "MeasureNew", "add_measure", "check_measure",
           "evaluate_measure", "get_measure", "list_measures", "measure_effect"]
