"""Ranking end to end: small samples do not outrank busy streets; pins, excludes, stealth, tips, trend."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import numpy as np
from places import make_site
from planner_synth import write_hours

from planner.load import Period, load_sites, resolve_site
from planner.pins import clear_rule, set_rule
from planner.ranking import rank
from planner.settings import PlannerSettings

T0 = datetime(2024, 9, 2, tzinfo=timezone.utc)  # a Monday


def test_small_sample_site_does_not_outrank_a_busy_one(db):
    quiet = make_site(db, "Gränd 1", limit_kmh=50)
    busy = make_site(db, "Leden 2", limit_kmh=50)
    rng = np.random.default_rng(5)
    # quiet: ~3 vehicles in one hour a week, nearly all far over the threshold (v ≥ 56)
    write_hours(db, quiet, T0, 24 * 28, rng, per_hour=3, mean_kmh=70, sd_kmh=3, only_hour=7)
    # busy: 200 vehicles an hour at 07, a third of them over the threshold
    write_hours(db, busy, T0, 24 * 28, rng, per_hour=200, mean_kmh=53, sd_kmh=7, only_hour=7)
    result = rank(db, PlannerSettings(), period=Period(T0, T0 + timedelta(weeks=4)), stored_rules=False)
    rows = result.ranking.rows()
    assert [s.site_id for s in result.sites] == [busy, quiet]
    top_quiet = next(r for r in rows if r.site_id == quiet)
    top_busy = rows[0]
    assert top_busy.site_id == busy
    assert top_quiet.share_over_threshold > top_busy.share_over_threshold  # higher share, yet ranked lower
    assert top_quiet.share_low < top_quiet.share_over_threshold
    assert "insufficient sample (< 30 vehicles)" in top_quiet.warnings


def test_demo_ranking_parts_pins_excludes_and_stealth(pdemo_ro):
    sites = load_sites(pdemo_ro)
    storgatan = resolve_site(sites, "Storgatan").id
    kungs = resolve_site(sites, "Kungsgatan").id
    kyrko = resolve_site(sites, "Kyrkogatan").id
    skola = resolve_site(sites, "Skolvägen").id
    t = time.perf_counter()
    result = rank(pdemo_ro, PlannerSettings(), pins=(storgatan,), excludes=(kungs,))
    elapsed = time.perf_counter() - t
    print(f"load + rank on the 8-week demo: {1000 * elapsed:.0f} ms {result.timings_ms}")
    c = result.ranking.columns
    assert kungs not in c["site_id"] and result.sites[0].site_id == storgatan
    assert c["pinned"][: int(c["pinned"].sum())].all() and c["site_id"][0] == storgatan
    # totals descend after the pinned block
    rest = c["total"][~c["pinned"]]
    assert np.all(np.diff(rest) <= 1e-12)
    # stealth preferred: no display-on cell where the same cell has >= 30 stealth vehicles
    cur = result.cells
    stealth = {(int(s), int(d), int(h)) for s, d, h, disp, n in zip(cur["site_id"], cur["direction"],
               cur["hour_of_week"], cur["display"], cur["n"], strict=True) if disp == 0 and n >= 30}
    for s, d, h, disp in zip(c["site_id"], c["direction"], c["hour_of_week"], c["display"], strict=True):
        assert not (disp == 1 and (int(s), int(d), int(h)) in stealth)
    # tips from citizen_tips: two at Kyrkogatan, one at Skolvägen
    assert result.tips[kyrko] == 2 and result.tips[skola] == 1
    assert np.all(c["tips"][c["site_id"] == kyrko] == 2)
    # the previous 4 weeks are in the data: most cells have a trend
    assert np.isfinite(c["trend_pp"]).mean() > 0.5
    # every part is there and multiplies to the total
    prod = c["reportable_low"] * c["severity_factor"] * c["vulnerability_factor"] * c["tips_factor"] * c["trend_factor"]
    np.testing.assert_allclose(prod, c["total"])
    d = result.as_dict(5)
    assert len(d["cells"]) == 5 and {"reportable_low", "severity_factor", "warnings", "site_name"} <= set(d["cells"][0])


def test_stored_pins_and_excludes_apply_and_are_audited(pdemo_ro):
    sites = load_sites(pdemo_ro)
    sjo, ind = resolve_site(sites, "Sjövägen").id, resolve_site(sites, "Industrivägen").id
    set_rule(pdemo_ro, sjo, "exclude", "tester", "road works")
    set_rule(pdemo_ro, ind, "pin", "tester")
    result = rank(pdemo_ro, PlannerSettings())
    assert sjo not in result.ranking.columns["site_id"] and result.sites[0].site_id == ind
    assert clear_rule(pdemo_ro, sjo, "tester") == "exclude"
    assert clear_rule(pdemo_ro, sjo, "tester") is None
    actions = [r[0] for r in pdemo_ro.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["site.exclude", "site.pin", "site.unexclude"]


def test_each_site_once_with_its_best_hours_in_rank_and_its_text(pdemo_ro):
    from fartkoll.commands.planner import format_ranking

    result = rank(pdemo_ro, PlannerSettings())
    c = result.ranking.columns
    ids = [s.site_id for s in result.sites]
    assert len(ids) == len(set(ids))
    for s in result.sites:
        mine = np.flatnonzero(c["site_id"] == s.site_id)[:3]  # rows are best first
        assert [r.hour_of_week for r in s.top] == c["hour_of_week"][mine].tolist()
        assert [r.direction for r in s.top] == c["direction"][mine].tolist()
        assert (s.top[0].hour_of_week, s.top[0].direction, s.top[0].total) == (
            s.best.hour_of_week, s.best.direction, s.best.total)
    # the demo's 20 best cells are mostly one site; the text lists each site once, warnings once
    assert len({int(x) for x in c["site_id"][:20]}) < 5
    text = format_ranking(result, 10)
    kungs = result.sites[0].name
    assert text.count(f"{kungs} [") == 1 and "cells:" not in text
    block = text.split(f"{kungs} [")[1].split("\n  2. ")[0]
    assert "best hours:" in block and block.count(" ! ") <= 1
    assert "cells:" in format_ranking(result, 10, cells=True)
