"""planner.load on the seeded demo: the SQL cell aggregation equals the pure numpy path."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import numpy as np
import pytest

from planner.exceedance import BinnedTails
from planner.hourofweek import local_cells
from planner.hourrows import hour_rows
from planner.load import LoadError, Period, default_period, load_cells, load_sites, resolve_site
from planner.quality import Quality
from planner.settings import PlannerSettings, ThresholdRule
from sql import QUERIES


def _pure_cells(conn, cells):
    """Per (site, direction, display, limit, how): n, over_limit, over_threshold, excess from raw hourly rows."""
    out = defaultdict(lambda: np.zeros(4))
    sites = load_sites(conn)
    for span in cells.spans:
        rows = conn.execute(QUERIES["planner_hourly_rows"],
                            {"site_ids": [span.site_id], "start": span.start, "end": span.end}).fetchall()
        if not rows:
            continue
        h = hour_rows(rows)
        tails = BinnedTails(h.counts, h.bins, np.ones_like(h.bins), span.integer)
        over_l = tails.over(span.limit_kmh)
        over_t = tails.over(span.threshold_kmh, inclusive=True)
        excess = tails.excess_sum(span.limit_kmh)
        how, _ = local_cells(h.epoch_s, sites[span.site_id].time_zone)
        for i in range(len(rows)):
            key = (span.site_id, int(h.direction[i]), int(h.display[i]), span.limit_kmh, int(how[i]))
            out[key] += (h.counts[i].sum(), over_l[i], over_t[i], excess[i])
    return out


@pytest.mark.parametrize("rule", [ThresholdRule(), ThresholdRule(kind="npcc")], ids=["se+6", "npcc"])
def test_sql_cells_equal_the_pure_histogram_path(pdemo_ro, rule):
    planner = PlannerSettings(threshold=rule)
    period = default_period(pdemo_ro, 4)
    cells = load_cells(pdemo_ro, period, planner)
    pure = _pure_cells(pdemo_ro, cells)
    assert len(cells) == len(pure) > 1000
    roundings = {s.rounding for s in cells.spans}
    assert {"truncate", "round", "exact"} <= roundings  # every histogram rule is exercised
    if rule.kind == "npcc":
        assert any(t != int(t) for t in cells["threshold_kmh"])  # fractional thresholds split a bin
    got = np.array([[cells[k][i] for k in ("n", "over_limit", "over_threshold", "excess_sum_kmh")]
                    for i in range(len(cells))])
    want = np.array([pure[(int(cells["site_id"][i]), int(cells["direction"][i]), int(cells["display"][i]),
                           int(cells["limit_kmh"][i]), int(cells["hour_of_week"][i]))] for i in range(len(cells))])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6)


def test_limit_change_splits_cells_and_flags_them(pdemo_ro):
    sites = load_sites(pdemo_ro)
    kungs = resolve_site(sites, "Kungsgatan")
    cells = load_cells(pdemo_ro, default_period(pdemo_ro, 4), PlannerSettings(), sites=sites)
    mine = cells["site_id"] == kungs.id
    assert set(cells["limit_kmh"][mine].tolist()) == {50, 40}
    assert np.all(cells["quality"][mine] & Quality.LIMIT_CHANGED)
    # the sign still says 50 after the change to 40: a mismatch only under the 40 limit
    under40 = mine & (cells["limit_kmh"] == 40)
    assert np.all(cells["quality"][under40] & Quality.LIMIT_MISMATCH)
    assert not np.any(cells["quality"][mine & (cells["limit_kmh"] == 50)] & Quality.LIMIT_MISMATCH)
    others = ~mine
    assert not np.any(cells["quality"][others] & Quality.LIMIT_CHANGED)


def test_dead_sign_lowers_coverage_and_observed_hours(pdemo_ro):
    sites = load_sites(pdemo_ro)
    sjo = resolve_site(sites, "Sjövägen")
    cells = load_cells(pdemo_ro, default_period(pdemo_ro, 8), PlannerSettings(), sites=sites)
    mine = cells["site_id"] == sjo.id
    share = cells["coverage_share"][mine]
    assert np.nanmin(share) < 1.0 and np.nanmax(share) <= 1.0
    # the moved sign covers half the period at each of its sites; the others measured every hour
    moved = np.isin(cells["site_id"], [resolve_site(sites, n).id for n in ("Prästgårdsgatan", "Kyrkogatan")])
    assert np.all(cells["quality"][moved & (cells["coverage_share"] < 0.75)] & Quality.LOW_COVERAGE)
    assert np.nanmin(cells["coverage_share"][moved]) < 0.75
    assert np.nanmin(cells["coverage_share"][~mine & ~moved]) > 0.99
    assert np.all(cells["hours_observed"] >= 0)


def test_default_period_ends_at_latest_data_and_empty_database_is_refused(pdemo_ro, db):
    p = default_period(pdemo_ro, 4)
    assert p.end - p.start == timedelta(weeks=4) and p.end.hour in (22, 23)
    assert p.previous().end == p.start
    with pytest.raises(LoadError, match="no traffic data"):
        default_period(db, 4)
    with pytest.raises(LoadError, match="not after"):
        Period(p.end, p.start)


def test_resolve_site_by_id_name_and_prefix(pdemo_ro):
    sites = load_sites(pdemo_ro)
    s = resolve_site(sites, "Skolvägen")
    assert resolve_site(sites, str(s.id)) == s == resolve_site(sites, s.name)
    with pytest.raises(LoadError, match="no site with id or name 'Nowhere'"):
        resolve_site(sites, "Nowhere")
