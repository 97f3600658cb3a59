from datetime import date

import numpy as np
import pytest

from planner.effect import SiteSeries, evaluate_control, t_quantile

START = np.datetime64("2026-02-02")
DAYS = START + np.arange(80)  # 2026-02-02 … 2026-04-22
SELECTED = np.datetime64("2026-03-09")  # day 35: baseline 2026-02-09 … 2026-03-08
CONTROL = np.datetime64("2026-03-16T10:00")  # day 42
CONTROL_END = np.datetime64("2026-03-16T10:20")
DAY42 = 42


def synthetic(seed, effect=0.0, v85_effect=0.0, half_life=2.0, n_comp=6, n_per_day=5000):
    """Treated site + comparison sites sharing a common daily shock (weather, holidays)."""
    g = np.random.default_rng(seed)
    k = np.arange(DAYS.size)
    shock = g.normal(0, 0.03, DAYS.size)
    v_shock = g.normal(0, 1.0, DAYS.size)
    decay = np.where(k >= DAY42, 0.5 ** ((k - DAY42) / half_life), 0.0)

    def site(p, v, eff, v_eff):
        n = g.poisson(n_per_day, DAYS.size)
        share = np.clip(p + shock + eff * decay, 0, 1)
        v85 = v + v_shock + v_eff * decay + g.normal(0, 0.3, DAYS.size)
        return SiteSeries(DAYS, n, g.binomial(n, share), v85)

    treated = site(0.35, 52.0, effect, v85_effect)
    comp = [site(g.uniform(0.2, 0.4), g.uniform(47, 53), 0.0, 0.0) for _ in range(n_comp)]
    return treated, comp


def test_exact_counts_by_hand():
    # no noise: treated 30 % over, comparison 20 %; on control days the treated site drops to 20 %
    # for days 42–46, back to 30 % from day 47. Baseline d = 0.30 − 0.20 = 0.10 every day (sd 0).
    n = np.full(DAYS.size, 1000)
    p = np.where((np.arange(DAYS.size) >= 42) & (np.arange(DAYS.size) < 47), 0.2, 0.3)
    v = np.where(p < 0.3, 48.0, 52.0)
    treated = SiteSeries(DAYS, n, n * p, v)
    comp = [SiteSeries(DAYS, n, n * 0.2, np.full(DAYS.size, 50.0))]
    r = evaluate_control(treated, comp, CONTROL, CONTROL_END, SELECTED)
    assert (r.baseline_start, r.baseline_end, r.baseline_days) == (date(2026, 2, 9), date(2026, 3, 9), 28)
    during = r.share_over_limit["during"]
    # window d = 0.20 − 0.20 = 0; DiD = 0 − 0.10 = −0.10; treated change −0.10, comparison 0
    assert during.did == pytest.approx(-0.10)
    assert (during.treated_change, during.comparison_change) == (pytest.approx(-0.1), pytest.approx(0))
    assert r.v85["during"].did == pytest.approx(-4.0)  # (48 − 50) − (52 − 50)
    assert r.share_over_limit["+1 week"].did == pytest.approx(0.0)  # day 49: back to 30 %
    assert r.halo_days == 5  # day 47 is the first day back at d = 0.10
    assert r.return_from == date(2026, 3, 21)


def test_recovers_injected_effect():
    treated, comp = synthetic(1, effect=-0.12, v85_effect=-4.0)
    r = evaluate_control(treated, comp, CONTROL, CONTROL_END, SELECTED)
    s, v = r.share_over_limit, r.v85
    assert s["during"].low < -0.12 < s["during"].high and s["during"].high < 0
    assert v["during"].low < -4.0 < v["during"].high and v["during"].high < 0
    # +1 day: −0.12 · 0.5^0.5 = −0.085
    assert s["+1 day"].low < -0.085 < s["+1 day"].high and s["+1 day"].significant
    # +4 weeks: −0.12 · 0.5^14 ≈ 0
    assert s["+4 weeks"].low < 0 < s["+4 weeks"].high
    assert r.halo_days is not None and 3 <= r.halo_days <= 14
    assert (r.return_from - date(2026, 3, 16)).days == max(r.halo_days, 2)


