"""Follow-up of a control: did speeds drop, for how long, and when to come back.

Method (docs/statistics.md):
- baseline: the ``baseline_weeks`` before the *selection decision* (not before the control), so
  a site picked for a high spell does not credit the control with its regression to the mean;
- outcome windows: during the control, +1 day, +1 week, +4 weeks (days after the control day);
- difference in differences: per day d = treated − comparison (comparison sites pooled), and
  effect = mean d in the window − mean d in the baseline; without comparison sites, d = treated;
- uncertainty: normal approximation on day-level differences, SE = sd_baseline(d)·√(1/n_w + 1/n_b),
  which keeps the overdispersion binomial intervals miss (platoons, commuters, weather); the
  z quantile is widened to Student's t for the n_b − 1 degrees of freedom of that SD;
- with sub-daily bins (hourly), each window is compared with the baseline's bins at the same
  times of day, so the 10:00 control hour is set against other days' 10:00 hours;
- time halo: the first day after the control whose d is back inside the baseline's confidence
  interval of mean d (on the side the control moved it from);
- the baseline starts no earlier than the site's first data (``first_day``) and says how many days
  with data it rests on; under ``min_baseline_days`` nothing is estimated (the report is flagged);
- "return from" is the day the effect has worn off (the halo's end, at least ``min_revisit_days``
  after the control): the day a new control is worth holding again;
- each estimate reads as a decrease, an increase or no measurable effect (its interval holds 0).

Shares are 0..1, V85 in km/h. Times are numpy datetime64 in the site's local time, all series on
the same grid of bin starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import ArrayLike

from planner.wilson import Z95

DAY = np.timedelta64(1, "D")
MIN_BASELINE_DAYS = 7
"""Fewer baseline days with data than this: the effect is not estimated."""
DEFAULT_WINDOWS: dict[str, tuple[int, int]] = {"+1 day": (1, 1), "+1 week": (7, 1), "+4 weeks": (28, 1)}
"""Window name → (first day after the control day, number of days)."""


@dataclass(frozen=True)
class SiteSeries:
    """One site's bins: ``times`` bin starts (datetime64, local), vehicles ``n``, vehicles over
    the limit ``over`` and V85 (km/h, NaN where unknown)."""

    times: ArrayLike
    n: ArrayLike
    over: ArrayLike
    v85: ArrayLike


@dataclass(frozen=True)
class Estimate:
    """Change in one outcome over one window; ``did`` with its confidence interval."""

    window: str
    days: int
    treated_change: float
    comparison_change: float
    did: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        return bool(self.low > 0 or self.high < 0)

    @property
    def verdict(self) -> str:
        """'decrease' or 'increase' (interval excludes 0), 'no measurable effect', or 'unknown'."""
        if not np.isfinite(self.did) or not np.isfinite(self.low):
            return "unknown"
        if self.high < 0:
            return "decrease"
        if self.low > 0:
            return "increase"
        return "no measurable effect"


@dataclass(frozen=True)
class EffectReport:
    baseline_start: date
    """The later of the requested start and the site's first day with data."""
    baseline_end: date
    """Exclusive: the selection date."""
    baseline_days: int
    """Days with data in the baseline: what every estimate rests on."""
    baseline_requested_days: int
    share_over_limit: dict[str, Estimate]
    """Empty when the baseline is too short (``computed`` False)."""
    v85: dict[str, Estimate]
    halo_days: int | None
    """Days after the control day until the share was back inside the baseline's interval."""
    return_from: date | None
    """The day the effect has worn off: a control is worth holding again from then."""
    notes: tuple[str, ...]
    computed: bool = True
    """False: the baseline has fewer than MIN_BASELINE_DAYS days with data; nothing estimated."""


def t_quantile(z: float, df: int) -> float:
    """Student-t quantile matching the normal quantile z (Cornish–Fisher; 2.0518 for 1.96, 27 df)."""
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def _as_date(x) -> np.datetime64:
    return np.datetime64(x, "D")


class _Daily:
    """Per-day aggregates of treated and pooled comparison bins under a mask."""

    def __init__(self, days, mask, t, c):
        d, inv = np.unique(days[mask], return_inverse=True)
        self.days = d

        def agg(n, over, v85):
            n, over, v85 = n[..., mask], over[..., mask], v85[..., mask]
            if n.ndim == 2:  # comparison sites: pool per bin
                ok = np.isfinite(v85) & (n > 0)
                v_num = np.where(ok, n * v85, 0.0).sum(axis=0)
                v_den = np.where(ok, n, 0.0).sum(axis=0)
                n, over = n.sum(axis=0), over.sum(axis=0)
            else:
                ok = np.isfinite(v85) & (n > 0)
                v_num, v_den = np.where(ok, n * v85, 0.0), np.where(ok, n, 0.0)
            size = d.size
            sn = np.bincount(inv, n, size)
            so = np.bincount(inv, over, size)
            vn, vd = np.bincount(inv, v_num, size), np.bincount(inv, v_den, size)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(sn > 0, so / sn, np.nan), np.where(vd > 0, vn / vd, np.nan)

        self.t_share, self.t_v85 = agg(*t)
        if c is None:
            self.c_share = self.c_v85 = np.zeros(d.size)
        else:
            self.c_share, self.c_v85 = agg(*c)


