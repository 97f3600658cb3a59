"""Comparisons of one site's figures: display vs stealth, before vs after each legal-limit change,
before vs after each past control, and several sites side by side.

Every side is one direction × display mode × legal limit (km/h exactly as posted, never pooled)
summed from the daily sums and the hourly rollups they do not hold; anonymous readers see a side only when it holds at least 30 vehicles.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from planner.daytotals import Sums
from planner.followupview import FollowupView
from planner.load import Period
from planner.names import DIRECTIONS, DISPLAYS, DirectionName, DisplayName
from planner.series import PUBLIC_MIN_VEHICLES, Window, _num, site_ref, site_window
from planner.settings import PlannerSettings
from planner.sitepage import past_followups
from planner.sitestats import PeriodView, SiteRef, histogram_rows
from planner.stats import KMH_PER_UNIT, Histogram, summarise_histogram
from sql import QUERIES

"""Anonymous readers see a control only this long after it ended."""
EFFECT_WINDOW = timedelta(days=14)
"""Length of the windows before and after a limit change or a control."""


class Side(BaseModel):
    """Figures of one direction × display mode under one legal limit."""

    direction: DirectionName
    display: DisplayName
    limit_kmh: float | None
    """The legal limit in km/h exactly as posted (30 mph = 48.28032); vehicles over it: v > limit."""
    n: int | None
    mean_kmh: float | None
    v85_kmh: float | None
    over_limit_share: float | None
    over_threshold_share: float | None
    withheld: bool = False


def _exact_limit(r: dict) -> float | None:
    return None if r["valid_from"] is None else r["posted_value"] * KMH_PER_UNIT[r["posted_unit"]]


def summarise_rows(rows: list[dict], planner: PlannerSettings, window: Window, *, public: bool,
                   over_kmh: float = 6.0) -> list[Side]:
    """One :class:`Side` per direction × display × limit (km/h as posted) of ``rows``, the
    summed histograms of :func:`planner.sitestats.histogram_rows` (regimes of the same limit
    summed together)."""
    groups: dict[tuple[int, int, float | None], Sums] = {}
    for r in rows:
        acc = groups.setdefault((int(r["direction"]), int(r["display"]), _exact_limit(r)), Sums())
        acc.n += int(r["n"])
        acc.sum_kmh += float(r["sum_kmh"])
        acc.sumsq_kmh += float(r["sumsq_kmh"])
        acc.add_counts(int(r["hist_lo"]), np.asarray(r["hist"], dtype=np.int64))
    out = []
    for (d, m, lim), acc in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)):
        n = int(acc.hist.sum())
        if public and n < PUBLIC_MIN_VEHICLES:
            out.append(Side(direction=DIRECTIONS[d], display=DISPLAYS[m], limit_kmh=lim, n=None, mean_kmh=None,
                            v85_kmh=None, over_limit_share=None, over_threshold_share=None, withheld=True))
            continue
        thr = planner.threshold_kmh(lim, window.site.police_area, over_kmh) if lim is not None else math.inf
        s = summarise_histogram(Histogram.unit(acc.hist, start=acc.lo, rounding=window.rounding),
                                lim if lim is not None else math.inf, thr, sums=(acc.sum_kmh, acc.sumsq_kmh))
        out.append(Side(direction=DIRECTIONS[d], display=DISPLAYS[m], limit_kmh=lim, n=n, mean_kmh=_num(s.mean),
                        v85_kmh=_num(s.percentiles["v85"]),
                        over_limit_share=_num(s.over_limit.share) if lim is not None else None,
                        over_threshold_share=_num(s.over_threshold.share) if lim is not None else None))
    return out


def _sides(conn: psycopg.Connection, planner: PlannerSettings, w: Window, *, public: bool,
           over_kmh: float) -> list[Side]:
    """The sides of the window, from the site's daily sums and the hours they do not hold."""
    return summarise_rows(histogram_rows(conn, w.site.id, w.period), planner, w, public=public, over_kmh=over_kmh)


def _sub(window: Window, start: datetime, end: datetime) -> Window:
    return Window(window.site, Period(start, end), window.rounding)


class DisplayComparison(BaseModel):
    """``GET /api/v1/sites/{id}/compare-display``: each direction's display and stealth figures."""

    site: SiteRef
    period: PeriodView
    public: bool
    display: list[Side]
    stealth: list[Side]
    notes: list[str]


def compare_display(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, *, public: bool,
                    date_from: date | None = None, date_to: date | None = None,
                    over_kmh: float = 6.0) -> DisplayComparison:
    w = site_window(conn, planner, site_id, date_from=date_from, date_to=date_to)
    sides = _sides(conn, planner, w, public=public, over_kmh=over_kmh)
    shown = [s for s in sides if s.display == "display"]
    stealth = [s for s in sides if s.display == "stealth"]
    notes = []
    if not shown or not stealth:
        notes.append("the period holds only one display mode: nothing to compare"
                     if sides else "no vehicles in the period")
    return DisplayComparison(site=site_ref(w.site), period=PeriodView(from_=w.period.start, to=w.period.end),
                             public=public, display=shown, stealth=stealth, notes=notes)


