"""Pre-binned counts in the ranking's cells: binned_counts not also in rollup_hourly (Toronto's
5 km/h bins, the ingest endpoint's binned form), summed beside the cells of the rollups.

A record counts vehicles in its bins over [period_start, period_end). Its vehicles go to the UTC
hours it covers in proportion to the time it covers in each: a record within one hour goes to
that hour whole; a longer one is spread evenly over its hours and its cells are flagged
HOURS_SPREAD (a 25-day Toronto installation says nothing about the hour of the week). Each hour
is measured against the legal limit in force at it, as posted (as SQL speed_limit_at), like the
rollups. Exceedance uses the record's true bin edges (planner.exceedance.BinnedTails, continuous
speeds): exact where the limit or threshold falls on a bin edge; otherwise the bin holding it is
split linearly and the cell is flagged SHARES_INTERPOLATED. A cell's vehicles are rounded to whole
vehicles and its exceedance scaled with them, so its shares are those of its records.

``binned_columns`` gives planner.load's cell columns (key order) plus ``seconds`` and ``quality``;
``merge_columns`` adds them to the rollups' completed cells. Pure but for the one query.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np
import psycopg
from numpy.typing import NDArray

from planner.cellweeks import HOURS
from planner.exceedance import BinnedTails
from planner.hourofweek import DAY_S, HOUR_S, local_cells
from planner.quality import Quality
from planner.stats import KMH_PER_UNIT
from sql import QUERIES

KEYS = ("site_id", "direction", "display", "limit_kmh", "hour_of_week")
SUMMED = ("n", "over_limit", "over_threshold", "excess_sum_kmh", "hours_with_data", "prev_n", "prev_over_threshold")


def pair_figures(records: list[tuple], rec: NDArray[np.int64], limit_kmh: NDArray[np.float64],
                 threshold_kmh: NDArray[np.float64]) -> NDArray[np.float64]:
    """Figures of record ``rec[j]`` under ``limit_kmh[j]`` and ``threshold_kmh[j]``, one row each:
    vehicles v > L, vehicles v ≥ T, Σ(v − L) over those over L (bin middles; the open top bin at
    its lower edge), and 1 where L or T split a bin holding vehicles. The record's bins are
    [lo, hi) (hi inf: open), continuous speeds.

    Records whose bins are cells of one common grid of edges (every Toronto row: 5 km/h bins, the
    empty ones left out) go in one pass, a missing bin counting zero: a uniform density within a
    bin splits the same way over finer cells, so the figures are those of the record's own bins.
    """
    out = np.zeros((len(rec), 4))
    if not len(rec):
        return out
    lower, width, cell_of = _grid(records)
    aligned = np.array([cell_of[ri] is not None for ri in rec.tolist()], dtype=bool)
    js = np.flatnonzero(aligned)
    if len(js):
        used = sorted({int(ri) for ri in rec[js].tolist()})
        row = {ri: k for k, ri in enumerate(used)}
        counts = np.zeros((len(used), len(lower)))
        for ri in used:
            counts[row[ri], cell_of[ri]] = records[ri][7]
        out[js] = _figures(counts[[row[int(ri)] for ri in rec[js].tolist()]], lower, width, limit_kmh[js],
                           threshold_kmh[js])
    for j in np.flatnonzero(~aligned).tolist():
        lo, hi, cnt = (np.asarray(x, dtype=np.float64) for x in records[rec[j]][5:8])
        out[j] = _figures(cnt[None, :], lo, np.where(np.isfinite(hi), hi - lo, np.inf), limit_kmh[j:j + 1],
                          threshold_kmh[j:j + 1])[0]
    return out


def _grid(records: list[tuple]) -> tuple[NDArray, NDArray, list[NDArray | None]]:
    """Lower edges and widths of the grid of every record's edges, and each record's bins as grid
    cells (None: a bin of it spans several cells, or an open bin below the top)."""
    los = np.unique(np.concatenate([np.asarray(r[5], dtype=np.float64) for r in records]))
    his = np.concatenate([np.asarray(r[6], dtype=np.float64) for r in records])
    edges = np.unique(np.concatenate([los, his[np.isfinite(his)]]))
    open_top = bool(np.any(~np.isfinite(his)))
    lower = edges if open_top else edges[:-1]
    width = np.diff(edges)
    if open_top:
        width = np.r_[width, np.inf]
    cells: list[NDArray | None] = []
    for r in records:
        lo, hi = np.asarray(r[5], dtype=np.float64), np.asarray(r[6], dtype=np.float64)
        i = np.searchsorted(edges, lo)
        top = np.minimum(i + 1, len(edges) - 1)
        ok = np.where(np.isfinite(hi), edges[top] == hi, lo == edges[-1]) & (i < len(lower))
        cells.append(i if ok.all() else None)
    return lower, width, cells


def _figures(counts: NDArray, lower: NDArray, width: NDArray, limit_kmh: NDArray,
             threshold_kmh: NDArray) -> NDArray[np.float64]:
    """(over L, over T, excess, split) per row of ``counts`` over the bins [lower, lower + width)."""
    tails = BinnedTails(counts, lower, width, integer=False)

    def split(level: NDArray) -> NDArray[np.bool_]:
        """The level lies inside a bin that holds vehicles (not on an edge, not below every bin)."""
        j = np.clip(np.searchsorted(lower, level, side="right") - 1, 0, len(lower) - 1)
        inside = (level > lower[j]) & ~np.isclose(level, lower[j]) & (level < lower[j] + width[j]) \
            & ~np.isclose(level, lower[j] + width[j])
        return inside & (counts[np.arange(len(level)), j] > 0)

    return np.stack([tails.over(limit_kmh), tails.over(threshold_kmh, inclusive=True), tails.excess_sum(limit_kmh),
                     split(limit_kmh) | split(threshold_kmh)], axis=1).astype(np.float64)


def binned_columns(conn: psycopg.Connection, start: datetime, end: datetime, scan_from: datetime,
                   site_ids: list[int], time_zone: dict[int, str],
                   threshold: Callable[[int, float], float]) -> dict[str, NDArray] | None:
    """The binned counts of ``site_ids`` as cells of [start, end), with the previous period
    [scan_from, start) in ``prev_n``/``prev_over_threshold`` (None: no binned counts there).

    ``threshold(site, L)`` is the reporting threshold (km/h) at a site for the exact limit L.
    """
    p = {"start": start, "end": end, "scan_from": scan_from}
    wanted = set(site_ids)
    records = [r for r in conn.execute(QUERIES["planner_binned_records"], p, binary=True) if r[0] in wanted]
    if not records:
        return None
    limits = conn.execute(QUERIES["planner_binned_limits"], p, binary=True).fetchall()
    rec = {name: np.array([r[i] for r in records], dtype=np.float64 if name.endswith("_s") else np.int64)
           for i, name in enumerate(("site_id", "direction", "display", "start_s", "end_s"))}
    h = _hours(rec, scan_from.timestamp(), end.timestamp())
    site = rec["site_id"][h["rec"]]
    how, day = np.zeros(len(site), dtype=np.int64), np.zeros(len(site), dtype=np.int64)
    week0 = np.zeros(len(site), dtype=np.int64)
    zone_of = {int(x): time_zone[int(x)] for x in np.unique(site).tolist()}
    for tz in set(zone_of.values()):
        at = np.isin(site, [x for x, z in zone_of.items() if z == tz])
        how[at], day[at] = local_cells(h["hour"][at], tz)
        week0[at] = (int(local_cells(np.array([start.timestamp() - DAY_S]), tz)[1][0]) + 3) // 7
    which = _limit_rows(limits, site, h["hour"], how)
    ok = which >= 0
    h, site, how, day, week0, which = ({k: v[ok] for k, v in h.items()}, site[ok], how[ok], day[ok], week0[ok],
                                       which[ok])
    # each record under each limit it meets: its figures once
    pair_key, pair_of = np.unique(h["rec"] * (len(limits) + 1) + which, return_inverse=True)
    pair_of = pair_of.reshape(-1)
    exact = np.array([lim[4] * KMH_PER_UNIT[lim[5]] for lim in limits])
    limit_of = pair_key % (len(limits) + 1)
    figures = pair_figures(records, pair_key // (len(limits) + 1), exact[limit_of],
                           np.array([threshold(int(limits[i][0]), float(exact[i])) for i in limit_of.tolist()]))
    totals = np.array([float(np.sum(r[7])) for r in records])
    duration = rec["end_s"] - rec["start_s"]
    frac = h["seconds"] / duration[h["rec"]]
    per = figures[pair_of] * frac[:, None]
    spread = (duration > 3600) | (np.bincount(h["rec"], minlength=len(records)) > 1)
    week = (day + 3) // 7
    a = {"site_id": site, "direction": rec["direction"][h["rec"]], "display": rec["display"][h["rec"]],
         "limit_kmh": np.array([lim[3] for lim in limits], dtype=np.int64)[which] if limits else which,
         "hour_of_week": how, "k": (h["hour"] >= start.timestamp()).astype(np.int64),
         "n": totals[h["rec"]] * frac, "over_limit": per[:, 0], "over_threshold": per[:, 1],
         "excess_sum_kmh": per[:, 2], "hours": np.ones(len(site), dtype=np.int64), "seconds": h["seconds"],
         "weeks": np.left_shift(1, np.clip(week - week0, 0, 62)).astype(np.int64),
         "quality": np.where(figures[pair_of, 3] > 0, int(Quality.SHARES_INTERPOLATED), 0)
         | np.where(spread[h["rec"]], int(Quality.HOURS_SPREAD), 0)}
    return _cells(a)


def _hours(rec: dict[str, NDArray], lo_s: float, hi_s: float) -> dict[str, NDArray]:
    """Every UTC hour each record covers inside [lo_s, hi_s) (epoch s, whole hours): the record's
    index, the hour's start and the record's seconds in it."""
    first = np.floor(np.maximum(rec["start_s"], lo_s) / HOUR_S) * HOUR_S
    stop = np.minimum(rec["end_s"], hi_s)
    count = np.maximum(np.ceil((stop - first) / HOUR_S), 0).astype(np.int64)
    idx = np.repeat(np.arange(len(first)), count)
    offset = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    hour = first[idx] + HOUR_S * offset
    seconds = np.minimum(hour + HOUR_S, stop[idx]) - np.maximum(hour, rec["start_s"][idx])
    return {"rec": idx, "hour": hour.astype(np.int64), "seconds": seconds}


def _limit_rows(limits: list[tuple], site: NDArray, hour: NDArray, how: NDArray) -> NDArray[np.int64]:
    """Index into ``limits`` (ordered by site, valid_from) of the legal limit in force at each
    (site, UTC hour): a timed limit whose weekday and local hour match, else the standing one, as
    SQL speed_limit_at; -1: none. Standing limits of a site do not overlap (nor timed ones)."""
    which = np.full(len(site), -1, dtype=np.int64)
    if not limits:
        return which
    lim_site = np.array([r[0] for r in limits], dtype=np.int64)
    from_s = np.array([r[1] for r in limits], dtype=np.float64)
    to_s = np.array([r[2] for r in limits], dtype=np.float64)
    timed = np.array([bool(r[6]) for r in limits], dtype=bool)
    t = hour.astype(np.float64)
    standing = np.flatnonzero(~timed)
    if len(standing):  # the last standing limit of the site starting at or before the hour
        key = lim_site[standing].astype(np.float64) * 2.0 ** 34 + from_s[standing]
        order = np.argsort(key, kind="stable")
        j = np.searchsorted(key[order], site.astype(np.float64) * 2.0 ** 34 + t, side="right") - 1
        cand = standing[order[np.clip(j, 0, None)]]
        hit = (j >= 0) & (lim_site[cand] == site) & (t >= from_s[cand]) & (t < to_s[cand])
        which[hit] = cand[hit]
    isodow, local_hour = how // 24 + 1, how % 24
    for i in np.flatnonzero(timed).tolist():  # few: school zones
        _, _, _, _, _, _, _, days, hour_from, hour_to = limits[i]
        hit = ((site == lim_site[i]) & (t >= from_s[i]) & (t < to_s[i]) & np.isin(isodow, list(days))
               & (local_hour >= hour_from) & (local_hour < hour_to))
        which[hit] = i
    return which


def _cells(a: dict[str, NDArray]) -> dict[str, NDArray]:
    """Per-hour contributions summed per cell; vehicles rounded, exceedance scaled with them."""
    key = ((((a["site_id"] * 4 + a["direction"]) * 2 + a["display"]) * 1000 + a["limit_kmh"]) * HOURS
           + a["hour_of_week"])
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    size = len(uniq)
    cur = a["k"] == 1

    def total(name: str, mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        return np.bincount(inv, weights=np.where(mask, a[name], 0.0), minlength=size)

    out: dict[str, NDArray] = {k: a[k][first] for k in KEYS}
    for prefix, mask in (("", cur), ("prev_", ~cur)):
        n = total("n", mask)
        whole = np.rint(n)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(n > 0, whole / n, 0.0)
        out[prefix + "n"] = whole.astype(np.int64)
        out[prefix + "over_threshold"] = total("over_threshold", mask) * scale
        if not prefix:
            out["over_limit"] = total("over_limit", mask) * scale
            out["excess_sum_kmh"] = total("excess_sum_kmh", mask) * scale
    out["hours_with_data"] = np.bincount(inv, weights=np.where(cur, a["hours"], 0), minlength=size).astype(np.int64)
    out["seconds"] = total("seconds", cur)
    bits = np.zeros(size, dtype=np.int64)
    np.bitwise_or.at(bits, inv[cur], a["weeks"][cur])
    out["weeks"] = np.unpackbits(bits.view(np.uint8)).reshape(size, 64).sum(axis=1).astype(np.int64)
    quality = np.zeros(size, dtype=np.int64)
    np.bitwise_or.at(quality, inv[cur], a["quality"][cur])
    out["quality"] = quality
    return out


def merge_columns(a: dict[str, NDArray], b: dict[str, NDArray]) -> dict[str, NDArray]:
    """Completed cells of the rollups (``a``) and of the binned counts (``b``, the same columns)
    summed per key, in key order, keeping the cells with data in the period.

    Vehicles, exceedance and hours with data add up; the hours observed too, unless both come
    from the same coverage records (a site with coverage: the larger); weeks: the larger (the
    two sources' weeks are not kept apart); quality bits: either's; coverage share and threshold:
    the rollups' where they have the cell.
    """
    both = {k: np.concatenate([a[k], b[k].astype(a[k].dtype)]) for k in a}
    if not len(both["n"]):
        return both
    order = np.lexsort([both[k] for k in reversed(KEYS)])
    both = {k: v[order] for k, v in both.items()}
    new = np.ones(len(order), dtype=bool)
    new[1:] = np.any([both[k][1:] != both[k][:-1] for k in KEYS], axis=0)
    starts = np.flatnonzero(new)
    out = {}
    for k, v in both.items():
        if k in KEYS or k in ("coverage_share", "threshold_kmh"):
            out[k] = v[starts]
        elif k in SUMMED:
            out[k] = np.add.reduceat(v, starts)
        elif k == "quality":
            out[k] = np.bitwise_or.reduceat(v, starts)
        elif k == "weeks":
            out[k] = np.maximum.reduceat(v, starts)
        elif k == "hours_observed":
            covered = np.isfinite(both["coverage_share"])
            out[k] = np.where(np.maximum.reduceat(covered, starts), np.maximum.reduceat(v, starts),
                              np.add.reduceat(v, starts))
        else:
            out[k] = v[starts]
    keep = out["hours_with_data"] > 0
    return {k: v[keep] for k, v in out.items()}


def observed_hours(cols: dict[str, NDArray]) -> NDArray[np.float64]:
    """Hours a binned cell observed: from coverage records where the site has them (already in
    ``hours_observed``), else the time its records cover."""
    return np.where(np.isfinite(cols["coverage_share"]), cols["hours_observed"], cols["seconds"] / 3600.0)
