"""Spot-speed summary of one site × direction × display mode: n, mean, SD, V10…V95, pace,
exceedance shares with Wilson intervals, and severity. From per-vehicle speeds or a histogram.

Definitions follow docs/statistics.md. Speeds in km/h; shares 0..1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from planner import exceedance as ex
from planner import percentiles as pc
from planner.wilson import Z95, wilson_pair

PERCENTILES = {"v10": 0.10, "v50": 0.50, "v85": 0.85, "v90": 0.90, "v95": 0.95}
ROUNDING_OFFSET_KMH = {"truncate": 0.0, "round": -0.5, "exact": 0.0}
KMH_PER_UNIT = {"kmh": 1.0, "mph": 1.609344, "mps": 3.6, "fps": 1.09728, "cms": 0.036}
"""km/h of one unit of each ``signs.unit``."""


def bin_values(lower: ArrayLike, unit: str) -> NDArray[np.float64]:
    """The one stored speed (km/h) each 1 km/h rollup bin [b, b + 1) can hold for a sign that
    reports whole ``unit`` values of at least 1 km/h (NaN: no whole value falls in the bin).

    A whole value m is stored as m·k km/h (real, as readings.speed_kmh) and binned at its floor;
    with k ≥ 1 two values never share a bin, so a bin's count is the count of that one value.
    """
    if unit not in KMH_PER_UNIT:
        raise ValueError(f"unit {unit!r} is not one of {sorted(KMH_PER_UNIT)}")
    k = KMH_PER_UNIT[unit]
    if k < 1.0:
        raise ValueError(f"unit {unit!r} is finer than the 1 km/h bin: its bins hold many values")
    b = np.asarray(lower, dtype=np.float64)
    m = np.ceil(np.round(b / k, 9))
    stored = (m * k).astype(np.float32)  # as readings.speed_kmh stores it
    return np.where(np.floor(stored) == b, m * k, np.nan)


@dataclass(frozen=True)
class Histogram:
    """Speed histogram: ``counts`` (..., B) over stored-speed bins [lower, lower + width).

    ``offset`` shifts stored edges to true edges (−0.5 for a rounding sign: stored 50 means a
    true speed in [49.5, 50.5)); it moves percentiles, not exceedance (see exceedance.py).
    ``integer`` says the stored speeds are whole km/h. The last width may be ``inf`` (open top).
    """

    counts: NDArray[np.float64]
    lower: NDArray[np.float64]
    width: NDArray[np.float64]
    offset: float = 0.0
    integer: bool = True
    values: NDArray[np.float64] | None = None
    """The one stored speed (km/h) of each bin, when every bin holds a single value (whole km/h
    or whole mph in 1 km/h bins): percentiles and exceedance are then exact, as over vehicles."""

    @classmethod
    def unit(cls, counts: ArrayLike, start: int = 0, rounding: str = "truncate",
             sign_unit: str | None = None) -> "Histogram":
        """1 km/h rollup bins b = start, start+1, … (``rollup_hourly.hist``; ``start`` is its
        lower array bound), quantised as ``signs.rounding`` says.

        With ``sign_unit`` (``signs.unit``) of a sign reporting whole values of at least 1 km/h
        (rounding not 'exact'), each bin holds one value and the figures are exact; otherwise
        they are interpolated within the bin."""
        if rounding not in ROUNDING_OFFSET_KMH:
            raise ValueError(f"rounding {rounding!r} is not one of {sorted(ROUNDING_OFFSET_KMH)}")
        c = np.asarray(counts, dtype=np.float64)
        lower = start + np.arange(c.shape[-1], dtype=np.float64)
        values = None
        if sign_unit is not None and rounding != "exact" and KMH_PER_UNIT.get(sign_unit, 0.0) >= 1.0:
            values = bin_values(lower, sign_unit)
            held = c.reshape(-1, c.shape[-1]).sum(axis=0) > 0
            if np.any(held & np.isnan(values)):
                values = None  # vehicles in a bin no whole value reaches: not that unit after all
        return cls(c, lower, np.ones_like(lower), ROUNDING_OFFSET_KMH[rounding], rounding != "exact", values)

    @property
    def exact(self) -> bool:
        """Percentiles and shares are those of the vehicles themselves (not interpolated)."""
        return self.values is not None

    @classmethod
    def binned(cls, counts: ArrayLike, lower: ArrayLike, upper: ArrayLike, integer: bool = True) -> "Histogram":
        """Pre-binned counts [lower, upper); ``upper`` NaN or inf for an open top bin."""
        lo = np.asarray(lower, dtype=np.float64)
        hi = np.asarray(upper, dtype=np.float64)
        width = np.where(np.isfinite(hi), hi - lo, np.inf)
        return cls(np.asarray(counts, dtype=np.float64), lo, width, 0.0, integer)

    @property
    def true_lower(self) -> NDArray[np.float64]:
        """Lower edges of the true speeds each bin holds, km/h."""
        return self.lower + self.offset

    @property
    def n(self) -> NDArray[np.float64]:
        """Vehicles per cell."""
        return self.counts.sum(axis=-1)


@dataclass(frozen=True)
class Share:
    """k of n vehicles, the share k/n (0..1) and its Wilson interval."""

    k: float
    n: float
    share: float
    low: float
    high: float


def share(k: float, n: float, z: float = Z95) -> Share:
    """Share with its Wilson interval (NaN share when n = 0)."""
    lo, hi = wilson_pair(k, n, z)
    return Share(float(k), float(n), float(k) / n if n > 0 else math.nan, lo, hi)


@dataclass(frozen=True)
class SpeedSummary:
    """Spot-speed figures for one set of vehicles. Speeds km/h, shares 0..1."""

    n: int
    mean: float
    sd: float
    percentiles: dict[str, float]
    pace_start_kmh: float
    pace_share: float
    limit_kmh: float
    threshold_kmh: float
    over_limit: Share
    over_limit_plus: dict[int, Share]
    over_threshold: Share
    mean_excess_kmh: float
    """Mean (v − L) of the vehicles over the limit."""
    severity_kmh: float
    """Share over limit × mean excess (= mean over all vehicles of max(v − L, 0))."""
    v85_excess_kmh: float
    """V85 − L."""
    exact_percentiles: bool = True
    """V10…V95 are the r-th slowest vehicles' speeds; False: interpolated within a bin."""
    exact_shares: bool = True
    """Shares over limit and threshold count vehicles exactly; False: the limit or threshold fell
    inside a bin and its vehicles were split linearly."""

    @property
    def v85(self) -> float:
        return self.percentiles["v85"]


