"""Pre-binned counts in the ranking's cells: binned_counts not also in rollup_hourly (Toronto's
5 km/h bins, the ingest endpoint's binned form), summed beside the cells of the rollups.

A record counts vehicles in its bins over [period_start, period_end). Its vehicles go to the UTC
hours it covers in proportion to the time it covers in each: a record within one hour goes to
that hour whole; a longer one is spread evenly over its hours and its cells are flagged
HOURS_SPREAD (a 25-day Toronto installation says nothing about the hour of the week). Each hour
is measured against the legal limit in force at it, as posted (planner_binned_cells), like the
rollups. Exceedance uses the record's true bin edges (planner.exceedance.BinnedTails, continuous
speeds): exact where the limit or threshold falls on a bin edge; otherwise the bin holding it is
split linearly and the cell is flagged SHARES_INTERPOLATED. A cell's vehicles are rounded to whole
vehicles and its exceedance scaled with them, so its shares are those of its records.

``binned_columns`` gives planner.load's cell columns (key order) plus ``seconds`` and ``quality``;
``merge_columns`` adds them to the rollups' completed cells. Pure but for the one query.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import psycopg
from numpy.typing import NDArray

from planner.cellweeks import HOURS
from planner.exceedance import BinnedTails
from planner.quality import Quality
from planner.stats import KMH_PER_UNIT
from sql import QUERIES

KEYS = ("site_id", "direction", "display", "limit_kmh", "hour_of_week")
SUMMED = ("n", "over_limit", "over_threshold", "excess_sum_kmh", "hours_with_data", "prev_n", "prev_over_threshold")


def on_edges(lower: NDArray, upper: NDArray, level: float) -> bool:
    """``level`` falls on a bin edge (or below every bin): shares over it are exact."""
    edges = np.concatenate([lower, upper[np.isfinite(upper)]])
    return bool(np.any(np.isclose(edges, level)) or level < lower[0])


def record_figures(lower: NDArray, upper: NDArray, counts: NDArray, limit_kmh: float,
                   threshold_kmh: float) -> tuple[float, float, float, bool]:
    """(over limit v > L, over threshold v ≥ T, Σ(v − L) over those over, interpolated) of one
    record's bins [lower, upper) (upper inf: the open top bin), as continuous speeds."""
    width = np.where(np.isfinite(upper), upper - lower, np.inf)
    tails = BinnedTails(counts, lower, width, integer=False)
    exact = on_edges(lower, upper, limit_kmh) and on_edges(lower, upper, threshold_kmh)
    return (float(tails.over(limit_kmh)), float(tails.over(threshold_kmh, inclusive=True)),
            float(tails.excess_sum(limit_kmh)), not exact)


def binned_columns(conn: psycopg.Connection, start, end, scan_from, site_ids: list[int],
                   threshold: Callable[[int, float], float]) -> dict[str, NDArray] | None:
    """The binned counts of ``site_ids`` as cells of [start, end), with the previous period
    [scan_from, start) in ``prev_n``/``prev_over_threshold`` (None: no binned counts there).

    ``threshold(site, L)`` is the reporting threshold (km/h) at a site for the exact limit L.
    """
    if not site_ids:
        return None
    rows = conn.execute(QUERIES["planner_binned_cells"], {"start": start, "end": end, "scan_from": scan_from,
                                                          "site_ids": site_ids}, binary=True).fetchall()
    if not rows:
        return None
    parts: dict[str, list[NDArray]] = {k: [] for k in (*KEYS, "k", "n", "over_limit", "over_threshold",
                                                       "excess_sum_kmh", "hours", "seconds", "weeks", "quality")}
    for (_id, site, direction, display, duration, lo, hi, cnt, k, limit, posted, unit, how, seconds, hours,
         weeks) in rows:
        lo, hi, cnt = (np.asarray(x, dtype=np.float64) for x in (lo, hi, cnt))
        limit, posted, how = (np.asarray(x, dtype=np.int64) for x in (limit, posted, how))
        seconds = np.asarray(seconds, dtype=np.float64)
        frac = seconds / float(duration)
        spread = float(duration) > 3600 or len(seconds) > 1
        figures = {}
        for key in set(zip(limit.tolist(), posted.tolist(), unit, strict=True)):
            exact = key[1] * KMH_PER_UNIT[key[2]]
            figures[key] = record_figures(lo, hi, cnt, exact, threshold(site, exact))
        per = np.array([figures[key] for key in zip(limit.tolist(), posted.tolist(), unit, strict=True)])
        m = len(frac)
        parts["site_id"].append(np.full(m, site, dtype=np.int64))
        parts["direction"].append(np.full(m, direction, dtype=np.int64))
        parts["display"].append(np.full(m, display, dtype=np.int64))
        parts["limit_kmh"].append(limit)
        parts["hour_of_week"].append(how)
        parts["k"].append(np.asarray(k, dtype=np.int64))
        parts["n"].append(cnt.sum() * frac)
        parts["over_limit"].append(per[:, 0] * frac)
        parts["over_threshold"].append(per[:, 1] * frac)
        parts["excess_sum_kmh"].append(per[:, 2] * frac)
        parts["hours"].append(np.asarray(hours, dtype=np.int64))
        parts["seconds"].append(seconds)
        parts["weeks"].append(np.asarray(weeks, dtype=np.int64))
        parts["quality"].append(np.where(per[:, 3] > 0, int(Quality.SHARES_INTERPOLATED), 0)
                                | (int(Quality.HOURS_SPREAD) if spread else 0))
    a = {key: np.concatenate(v) for key, v in parts.items()}
    return _cells(a)


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
    out["weeks"] = np.array([int(b).bit_count() for b in bits.tolist()], dtype=np.int64)
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
