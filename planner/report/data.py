"""Gather one week's situation picture from the database.

Figures come from the planner's own loaders so the report says what ``fartkoll planner rank``
and ``followup`` say: cells and exceedance from ``planner.load.load_cells`` (limit in force each
hour, the signs' rounding), the ranking from ``planner.ranking.rank`` over the ``period_weeks``
ending with the report week, effects from ``planner.followup.followup_control``, silences from
``planner.jobs.silent``. Never commits; reads only.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import psycopg

from planner.controls import list_controls
from planner.followup import followup_control
from planner.jobs.silent import silences
from planner.load import CellData, Period, latest_data_hour, load_cells, load_sites, load_tips
from planner.names import direction_name
from planner.quality import RELIABLE_N
from planner.ranking import rank
from planner.settings import PlannerSettings
from sql import QUERIES

from .model import (
    BestHour,
    ControlEffect,
    KeyFigures,
    Promise,
    PromiseWeek,
    Silence,
    SiteTrend,
    SituationPicture,
    Tip,
    TopCell,
    Week,
    WeekPoint,
)

UTC = timezone.utc


def _period(week: Week) -> Period:
    return Period(week.start.astimezone(UTC), week.end.astimezone(UTC))


def mode_sums(cells: CellData) -> dict[tuple[int, int], tuple[int, float]]:
    """(site, display) → (vehicles, vehicles over the limit) over every cell of a period."""
    out: dict[tuple[int, int], tuple[int, float]] = {}
    for s, d, n, o in zip(cells["site_id"].tolist(), cells["display"].tolist(), cells["n"].tolist(),
                          cells["over_limit"].tolist(), strict=True):
        v = out.get((s, d), (0, 0.0))
        out[(s, d)] = (v[0] + int(n), v[1] + float(o))
    return out


def week_point(label: str, sums: dict[tuple[int, int], tuple[int, float]], site_id: int) -> WeekPoint:
    """Stealth figure when the week has RELIABLE_N stealth vehicles, else display-on, else the larger."""
    stealth, shown = sums.get((site_id, 0), (0, 0.0)), sums.get((site_id, 1), (0, 0.0))
    if stealth[0] >= RELIABLE_N or (stealth[0] > 0 and stealth[0] >= shown[0]):
        mode, (n, over) = "stealth", stealth
    elif shown[0] > 0:
        mode, (n, over) = "display", shown
    else:
        return WeekPoint(label, 0, None, None)
    return WeekPoint(label, n, over / n, mode)


def _limits_at_end(cells: CellData) -> dict[int, int]:
    """Site → the legal limit of its last span in the period (km/h)."""
    out: dict[int, int] = {}
    for sp in sorted(cells.spans, key=lambda sp: sp.start):
        out[sp.site_id] = sp.limit_kmh
    return out


def _share(n: int, over: float) -> float | None:
    return over / n if n > 0 else None


def _pp(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else 100 * float(x)


GENERIC_NOTES = ("data ends", "comparison sites pool")
"""Follow-up notes said once for the whole picture (data end) or true of every control."""


def gather(conn: psycopg.Connection, week: Week, planner: PlannerSettings, *, now: datetime,
           over_kmh: float = 6.0, silent_hours: float = 6.0, top_n: int = 10, per_site_cells: int = 2, trend_sites: int = 5,
           trend_weeks: int = 8) -> SituationPicture:
    """The situation picture of ``week`` as known at ``now`` (aware).

    ``top_n`` ranked cells, at most ``per_site_cells`` per site; trends for the ``trend_sites``
    best sites over ``trend_weeks`` weeks (from the first week with data).
    """
    sites = load_sites(conn)
    period = _period(week)
    notes: list[str] = []

    week_cells = load_cells(conn, period, planner, over_kmh=over_kmh, sites=sites)
    sums = mode_sums(week_cells)
    by_mode = {d: (sum(v[0] for k, v in sums.items() if k[1] == d), sum(v[1] for k, v in sums.items() if k[1] == d))
               for d in (0, 1)}

    ranking_period = Period(period.end - timedelta(weeks=planner.period_weeks), period.end)
    ranked = rank(conn, planner, over_kmh=over_kmh, period=ranking_period)
    top: list[TopCell] = []
    for s in ranked.sites[:top_n]:  # one row per site, its best cell first, then its best hours
        r = s.best
        day, hour = divmod(r.hour_of_week, 24)
        best = tuple(BestHour(*divmod(b.hour_of_week, 24), direction_name(b.direction), b.total)
                     for b in s.top[:per_site_cells])
        top.append(TopCell(len(top) + 1, r.site_id, sites[r.site_id].name, direction_name(r.direction), day, hour,
                           r.vehicles_per_hour, r.share_over_threshold, r.expected_reportable, r.total, r.tips,
                           sites[r.site_id].school, int(r.flags), best))

    first = conn.execute(QUERIES["report_first_hour"]).fetchone()[0]
    weeks = [w for w in (week.shifted(-k) for k in range(trend_weeks - 1, 0, -1))
             if first is not None and w.end > first] + [week]
    loaded = [load_cells(conn, _period(w), planner, over_kmh=over_kmh, sites=sites) for w in weeks[:-1]]
    loaded.append(week_cells)
    week_sums = [mode_sums(c) for c in loaded]
    week_limits = [_limits_at_end(c) for c in loaded]
    trends = tuple(
        SiteTrend(s.site_id, s.name, tuple(
            replace(week_point(w.label, ws, s.site_id), limit_kmh=wl.get(s.site_id))
            for w, ws, wl in zip(weeks, week_sums, week_limits, strict=True)))
        for s in ranked.sites[:trend_sites])

    latest = latest_data_hour(conn)
    controls = []
    for c in sorted(list_controls(conn), key=lambda c: c.start_time):
        if not (ranking_period.start <= c.start_time < ranking_period.end):
            continue
        f = followup_control(conn, c, planner, sites, latest)
        rep = f.report
        during = rep.share_over_limit.get("during") if rep else None
        after = rep.share_over_limit.get("+1 week") if rep else None
        controls.append(ControlEffect(
            c.id, c.site_name, c.start_time, c.end_time, c.method, c.vehicles_checked, c.reports_written, f.planned,
            _pp(during.did) if during else None, _pp(during.low) if during else None,
            _pp(during.high) if during else None, _pp(after.did) if after else None,
            _pp(after.low) if after else None, _pp(after.high) if after else None,
            during.days if during else 0, after.days if after else 0, rep.baseline_days if rep else 0,
            bool(during and during.verdict == "increase"),
            rep.halo_days if rep else None, rep.return_from if rep else None,
            tuple(n for n in f.notes + (rep.notes if rep else ()) if not n.startswith(GENERIC_NOTES)), c.note))

    window_end = min(period.end, now)
    gaps = silences(conn, start=period.start, end=window_end, hours=silent_hours) if window_end > period.start else []
    silence_rows = tuple(Silence(g.serial, g.site_name, g.start, g.end, g.to_window_end and window_end < period.end)
                         for g in gaps)

    tips = tuple(Tip(*r) for r in conn.execute(QUERIES["report_tips"], {"start": period.start, "end": period.end}))

    complaint = load_tips(conn, period.end - timedelta(days=planner.tips_days), period.end, planner.tip_radius_m)
    all_controls = list_controls(conn)
    promise_weeks = []
    for w in weeks:
        p = _period(w)
        promise_weeks.append(PromiseWeek(w.label, sum(1 for c in all_controls if c.site_id in complaint
                                                      and p.start <= c.start_time < p.end)))
    promise = Promise(tuple(sorted(sites[s].name for s in complaint)), tuple(promise_weeks))

    week_controls = [c for c in all_controls if period.start <= c.start_time < period.end]
    figures = KeyFigures(
        vehicles=int(week_cells["n"].sum()) if len(week_cells) else 0,
        stealth_vehicles=by_mode[0][0], stealth_share_over_limit=_share(*by_mode[0]),
        display_vehicles=by_mode[1][0], display_share_over_limit=_share(*by_mode[1]),
        controls=len(week_controls), reports_written=sum(c.reports_written or 0 for c in week_controls),
        new_tips=len(tips), silent_signs=len({s.serial for s in silence_rows}),
    )
    if latest is None or latest < period.start:
        notes.append(f"no traffic data for week {week.label}")
    elif latest + timedelta(hours=1) < period.end:
        notes.append(f"data ends {latest.astimezone(ZoneInfo(week.time_zone)):%Y-%m-%d %H:%M %Z}, before the week's end")
    areas = sorted({s.police_area for s in sites.values()})
    return SituationPicture(week, " · ".join(areas), now, planner.period_weeks, figures, tuple(top), trends,
                            tuple(controls), silence_rows, tips, promise, silent_hours, tuple(notes), latest)