def moments_from_sums(n: float, total: float, total_sq: float) -> tuple[float, float]:
    """Mean and SD (n − 1) from n, Σv and Σv² (as kept in rollup_hourly)."""
    if n <= 0:
        return math.nan, math.nan
    mean = total / n
    if n < 2:
        return mean, math.nan
    var = max((total_sq - total * total / n) / (n - 1), 0.0)
    return mean, math.sqrt(var)


def _exceedance(n, over_l, over_plus, over_t, excess, limit, threshold, v85, z) -> dict:
    mean_excess = excess / over_l if over_l > 0 else math.nan
    return dict(
        limit_kmh=float(limit),
        threshold_kmh=float(threshold),
        over_limit=share(over_l, n, z),
        over_limit_plus={k: share(c, n, z) for k, c in over_plus.items()},
        over_threshold=share(over_t, n, z),
        mean_excess_kmh=mean_excess,
        severity_kmh=excess / n if n > 0 else math.nan,
        v85_excess_kmh=v85 - limit,
    )


def summarise_speeds(
    speeds: ArrayLike, limit_kmh: float, threshold_kmh: float | None = None, z: float = Z95
) -> SpeedSummary:
    """Summary from per-vehicle speeds; T defaults to L + 6 km/h (v ≥ T is reportable)."""
    v = np.asarray(speeds, dtype=np.float64)
    n = v.size
    t = float(ex.threshold_se(limit_kmh)) if threshold_kmh is None else threshold_kmh
    pcts = {name: pc.vehicle_percentile(v, p) for name, p in PERCENTILES.items()}
    pace = pc.vehicle_pace(v)
    return SpeedSummary(
        n=n,
        mean=float(v.mean()) if n else math.nan,
        sd=float(v.std(ddof=1)) if n > 1 else math.nan,
        percentiles=pcts,
        pace_start_kmh=float(pace.start_kmh),
        pace_share=float(pace.share),
        **_exceedance(
            n,
            ex.vehicles_over(v, limit_kmh),
            {k: ex.vehicles_over(v, limit_kmh + k) for k in ex.LIMIT_PLUS_K},
            ex.vehicles_over(v, t, inclusive=True),
            ex.vehicle_excess_sum(v, limit_kmh),
            limit_kmh, t, pcts["v85"], z,
        ),
    )


