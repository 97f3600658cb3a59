"""Binned sources in the site figures: count-weighted percentiles over the true bin edges, shares
exact at a bin edge and flagged inside a bin, and the whole real Toronto file against the city's
own published pct_85 (as ../shared/data/toronto/README.md says they agree)."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import psycopg
import pytest
from places import make_site

from planner.percentiles import histogram_percentile
from planner.settings import PlannerSettings
from planner.sitestats import site_statistics
from planner.stats import PERCENTILES, Histogram, summarise_histogram

UTC = timezone.utc


def _toronto_file() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        f = parent / "shared" / "data" / "toronto" / "wys_mobile_speed_summary.csv"
        if f.exists():
            return f
    return None


def _bins(db, site: int, bins: list[tuple[float, float | None, int]], start: datetime, end: datetime) -> None:
    for i, (lo, hi, c) in enumerate(bins):
        db.execute("INSERT INTO binned_counts (site_id, direction, display, period_start, period_end, speed_lo, "
                   "speed_hi, count, source, source_key) VALUES (%s, 1, 1, %s, %s, %s, %s, %s, 'test', %s)",
                   (site, start, end, lo, hi, c, f"{site}:{i}"))
    db.commit()


def test_binned_counts_are_in_the_site_figures_by_hand(db):
    site = make_site(db, "Binnad 1", limit_kmh=40)
    # [30,35) 10, [35,40) 20, [40,45) 40, [45,50) 0 (not stored, as importers leave zero bins out),
    # [50,55) 20, [55, open) 10: N = 100
    _bins(db, site, [(30, 35, 10), (35, 40, 20), (40, 45, 40), (50, 55, 20), (55, None, 10)],
          datetime(2025, 5, 5, 4, tzinfo=UTC), datetime(2025, 5, 12, 4, tzinfo=UTC))
    ss, fig = site_statistics(db, PlannerSettings(), site)
    (g,) = fig.groups
    assert g.source == "binned" and g.n == 100 and g.display == "display"
    # V85: 0.85·100 = 85 falls in [50, 55) (F_prev = 70, f = 20): 50 + (85 − 70) / 20 · 5
    assert g.v85_kmh == pytest.approx(53.75)
    # V50: 50 in [40, 45) (F_prev = 30, f = 40): 40 + 20 / 40 · 5
    assert g.v50_kmh == pytest.approx(42.5)
    assert not g.exact_percentiles and any("interpolated within the speed bin" in w for w in g.warnings)
    # 40 is a bin edge: everything from [40, 45) up is over, exactly
    assert g.over_limit.k == 70 and g.limit_kmh == 40
    # the threshold 46 lies inside [45, 50), which is empty: 30 over it, but it is flagged as split
    assert g.over_threshold.k == pytest.approx(30) and not g.exact_shares
    assert g.histogram.widths_kmh == [5, 5, 5, 5, 5, None]
    assert ss.period.end == datetime(2025, 5, 12, 4, tzinfo=UTC)  # the end of the site's own latest record


def test_binned_limit_inside_a_bin_is_interpolated_and_flagged(db):
    site = make_site(db, "Binnad 2", limit_kmh=42)
    _bins(db, site, [(35, 40, 50), (40, 45, 50)], datetime(2025, 5, 5, 4, tzinfo=UTC),
          datetime(2025, 5, 6, 4, tzinfo=UTC))
    _, fig = site_statistics(db, PlannerSettings(), site)
    (g,) = fig.groups
    assert g.over_limit.k == pytest.approx(30)  # 3/5 of [40, 45)
    assert not g.exact_shares and any("shares over them interpolated" in w for w in g.warnings)


@pytest.mark.skipif(_toronto_file() is None, reason="the shared Toronto file is not here")
def test_whole_toronto_file_v85_agrees_with_the_citys_pct_85(toronto_import):
    """On the run's one import of the whole file (tests/toronto_shared.py), read only."""
    path = _toronto_file()
    assert toronto_import.path == str(path)
    with psycopg.connect(toronto_import.url) as db:
        _toronto_agrees(db, path)


def _toronto_agrees(db, path: Path) -> None:
    # ours: each installation's bins as stored, through planner.stats
    stored: dict[tuple[str, str], list[tuple[float, float | None, int]]] = defaultdict(list)
    sites: dict[tuple[str, str], int] = {}
    for key, lo, hi, c, site in db.execute("SELECT source_key, speed_lo, speed_hi, count, site_id FROM binned_counts "
                                           "WHERE source = 'toronto-wys-mobile'"):
        parts = key.split("|")
        stored[(parts[0], parts[-3])].append((lo, hi, c))
        sites[(parts[0], parts[-3])] = site
    assert stored, "the importer stored no Toronto bins"
    # theirs: the city's pct_85 per installation, read straight from the CSV
    published = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["volume"] and int(row["volume"]) >= 100 and row["pct_85"]:
                published[(row["location_id"], row["installation_date"])] = float(row["pct_85"])
    diffs = []
    summarised = 0
    for i, (k, city) in enumerate(published.items()):
        if k not in stored:  # a row the importer refused (named in its summary)
            continue
        bins = sorted(stored[k], key=lambda b: b[0])
        h = Histogram.binned([b[2] for b in bins], [b[0] for b in bins],
                             [np.inf if b[1] is None else b[1] for b in bins], integer=False)
        if not np.allclose(h.lower[1:], (h.lower + h.width)[:-1]):  # zero bins left out: fill the gaps
            edges = np.arange(0, 105, 5.0)
            counts = np.zeros(21)
            for lo, _, c in bins:
                counts[int(lo // 5)] += c
            h = Histogram.binned(counts, edges, np.append(edges[1:], np.inf), integer=False)
        # V85 as the summary computes it (the percentile of the histogram over its true edges);
        # the whole summary, every other check aside, on one installation in ten gives that same V85
        v85 = float(histogram_percentile(h.counts, h.true_lower, h.width, PERCENTILES["v85"]))
        if i % 10 == 0:
            assert summarise_histogram(h, 40.0).v85 == v85, k
            summarised += 1
        diffs.append(v85 - city)
    assert summarised > 1_000
    d = np.array(diffs)
    print(f"\nToronto: {d.size} installations, mean |ours − pct_85| {np.abs(d).mean():.2f} km/h, "
          f"median {np.median(d):+.2f}, within 5 km/h {100 * np.mean(np.abs(d) < 5):.1f} %")
    assert d.size > 11_000
    assert np.abs(d).mean() < 1.0  # README: 0.79 km/h
    assert 0.0 < np.median(d) < 0.5  # README: +0.26 km/h
    assert np.mean(np.abs(d) < 5) > 0.98  # README: 98.7 % within one 5 km/h bin

    # the site figures give the same V85 for a site measured by one installation only
    by_site = defaultdict(list)
    for k, s in sites.items():
        by_site[s].append(k)
    checked = 0
    for s, keys in sorted(by_site.items()):
        if len(keys) != 1 or keys[0] not in published:
            continue
        inst_date = date.fromisoformat(keys[0][1])
        _, fig = site_statistics(db, PlannerSettings(), s, date_from=inst_date)
        (g,) = fig.groups
        bins = sorted(stored[keys[0]], key=lambda b: b[0])
        assert g.n == sum(b[2] for b in bins) and g.source == "binned"
        assert abs(g.v85_kmh - published[keys[0]]) < 5
        assert g.limit_kmh is None and any("fartkoll limit set" in w for w in g.warnings)
        checked += 1
        if checked == 25:
            break
    assert checked == 25