def test_no_effect_ci_covers_zero():
    treated, comp = synthetic(2)
    r = evaluate_control(treated, comp, CONTROL, CONTROL_END, SELECTED)
    for est in (r.share_over_limit["during"], r.v85["during"]):
        assert est.low < 0 < est.high, est
    assert r.halo_days is None and r.return_from == date(2026, 3, 18)
    assert any("no measurable effect" in note for note in r.notes)


def test_interval_coverage_is_near_nominal():
    # every window's 95 % interval should cover the true 0 in about 95 of 100 null data sets
    # (binomial sd of the count: √(100 · 0.95 · 0.05) = 2.2, so ≥ 89 is within ~2.7 sd)
    covered: dict[str, int] = {}
    for seed in range(100, 200):
        r = evaluate_control(*synthetic(seed), CONTROL, CONTROL_END, SELECTED)
        for kind, ests in (("share", r.share_over_limit), ("v85", r.v85)):
            for name, e in ests.items():
                covered[f"{kind} {name}"] = covered.get(f"{kind} {name}", 0) + (e.low < 0 < e.high)
    assert len(covered) == 8
    assert min(covered.values()) >= 89, covered


def test_t_quantile():
    assert t_quantile(1.96, 27) == pytest.approx(2.0518, abs=1e-4)  # tables: t(0.975, 27) = 2.0518
    assert t_quantile(1.96, 10_000) == pytest.approx(1.96, abs=1e-3)


def test_comparison_sites_remove_a_common_shock():
    treated, comp = synthetic(3)
    # a storm on the control day lowers every site's share by 0.15
    storm = lambda s: SiteSeries(s.times, s.n, np.where(DAYS == CONTROL.astype("datetime64[D]"),  # noqa: E731
                                                       np.asarray(s.over) - 0.15 * np.asarray(s.n), s.over), s.v85)
    r = evaluate_control(storm(treated), [storm(s) for s in comp], CONTROL, CONTROL_END, SELECTED)
    alone = evaluate_control(storm(treated), [], CONTROL, CONTROL_END, SELECTED)
    assert r.share_over_limit["during"].low < 0 < r.share_over_limit["during"].high
    assert alone.share_over_limit["during"].high < 0  # before/after alone is fooled
    assert any("no comparison sites" in note for note in alone.notes)


def test_baseline_ignores_days_between_selection_and_control():
    treated, comp = synthetic(4)
    base = evaluate_control(treated, comp, CONTROL, CONTROL_END, SELECTED)
    over = np.asarray(treated.over).copy()
    between = (DAYS >= SELECTED) & (DAYS < CONTROL.astype("datetime64[D]"))
    over[between] = 0  # anything may happen after the decision: it must not enter the baseline
    moved = evaluate_control(SiteSeries(DAYS, treated.n, over, treated.v85), comp, CONTROL, CONTROL_END, SELECTED)
    assert moved.share_over_limit == base.share_over_limit


def hourly(seed):
    """Hourly series: busy 10:00 hours with a high share, quiet other hours with a low one;
    during the control hour (2026-03-16 10:00) the treated site's share drops 0.5 → 0.3."""
    g = np.random.default_rng(seed)
    hours = np.arange(np.datetime64("2026-02-02T00", "h"), np.datetime64("2026-04-22T00", "h"))
    hod = (hours - hours.astype("datetime64[D]")).astype(int)
    p = np.where(hod == 10, 0.5, 0.2)
    in_control = hours == np.datetime64("2026-03-16T10", "h")
    no_v85 = np.full(hours.size, np.nan)
    n = g.poisson(np.where(hod == 10, 400, 50))
    treated = SiteSeries(hours, n, g.binomial(n, np.where(in_control, 0.3, p)), no_v85)
    comp = []
    for _ in range(4):
        nc = g.poisson(np.where(hod == 10, 400, 50))
        comp.append(SiteSeries(hours, nc, g.binomial(nc, p), no_v85))
    return treated, comp


