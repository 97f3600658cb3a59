"""The follow-ups of the controls the citizen promise shows, read set-based: one read of the hourly
rollups for every shown control's window and every site (the histograms as bytes, turned into
arrays by numpy in one pass), then each control evaluated as :func:`planner.followup.followup_control`
evaluates it, with the same pure functions (planner.followup.site_series and local_grid,
planner.effect.evaluate_control). followup_control reads the same rows once per control and
turns each histogram into a list on the way (most of a cold promise page's time); the figures
are the same (``tests/test_promise_setbased.py`` compares them control by control).

The steps between the reads and the evaluation (selection date, window, comparison sites,
display mode, notes) follow followup_control line by line; a change there belongs in both until
followup_control reads its rows this way too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from psycopg.rows import dict_row

from planner.controls import ControlRow
from planner.effect import SiteSeries, evaluate_control
from planner.followup import AFTER_DAYS, MIN_SAME_MODE_DAYS, Followup, HourRows, local_grid, site_series
from planner.load import LimitSpan, Period, SiteInfo, load_spans
from planner.settings import PlannerSettings
from sql import QUERIES

UTC = timezone.utc
ARRAY_HEADER = 5
"""int32 words before the elements in a 1-dimensional array_send: ndim, flags, type, length, lower bound."""


@dataclass(frozen=True)
class Rows:
    """Hourly rollup rows with each histogram's first stored speed and length (histograms as one
    flat array of counts, row after row)."""

    site_id: np.ndarray
    epoch_s: np.ndarray
    direction: np.ndarray
    display: np.ndarray
    hist_lo: np.ndarray
    length: np.ndarray
    flat: np.ndarray
    start: np.ndarray
    """Offset of each row's counts in ``flat``."""


def read_rows(conn: psycopg.Connection, site_ids: list[int], start: datetime, end: datetime) -> Rows:
    """The rows planner_hourly_rows gives for these sites and [start, end), in its order (by site,
    hour, direction and display)."""
    r = conn.cursor(row_factory=dict_row).execute(
        QUERIES["promise_hourly_rows"], {"site_ids": site_ids, "start": start, "end": end}, binary=True).fetchone()
    if r["site_id"] is None:
        z = np.zeros(0, np.int64)
        return Rows(z, z, z, z, z, z, np.zeros(0), z)
    col = {k: np.asarray(r[k], dtype=np.int64) for k in ("site_id", "epoch_s", "direction", "display", "hist_lo",
                                                           "length")}
    length = col["length"]
    words = np.frombuffer(r["raw"], dtype=">i4")
    # each row: the header, then a (length, value) pair per element
    row_words = ARRAY_HEADER + 2 * length
    first_value = np.cumsum(row_words) - row_words + ARRAY_HEADER + 1
    within = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
    flat = words[np.repeat(first_value, length) + 2 * within].astype(np.float64)
    start_of = np.cumsum(length) - length
    order = np.lexsort((col["display"], col["direction"], col["epoch_s"], col["site_id"]))
    return Rows(col["site_id"][order], col["epoch_s"][order], col["direction"][order], col["display"][order],
                col["hist_lo"][order], length[order], flat, start_of[order])


def hour_rows_of(rows: Rows, mask: np.ndarray) -> HourRows:
    """planner.followup.hour_rows of the rows under ``mask``."""
    idx = np.flatnonzero(mask)
    if not idx.size:
        z = np.zeros(0, np.int64)
        return HourRows(z, z, z, z, np.zeros((0, 1)), np.zeros(1))
    lo_r, n_r = rows.hist_lo[idx], rows.length[idx]
    lo, hi = int(lo_r.min()), int((lo_r + n_r).max())
    counts = np.zeros((idx.size, hi - lo))
    within = np.arange(int(n_r.sum())) - np.repeat(np.cumsum(n_r) - n_r, n_r)
    counts[np.repeat(np.arange(idx.size), n_r), np.repeat(lo_r - lo, n_r) + within] = \
        rows.flat[np.repeat(rows.start[idx], n_r) + within]
    return HourRows(rows.site_id[idx], rows.epoch_s[idx], rows.direction[idx], rows.display[idx], counts,
                    np.arange(lo, hi, dtype=np.float64))


@dataclass(frozen=True)
class _Window:
    """What followup_control settles before it reads the rollups: the selection date, the window,
    the limit spans and the comparison candidates."""

    selected: date
    basis: str
    start: datetime
    end: datetime
    notes: list[str]
    by_site: dict[int, list[LimitSpan]]
    candidates: list[int]
    control_site: int

    @property
    def site_ids(self) -> list[int]:
        """The control's site and its comparison candidates: the rows the follow-up reads."""
        return [self.control_site, *self.candidates]


def _local_date(t: datetime, zone: ZoneInfo) -> date:
    return t.astimezone(zone).date()