class BeforeAfter(BaseModel):
    """Figures in the window before an event and in the window after it."""

    at: datetime
    label: str
    before: PeriodView
    after: PeriodView
    before_sides: list[Side]
    after_sides: list[Side]


class LimitChanges(BaseModel):
    """``GET /api/v1/sites/{id}/limit-changes``: before/after each change of the legal limit."""

    site: SiteRef
    public: bool
    window_days: int
    changes: list[BeforeAfter]
    notes: list[str]


def _before_after(conn, planner, w: Window, at: datetime, label: str, *, public: bool, over_kmh: float,
                  gap: timedelta = timedelta(0)) -> BeforeAfter:
    before = _sub(w, at - EFFECT_WINDOW, at)
    after = _sub(w, at + gap, at + gap + EFFECT_WINDOW)
    return BeforeAfter(
        at=at, label=label,
        before=PeriodView(from_=before.period.start, to=before.period.end),
        after=PeriodView(from_=after.period.start, to=after.period.end),
        before_sides=_sides(conn, planner, before, public=public, over_kmh=over_kmh),
        after_sides=_sides(conn, planner, after, public=public, over_kmh=over_kmh))


def limit_changes(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, *, public: bool,
                  over_kmh: float = 6.0) -> LimitChanges:
    w = site_window(conn, planner, site_id)
    with conn.cursor(row_factory=dict_row) as cur:
        spans = cur.execute(QUERIES["figures_limit_changes"], {"site_id": site_id}).fetchall()
    changes = []
    for prev, cur_ in zip(spans, spans[1:], strict=False):
        at = cur_["valid_from"]
        changes.append(_before_after(conn, planner, w, at, f"{prev['limit_kmh']} -> {cur_['limit_kmh']} km/h",
                                     public=public, over_kmh=over_kmh))
    notes = [] if changes else ["the legal limit never changed at this site"]
    return LimitChanges(site=site_ref(w.site), public=public, window_days=EFFECT_WINDOW.days, changes=changes,
                        notes=notes)


class ControlEffects(BaseModel):
    """``GET /api/v1/sites/{id}/controls``: the site's figures before and after each past control,
    and the measured effect of the latest ones (the follow-up against comparison sites, as the
    site's page shows it)."""

    site: SiteRef
    public: bool
    window_days: int
    controls: list[BeforeAfter]
    followups: list[FollowupView]
    """The follow-up (difference in differences) of the latest past controls, newest first: the
    same use case and figures as the public page ``/sites/{id}/controls``."""
    notes: list[str]


def control_effects(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, *, public: bool,
                    now: datetime, delay: timedelta, limit: int = 20, over_kmh: float = 6.0) -> ControlEffects:
    """Past controls only (anonymous readers: ended at least ``delay`` ago, the public pages'
    ``web.public_control_delay_days``); never future ones."""
    w = site_window(conn, planner, site_id)
    before = now - delay if public else now
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUERIES["figures_site_controls"],
                           {"site_id": site_id, "before": before, "limit": limit}).fetchall()
    out = [_before_after(conn, planner, w, r["start_time"], f"control {r['id']} ({r['method']})",
                         public=public, over_kmh=over_kmh, gap=r["end_time"] - r["start_time"]) for r in rows]
    notes = [] if out else ["no past controls at this site"]
    followups = past_followups(conn, planner, site_id, now=now, delay=delay if public else timedelta(0))
    return ControlEffects(site=site_ref(w.site), public=public, window_days=EFFECT_WINDOW.days, controls=out,
                          followups=followups, notes=notes)


class SiteColumn(BaseModel):
    site: SiteRef
    period: PeriodView
    sides: list[Side]


class SitesComparison(BaseModel):
    """``GET /api/v1/compare?sites=``: several sites side by side, each over its own default period."""

    public: bool
    sites: list[SiteColumn]


def compare_sites(conn: psycopg.Connection, planner: PlannerSettings, site_ids: list[int], *, public: bool,
                  date_from: date | None = None, date_to: date | None = None,
                  over_kmh: float = 6.0) -> SitesComparison:
    cols = []
    for sid in site_ids:
        w = site_window(conn, planner, sid, date_from=date_from, date_to=date_to)
        cols.append(SiteColumn(site=site_ref(w.site), period=PeriodView(from_=w.period.start, to=w.period.end),
                               sides=_sides(conn, planner, w, public=public, over_kmh=over_kmh)))
    return SitesComparison(public=public, sites=cols)


__all__ = ["BeforeAfter", "ControlEffects", "DisplayComparison", "LimitChanges", "Side", "SitesComparison",
           "compare_display", "compare_sites", "control_effects", "limit_changes", "summarise_rows"]