def test_hourly_series_compares_the_control_hour_with_the_same_hour():
    # the baseline's 10:00 hours had 0.5, so the drop is −0.2. Against whole baseline days
    # (400·0.5 + 23·50·0.2) / 1550 = 0.277 it would look like +0.02: before/after alone shows
    # the matching. SE ≈ √(0.25/400 + 0.25/1600) = 0.028 per data set.
    alone = evaluate_control(hourly(0)[0], [], CONTROL, CONTROL_END, SELECTED).share_over_limit["during"]
    assert alone.treated_change == pytest.approx(-0.2, abs=0.07) and alone.high < 0
    runs = [evaluate_control(*hourly(seed), CONTROL, CONTROL_END, SELECTED) for seed in range(20)]
    during = [r.share_over_limit["during"] for r in runs]
    assert all(e.days == 1 and e.high < 0 for e in during)
    assert np.mean([e.did for e in during]) == pytest.approx(-0.2, abs=0.02)  # 0.028 / √20 = 0.006
    assert sum(e.low < -0.2 < e.high for e in during) >= 16
    assert sum(r.share_over_limit["+1 day"].low < 0 < r.share_over_limit["+1 day"].high for r in runs) >= 16
    assert np.isnan(runs[0].v85["during"].did)  # no V85 in the data: no V85 effect


def test_control_before_selection_is_refused():
    treated, comp = synthetic(6)
    with pytest.raises(ValueError, match="precedes the selection date"):
        evaluate_control(treated, comp, np.datetime64("2026-03-01T10:00"), np.datetime64("2026-03-01T10:20"),
                         SELECTED)


def test_injected_rise_is_reported_as_an_increase():
    treated, comp = synthetic(3, effect=+0.12, v85_effect=+3.0)
    r = evaluate_control(treated, comp, CONTROL, CONTROL_END, SELECTED)
    during = r.share_over_limit["during"]
    assert during.low > 0 and during.verdict == "increase"
    assert r.v85["during"].verdict == "increase"
    assert not any("no measurable effect" in n for n in r.notes)
    assert any("rose" in n and "increase" in n for n in r.notes)
    assert r.halo_days is None and r.return_from == date(2026, 3, 18)


def test_verdicts_of_a_drop_and_of_no_effect():
    drop = evaluate_control(*synthetic(4, effect=-0.12), CONTROL, CONTROL_END, SELECTED)
    none = evaluate_control(*synthetic(5), CONTROL, CONTROL_END, SELECTED)
    assert drop.share_over_limit["during"].verdict == "decrease"
    assert none.share_over_limit["during"].verdict == "no measurable effect"


def test_baseline_never_reaches_before_the_first_data_and_says_its_length():
    treated, comp = synthetic(6, effect=-0.12)
    n = np.asarray(treated.n).copy()
    n[:25] = 0  # the site's first data on day 25 (2026-02-27): 10 of the 28 baseline days
    over = np.where(n > 0, treated.over, 0)
    r = evaluate_control(SiteSeries(DAYS, n, over, treated.v85), comp, CONTROL, CONTROL_END, SELECTED)
    assert r.computed and r.baseline_start == date(2026, 2, 27)
    assert (r.baseline_days, r.baseline_requested_days) == (10, 28)
    assert any("10 of 28" in x for x in r.notes)
    assert all(e.days >= 1 for e in r.share_over_limit.values())


def test_too_short_a_baseline_is_flagged_not_computed():
    treated, comp = synthetic(7, effect=-0.12)
    n = np.asarray(treated.n).copy()
    n[:32] = 0  # 3 baseline days
    r = evaluate_control(SiteSeries(DAYS, n, np.where(n > 0, treated.over, 0), treated.v85), comp,
                         CONTROL, CONTROL_END, SELECTED)
    assert not r.computed and r.baseline_days == 3
    assert r.share_over_limit == {} and r.v85 == {} and r.return_from is None
    assert any("3 days" in x and "not computed" in x for x in r.notes)