def summarise_histogram(
    hist: Histogram,
    limit_kmh: float,
    threshold_kmh: float | None = None,
    sums: tuple[float, float] | None = None,
    z: float = Z95,
) -> SpeedSummary:
    """Summary from one histogram (counts of shape (B,)).

    ``sums`` = (Σv, Σv²) gives the exact mean and SD; without it they come from bin middles
    (true edges; an open top bin counts at its lower edge).
    """
    c = hist.counts
    if c.ndim != 1:
        raise ValueError(f"summarise_histogram takes one histogram, got counts of shape {c.shape}")
    n = float(c.sum())
    t = float(ex.threshold_se(limit_kmh)) if threshold_kmh is None else threshold_kmh
    tl = hist.true_lower
    if sums is not None:
        mean, sd = moments_from_sums(n, *sums)
    else:
        mid = tl + np.where(np.isfinite(hist.width), hist.width / 2, 0.0)
        mean, sd = moments_from_sums(n, float(c @ mid), float(c @ mid**2))
    if hist.values is not None:
        return _exact_summary(hist, n, mean, sd, limit_kmh, t, z)
    pcts = {k: float(pc.histogram_percentile(c, tl, hist.width, p)) for k, p in PERCENTILES.items()}
    pace = pc.histogram_pace(c, tl, hist.width)

    tails = ex.BinnedTails(c, hist.lower, hist.width, hist.integer)

    def over(level: float, inclusive: bool = False) -> float:
        return float(tails.over(level, inclusive))

    levels = [limit_kmh, t]  # the flagged pair; L + k shares follow the same rule
    exact_shares = True  # whole-km/h bins: "v > L" and "v ≥ T" cut between whole values
    if not hist.integer:
        edges = np.concatenate([hist.lower, (hist.lower + hist.width)[np.isfinite(hist.width)]])
        exact_shares = all(np.any(np.isclose(edges, x)) or x < hist.lower[0] for x in levels)

    return SpeedSummary(
        n=int(round(n)),
        mean=mean,
        sd=sd,
        percentiles=pcts,
        pace_start_kmh=float(pace.start_kmh),
        pace_share=float(pace.share),
        **_exceedance(
            n,
            over(limit_kmh),
            {k: over(limit_kmh + k) for k in ex.LIMIT_PLUS_K},
            over(t, inclusive=True),
            float(tails.excess_sum(limit_kmh)),
            limit_kmh, t, pcts["v85"], z,
        ),
        exact_percentiles=False,
        exact_shares=bool(exact_shares),
    )


def _exact_summary(hist: Histogram, n: float, mean: float, sd: float, limit_kmh: float, t: float,
                   z: float) -> SpeedSummary:
    """Summary of a histogram whose bins each hold one stored value: as over the vehicles."""
    keep = hist.counts > 0
    v = hist.values[keep]
    c = hist.counts[keep]
    cum = np.cumsum(c)
    pcts = {}
    for name, p in PERCENTILES.items():
        pcts[name] = float(v[int(np.searchsorted(cum, pc.rank_for(p, int(round(n))), side="left"))]) if n else math.nan
    if v.size:
        # windows [s, s + 10) start at a value; the count inside is a difference of cumulative counts
        end = np.searchsorted(v, v + pc.PACE_WIDTH_KMH, side="left")
        inside = np.concatenate([[0.0], cum])[end] - (cum - c)
        best = int(np.argmax(inside))
        pace_start, pace_share = float(v[best]), float(inside[best] / n)
    else:
        pace_start = pace_share = math.nan

    def over(level: float, inclusive: bool = False) -> float:
        return float(c[v >= level].sum() if inclusive else c[v > level].sum())

    return SpeedSummary(
        n=int(round(n)),
        mean=mean,
        sd=sd,
        percentiles=pcts,
        pace_start_kmh=pace_start,
        pace_share=pace_share,
        **_exceedance(
            n,
            over(limit_kmh),
            {k: over(limit_kmh + k) for k in ex.LIMIT_PLUS_K},
            over(t, inclusive=True),
            float(c @ np.clip(v - limit_kmh, 0.0, None)),
            limit_kmh, t, pcts["v85"], z,
        ),
    )
