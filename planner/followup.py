"""Follow-up of logged controls: hourly series from rollup_hourly → planner.effect.evaluate_control.

For each control:
- planned or not: the control log's own ``planned`` flag, the one fact every output repeats;
- selection date: the creation of the plan it came from, else ``followup_selection_days`` before
  the control (the decision to go there was taken earlier than the visit);
- baseline: ``followup_baseline_weeks`` before the selection date, never before the site's first
  data (effect.py says on how many days it rests and refuses too short a baseline);
- comparison sites: sites with data, no control overlapping the whole window, and one legal limit
  throughout (a limit change would move their share over the limit);
- series: hourly bins in the site's local time (the repeated autumn hour merged), with vehicles,
  vehicles over the limit in force that hour and V85 from the summed histogram (true bin edges
  per signs.rounding); hourly bins let "during" compare the control hours with the same hours of
  baseline days, and effect.py aggregates the later windows by day;
- display mode: the treated site's series keeps only the mode its sign was in during the control
  when the baseline has at least 7 days in that mode (otherwise both, with a note); comparison
  sites pool modes (their display blocks are staggered). A directed control uses that direction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg.rows import class_row

from core.errors import NotFound
from planner import followup_store
from planner.controls import ControlRow, list_controls
from planner.effect import EffectReport, SiteSeries, evaluate_control
from planner.exceedance import BinnedTails, limit_at
from planner.hourofweek import utc_offsets
from planner.hourrows import HourRows, hour_rows_of, read_rows
from planner.load import LimitSpan, Period, SiteInfo, latest_data_hour, load_sites, load_spans
from planner.percentiles import histogram_percentile
from planner.settings import PlannerSettings
from planner.stats import ROUNDING_OFFSET_KMH
from sql import QUERIES

UTC = timezone.utc
MIN_SAME_MODE_DAYS = 7
AFTER_DAYS = 29
MAX_READ_SPAN = timedelta(days=120)
"""Controls whose windows fit in this span together are read with one query."""


@dataclass(frozen=True)
class Followup:
    control: ControlRow
    time_zone: str
    """The site's zone: every human-facing time of this follow-up is in it."""
    planned: bool
    """The control log's flag (the report and the follow-up say the same)."""
    selected_on: date
    selection_basis: str
    comparison_sites: tuple[int, ...]
    display: int | None
    """The display mode the treated series keeps (None: both)."""
    report: EffectReport | None
    notes: tuple[str, ...]


def local_grid(start: datetime, end: datetime, tz: str) -> tuple[NDArray[np.int64], NDArray, NDArray[np.int64]]:
    """(UTC epoch hours, unique local bin starts as datetime64[s], index of each UTC hour's bin)."""
    utc = np.arange(int(start.timestamp()), int(end.timestamp()), 3600, dtype=np.int64)
    local = utc + utc_offsets(utc, tz)
    uniq, inv = np.unique(local, return_inverse=True)
    return utc, uniq.astype("datetime64[s]"), inv


def site_series(h: HourRows, mask: NDArray[np.bool_], grid_utc: NDArray[np.int64], grid_inv: NDArray[np.int64],
                n_bins: int, span: list[LimitSpan], rounding: str) -> SiteSeries:
    """One site's hourly series on the local grid from the rows under ``mask``."""
    idx = np.flatnonzero(mask)
    epoch = h.epoch_s[idx]
    pos = np.searchsorted(grid_utc, epoch)
    ok = (pos < grid_utc.size) & (grid_utc[np.clip(pos, 0, grid_utc.size - 1)] == epoch)
    idx, b = idx[ok], grid_inv[pos[ok]]
    rows = h.counts[idx]
    # only the speed columns this site has vehicles in (zeros outside change no sum, tail or
    # percentile), so the per-bin matrices are as narrow as the site's own speeds
    used = np.flatnonzero(rows.any(axis=0))
    lo, hi = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 1)
    rows, speeds = rows[:, lo:hi], h.bins[lo:hi]
    counts = np.zeros((n_bins, hi - lo))
    if b.size and np.all(b[1:] >= b[:-1]):
        # rows in time order (as read): each local bin's rows lie together and are summed in order
        first = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        counts[b[first]] = np.add.reduceat(rows, first, axis=0)
    else:
        np.add.at(counts, b, rows)
    spans = sorted(span, key=lambda s: s.start)
    if spans:
        starts = np.array([int(s.start.timestamp()) for s in spans])
        per_utc = limit_at(grid_utc, starts, [s.exact_kmh for s in spans])  # v > L as posted
        limit = np.full(n_bins, np.nan)
        limit[grid_inv] = per_utc
    else:
        limit = np.full(n_bins, np.nan)
    width = np.ones_like(speeds)
    n = counts.sum(axis=1)
    over = BinnedTails(counts, speeds, width, rounding != "exact").over(np.nan_to_num(limit, nan=1e9))
    v85 = histogram_percentile(counts, speeds + ROUNDING_OFFSET_KMH.get(rounding, 0.0), width, 0.85)
    return SiteSeries(times=None, n=n, over=over, v85=v85)  # times set by the caller