def _estimate(name, base: _Daily, win: _Daily, outcome: str, z: float) -> Estimate:
    def parts(d: _Daily):
        t, c = (d.t_share, d.c_share) if outcome == "share" else (d.t_v85, d.c_v85)
        ok = np.isfinite(t) & np.isfinite(c)
        return t[ok], c[ok]

    bt, bc = parts(base)
    wt, wc = parts(win)
    nan = float("nan")
    if bt.size == 0 or wt.size == 0:
        return Estimate(name, int(wt.size), nan, nan, nan, nan, nan)
    diff_b = bt - bc
    did = float((wt - wc).mean() - diff_b.mean())
    sd = float(diff_b.std(ddof=1)) if diff_b.size > 1 else nan
    half = t_quantile(z, diff_b.size - 1) * sd * np.sqrt(1 / wt.size + 1 / diff_b.size) if diff_b.size > 1 else nan
    return Estimate(name, int(wt.size), float(wt.mean() - bt.mean()), float(wc.mean() - bc.mean()),
                    did, did - half, did + half)


def evaluate_control(
    treated: SiteSeries,
    comparison: list[SiteSeries],
    control_start: ArrayLike,
    control_end: ArrayLike,
    selected_on: ArrayLike,
    *,
    baseline_weeks: int = 4,
    windows: dict[str, tuple[int, int]] = DEFAULT_WINDOWS,
    z: float = Z95,
    min_revisit_days: int = 2,
    first_day: ArrayLike | None = None,
    min_baseline_days: int = MIN_BASELINE_DAYS,
) -> EffectReport:
    """Estimate a control's effect on the share over the limit and on V85.

    ``control_start``/``control_end``: local datetime64 (or naive datetime); ``selected_on``:
    the date the site was chosen; ``first_day``: the treated site's first local day with data
    (default: the first day of ``treated`` with vehicles; the baseline never starts before it). Comparison sites are pooled; their series share the
    treated site's ``times``.
    """
    times = np.asarray(treated.times).astype("datetime64[s]")
    arr = lambda x: np.asarray(x, dtype=np.float64)  # noqa: E731
    t = (arr(treated.n), arr(treated.over), arr(treated.v85))
    c = None
    if comparison:
        for s in comparison:
            if not np.array_equal(np.asarray(s.times).astype("datetime64[s]"), times):
                raise ValueError("comparison series must share the treated site's times")
        c = tuple(np.vstack([arr(getattr(s, f)) for s in comparison]) for f in ("n", "over", "v85"))
    start, end = np.datetime64(control_start, "s"), np.datetime64(control_end, "s")
    bin_len = np.min(np.diff(times)) if times.size > 1 else np.timedelta64(1, "D")
    days = times.astype("datetime64[D]")
    tod = times - days.astype("datetime64[s]")
    d0 = start.astype("datetime64[D]")
    sel = _as_date(selected_on)
    requested = sel - baseline_weeks * 7 * DAY
    if first_day is None:  # the treated series' first day with vehicles
        has = np.flatnonzero(t[0] > 0)
        first_day = days[has[0]] if has.size else sel
    b_start = max(requested, _as_date(first_day))
    b_start = min(b_start, sel)
    in_base = (days >= b_start) & (days < sel)
    notes = [] if comparison else ["no comparison sites: before/after only, not difference in differences"]
    if d0 < sel:
        raise ValueError(f"control on {d0} precedes the selection date {sel}")

    base_all = _Daily(days, in_base, t, c)
    n_base = int(np.isfinite(base_all.t_share).sum())
    if b_start > requested:
        notes.append(f"baseline starts {b_start.astype(date)}, the site's first data, not {requested.astype(date)}")
    if n_base < min_baseline_days:
        notes.append(f"baseline rests on {n_base} days with data (at least {min_baseline_days} needed): "
                     f"effect not computed")
        return EffectReport(b_start.astype(date), sel.astype(date), n_base, baseline_weeks * 7, {}, {}, None, None,
                            tuple(notes), computed=False)
    masks = {"during": (times < end) & (times + bin_len > start)}
    for name, (offset, length) in windows.items():
        masks[name] = (days >= d0 + offset * DAY) & (days < d0 + (offset + length) * DAY)
    share, v85 = {}, {}
    for name, mask in masks.items():
        base = _Daily(days, in_base & np.isin(tod, tod[mask]), t, c)
        win = _Daily(days, mask, t, c)
        share[name] = _estimate(name, base, win, "share", z)
        v85[name] = _estimate(name, base, win, "v85", z)
    if n_base < baseline_weeks * 7:
        notes.append(f"baseline rests on {n_base} of {baseline_weeks * 7} requested days")

    during = share["during"]
    halo = _halo(base_all, _Daily(days, days > d0, t, c), during, d0, z, notes)
    return_from = None
    if halo is not None or during.verdict != "decrease":
        return_from = (d0 + max(halo or 0, min_revisit_days) * DAY).astype(date)
    return EffectReport(b_start.astype(date), sel.astype(date), n_base, baseline_weeks * 7, share, v85,
                        halo, return_from, tuple(notes))


def _halo(base: _Daily, after: _Daily, during: Estimate, d0, z, notes: list[str]) -> int | None:
    """First day after the control whose daily difference is back inside the baseline CI."""
    if during.verdict == "increase":
        notes.append("the share over the limit rose during the control (a significant increase): no halo")
        return None
    if during.verdict != "decrease":
        notes.append("no measurable effect during the control: no halo; return soon")
        return None
    diff = base.t_share - base.c_share
    diff = diff[np.isfinite(diff)]
    if diff.size < 2:
        return None
    half = t_quantile(z, diff.size - 1) * diff.std(ddof=1) / np.sqrt(diff.size) + 1e-12  # float slack
    after_d = after.t_share - after.c_share
    back = after_d >= diff.mean() - half if during.did < 0 else after_d <= diff.mean() + half
    back &= np.isfinite(after_d)
    if not back.any():
        last = after.days[-1] if after.days.size else d0
        notes.append(f"effect still present on {last}: check again later")
        return None
    return int((after.days[np.argmax(back)] - d0) / DAY)