def _window(conn: psycopg.Connection, c: ControlRow, planner: PlannerSettings, sites: dict[int, SiteInfo],
            latest: datetime | None) -> _Window:
    zone = ZoneInfo(sites[c.site_id].time_zone)
    d0 = _local_date(c.start_time, zone)
    notes: list[str] = []
    if c.plan_id is not None and c.plan_created_at is not None:
        selected, basis = _local_date(c.plan_created_at, zone), f"planned: plan {c.plan_id} created"
    else:
        selected = d0 - timedelta(days=planner.followup_selection_days)
        kind = "planned, no plan linked" if c.planned else "unplanned"
        basis = f"{kind}: {planner.followup_selection_days} days before the control"
    selected = min(selected, d0)
    b_start = selected - timedelta(weeks=planner.followup_baseline_weeks)
    start = datetime.combine(b_start, time(0), zone).astimezone(UTC)
    end = datetime.combine(d0 + timedelta(days=AFTER_DAYS), time(0), zone).astimezone(UTC)
    if latest is not None and latest + timedelta(hours=1) < end:
        end = max(latest + timedelta(hours=1), c.end_time.astimezone(UTC) + timedelta(hours=1))
        notes.append(f"data ends {latest.astimezone(zone):%Y-%m-%d %H:%M %Z}: later windows are incomplete")
    spans = load_spans(conn, Period(start, end), sites, planner)
    by_site: dict[int, list[LimitSpan]] = {}
    for s in spans:
        by_site.setdefault(s.site_id, []).append(s)
    controlled = {r[0] for r in conn.execute(QUERIES["planner_controlled_sites"], {"start": start, "end": end})}
    candidates = [sid for sid in sorted(sites) if sid != c.site_id and sid not in controlled
                  and len({s.limit_kmh for s in by_site.get(sid, [])}) == 1]
    return _Window(selected, basis, start, end, notes, by_site, candidates, c.site_id)


def promise_followups(conn: psycopg.Connection, controls: list[ControlRow], planner: PlannerSettings,
                      sites: dict[int, SiteInfo], latest: datetime | None) -> dict[int, Followup]:
    """The follow-up of each control, by control id, as followup_control gives it."""
    if not controls:
        return {}
    windows = {c.id: _window(conn, c, planner, sites, latest) for c in controls}
    rows = read_rows(conn, sorted({sid for w in windows.values() for sid in w.site_ids}),
                     min(w.start for w in windows.values()), max(w.end for w in windows.values()))
    firsts = {r[0]: r[1] for r in conn.execute(QUERIES["promise_site_first_hours"],
                                               {"site_ids": sorted({c.site_id for c in controls})})}
    return {c.id: _followup(c, sites, windows[c.id], rows, firsts.get(c.site_id), planner) for c in controls}


def _followup(c: ControlRow, sites: dict[int, SiteInfo], w: _Window, all_rows: Rows, first: datetime | None,
              planner: PlannerSettings) -> Followup:
    site = sites[c.site_id]
    zone = ZoneInfo(site.time_zone)
    selected, start, end, notes = w.selected, w.start, w.end, list(w.notes)
    by_site, candidates = w.by_site, w.candidates
    in_window = (all_rows.epoch_s >= int(start.timestamp())) & (all_rows.epoch_s < int(end.timestamp()))
    h = hour_rows_of(all_rows, in_window & np.isin(all_rows.site_id, w.site_ids))
    grid_utc, grid_local, grid_inv = local_grid(start, end, site.time_zone)
    nb = grid_local.size

    def rounding(sid: int) -> str:
        return by_site[sid][0].rounding if by_site.get(sid) else "truncate"

    t_mask = h.site_id == c.site_id
    if c.direction is not None:
        t_mask &= h.direction == c.direction
    during = t_mask & (h.epoch_s >= int(c.start_time.timestamp()) - 3599) & (h.epoch_s < int(c.end_time.timestamp()))
    display = None
    if during.any():
        per_mode = np.bincount(h.display[during], weights=h.counts[during].sum(axis=1), minlength=2)
        mode = int(np.argmax(per_mode))
        sel_s = int(datetime.combine(selected, time(0), zone).timestamp())
        base_days = np.unique((h.epoch_s[t_mask & (h.display == mode) & (h.epoch_s < sel_s)]) // 86400)
        if base_days.size >= MIN_SAME_MODE_DAYS:
            display = mode
            t_mask &= h.display == mode
        else:
            notes.append(f"baseline has {base_days.size} days in the control's display mode "
                         f"({'display' if mode else 'stealth'}): both modes used; the sign's own effect may bias this")
    else:
        notes.append("no vehicles recorded during the control")
    treated = site_series(h, t_mask, grid_utc, grid_inv, nb, by_site.get(c.site_id, []), rounding(c.site_id))
    comparison = []
    used = []
    for sid in candidates:
        m = h.site_id == sid
        if not m.any():
            continue
        s = site_series(h, m, grid_utc, grid_inv, nb, by_site.get(sid, []), rounding(sid))
        comparison.append(SiteSeries(grid_local, s.n, s.over, s.v85))
        used.append(sid)
    if comparison:
        notes.append("comparison sites pool both display modes")
    report = None
    first_day = None if first is None else first.astimezone(zone).date()
    if treated.n.sum() > 0:
        start_local = np.datetime64(c.start_time.astimezone(zone).replace(tzinfo=None), "s")
        end_local = np.datetime64(c.end_time.astimezone(zone).replace(tzinfo=None), "s")
        report = evaluate_control(SiteSeries(grid_local, treated.n, treated.over, treated.v85), comparison,
                                  start_local, end_local, np.datetime64(selected, "D"),
                                  baseline_weeks=planner.followup_baseline_weeks,
                                  min_revisit_days=planner.followup_min_revisit_days,
                                  first_day=None if first_day is None else np.datetime64(first_day, "D"))
    else:
        notes.append("no vehicles at the site in the window: nothing to evaluate")
    return Followup(c, site.time_zone, c.planned, selected, w.basis, tuple(used), display, report, tuple(notes))


__all__ = ["Rows", "hour_rows_of", "promise_followups", "read_rows"]