def _local_date(t: datetime, zone: ZoneInfo) -> date:
    return t.astimezone(zone).date()


@dataclass(frozen=True)
class Window:
    """What a follow-up settles before it reads the rollups: the selection date, the window, the
    limit spans and the comparison candidates."""

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


def control_window(conn: psycopg.Connection, c: ControlRow, planner: PlannerSettings, sites: dict[int, SiteInfo],
                   latest: datetime | None) -> Window:
    """The selection date, window and comparison candidates of one control (see the module docstring)."""
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
    return Window(selected, basis, start, end, notes, by_site, candidates, c.site_id)


def evaluate_followup(c: ControlRow, sites: dict[int, SiteInfo], w: Window, h: HourRows, first: datetime | None,
                      planner: PlannerSettings) -> Followup:
    """One control's follow-up from its window and the rows read for it (and perhaps for others:
    only the rows of the window's sites and hours count)."""
    site = sites[c.site_id]
    zone = ZoneInfo(site.time_zone)
    selected, start, end, notes = w.selected, w.start, w.end, list(w.notes)
    by_site, candidates = w.by_site, w.candidates
    in_window = (h.epoch_s >= int(start.timestamp())) & (h.epoch_s < int(end.timestamp()))
    grid_utc, grid_local, grid_inv = local_grid(start, end, site.time_zone)
    nb = grid_local.size

    def rounding(sid: int) -> str:
        return by_site[sid][0].rounding if by_site.get(sid) else "truncate"

    t_mask = in_window & (h.site_id == c.site_id)
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
        m = in_window & (h.site_id == sid)
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


def followups_of(conn: psycopg.Connection, controls: list[ControlRow], planner: PlannerSettings,
                 sites: dict[int, SiteInfo], latest: datetime | None, *,
                 on_computed: Callable[[ControlRow, Window, bytes, Followup], None] | None = None) -> dict[int, Followup]:
    """The follow-up of each control, by control id: the kept one where its fingerprint still
    matches (planner.followup_store), else computed (and handed to ``on_computed`` with its
    window and fingerprint). Controls whose windows lie close together share one read of the
    rollups (their sites over the span of their windows); a span longer than ``MAX_READ_SPAN``
    starts another read, so memory stays that of a few windows."""
    if not controls:
        return {}
    windows = {c.id: control_window(conn, c, planner, sites, latest) for c in controls}
    firsts = {r[0]: r[1] for r in conn.execute(QUERIES["followup_site_first_hours"],
                                               {"site_ids": sorted({c.site_id for c in controls})})}
    stored = followup_store.stored(conn, controls)
    # a fingerprint is read only where a kept result could be used, or where one will be kept
    prints = {c.id: followup_store.fingerprint(conn, c, windows[c.id], firsts.get(c.site_id), planner, sites)
              for c in controls if on_computed is not None or c.id in stored}
    out = {c.id: followup_store.from_text(stored[c.id][1], c) for c in controls
           if c.id in stored and stored[c.id][0] == prints[c.id]}
    order = sorted((c for c in controls if c.id not in out), key=lambda c: windows[c.id].start)
    batches: list[list[ControlRow]] = []
    for c in order:
        if batches and windows[c.id].end - windows[batches[-1][0].id].start <= MAX_READ_SPAN:
            batches[-1].append(c)
        else:
            batches.append([c])
    for batch in batches:
        ws = [windows[c.id] for c in batch]
        rows = read_rows(conn, sorted({sid for w in ws for sid in w.site_ids}),
                         min(w.start for w in ws), max(w.end for w in ws))
        h = hour_rows_of(rows, np.ones(rows.site_id.size, dtype=bool))
        for c in batch:
            out[c.id] = evaluate_followup(c, sites, windows[c.id], h, firsts.get(c.site_id), planner)
            if on_computed is not None:
                on_computed(c, windows[c.id], prints[c.id], out[c.id])
    return {c.id: out[c.id] for c in controls}


def followup_control(conn: psycopg.Connection, c: ControlRow, planner: PlannerSettings,
                     sites: dict[int, SiteInfo], latest: datetime | None) -> Followup:
    """Evaluate one control (see the module docstring)."""
    return followups_of(conn, [c], planner, sites, latest)[c.id]


def followups(conn: psycopg.Connection, planner: PlannerSettings, site_id: int | None = None) -> list[Followup]:
    """Follow-up of every logged control (of one site), newest first."""
    sites = load_sites(conn)
    latest = latest_data_hour(conn)
    return list(followups_of(conn, list_controls(conn, site_id), planner, sites, latest).values())


class ControlNotFound(NotFound):
    """No logged control with this id."""


def control_followup(conn: psycopg.Connection, planner: PlannerSettings, control_id: int) -> Followup:
    """Follow-up of one logged control (404 when there is none)."""
    with conn.cursor(row_factory=class_row(ControlRow)) as cur:
        c = cur.execute(QUERIES["planner_control"], {"control_id": control_id}).fetchone()
    if c is None:
        raise ControlNotFound(f"no control {control_id}")
    return followup_control(conn, c, planner, load_sites(conn), latest_data_hour(conn))
