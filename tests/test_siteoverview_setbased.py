"""The sites overview reads every site's rows in a few set-based queries (planner.recentstats):
its figures equal planner.sitestats.site_stats site by site, on the demo (with and without the
cells job's running totals, and after late data) and on sites with pre-binned counts, a limit
posted in mph, a timed limit, no limit and no data."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest
from places import deploy, make_sign, make_site

from collector.passes import Direction, Display, VehiclePass
from collector.setup.limits import set_limit
from collector.store import write_passes
from planner.cellcache import refresh
from planner.load import Period, load_sites
from planner.recentstats import sites_stats
from planner.settings import PlannerSettings
from planner.siteoverview import MIN_PUBLIC_N, RecentFigures, sites_overview
from planner.sitestats import figures, site_stats

UTC = timezone.utc
MPH = 1.609344


def one_by_one(conn: psycopg.Connection, planner: PlannerSettings, over_kmh: float = 6.0) -> list[dict]:
    """The overview as it was made before: site_stats called once per site."""
    out = []
    infos = load_sites(conn)
    for s in sites_overview(conn, planner, over_kmh=over_kmh):
        d = s.model_dump()
        if s.recent_from is not None:
            fig = figures(site_stats(conn, infos[s.id], Period(s.recent_from, s.recent_to), planner,
                                     over_kmh=over_kmh))
            recent = []
            for g in fig.groups:
                enough = g.n >= MIN_PUBLIC_N
                recent.append(RecentFigures(
                    source=g.source, direction=g.direction, display=g.display, limit_kmh=g.limit_kmh,
                    limit_posted=g.limit_posted, n=g.n, mean_kmh=g.mean_kmh if enough else None,
                    v85_kmh=g.v85_kmh if enough else None, threshold_kmh=g.threshold_kmh,
                    over_limit=g.over_limit if enough else None,
                    over_threshold=g.over_threshold if enough else None, warnings=g.warnings).model_dump())
            d["recent"], d["notes"] = recent, fig.notes
        out.append(d)
    return out


def assert_same(conn: psycopg.Connection, planner: PlannerSettings) -> list:
    """Every site's full figures equal both ways, and so does the overview built from them."""
    overview = sites_overview(conn, planner)
    infos = load_sites(conn)
    periods = {s.id: Period(s.recent_from, s.recent_to) for s in overview if s.recent_from is not None}
    together = sites_stats(conn, [infos[i] for i in periods], periods, planner)
    assert set(together) == set(periods)
    for sid, period in periods.items():
        alone = site_stats(conn, infos[sid], period, planner)
        assert figures(together[sid]).model_dump() == figures(alone).model_dump(), f"site {sid}"
    assert [s.model_dump() for s in overview] == one_by_one(conn, planner)
    return overview


def test_demo_overview_equals_site_stats_per_site(seeded_url):
    planner = PlannerSettings()
    with psycopg.connect(seeded_url) as conn:
        overview = assert_same(conn, planner)  # the hourly rollups alone (no running totals yet)
        assert sum(bool(s.recent) for s in overview) >= 10
        refresh(conn, planner)
        conn.commit()
        overview = assert_same(conn, planner)  # running totals plus the hours around them
        assert any(g.n >= MIN_PUBLIC_N and g.over_limit is not None for s in overview for g in s.recent)
        # late data after the running totals: the last hours come from the rollups again
        site = overview[0]
        sign = conn.execute("SELECT sign_id FROM deployments WHERE site_id = %s ORDER BY valid_from DESC LIMIT 1",
                            (site.id,)).fetchone()[0]
        t = site.recent_to + timedelta(hours=2)
        passes = [VehiclePass(t + timedelta(seconds=30 * i), 40.0 + i % 25, Direction.APPROACHING, sign, site.id,
                              Display.DISPLAY) for i in range(80)]
        write_passes(conn, passes, received=t + timedelta(hours=1))
        conn.commit()
        after = assert_same(conn, planner)
        assert next(s for s in after if s.id == site.id).recent_to > site.recent_to


def _bins(db, site: int, start: datetime, end: datetime) -> None:
    for i, (lo, hi, c) in enumerate([(30, 35, 10), (35, 40, 20), (40, 45, 40), (50, 55, 20), (55, None, 10)]):
        db.execute("INSERT INTO binned_counts (site_id, direction, display, period_start, period_end, speed_lo, "
                   "speed_hi, count, source, source_key) VALUES (%s, 1, 1, %s, %s, %s, %s, %s, 'test', %s)",
                   (site, start, end, lo, hi, c, f"{site}:{i}"))


def _vehicles(db, site: int, sign: int, kmh, start: datetime) -> None:
    passes = [VehiclePass(start + timedelta(seconds=40 * i), float(v), Direction.APPROACHING, sign, site,
                          Display.DISPLAY) for i, v in enumerate(kmh)]
    assert write_passes(db, passes, received=start + timedelta(days=30)).inserted == len(passes)


@pytest.mark.parametrize("running_totals", [False, True])
def test_binned_mph_timed_and_unlimited_sites_equal_site_stats(db, running_totals):
    t0 = datetime(2025, 3, 3, 5, tzinfo=UTC)
    rng = np.random.default_rng(3)
    binned = make_site(db, "Binnad 1", limit_kmh=40)
    _bins(db, binned, t0, t0 + timedelta(days=3))
    mph_site = make_site(db, "Mile End 1")
    mph_sign = make_sign(db, "SN-mph", "round")
    db.execute("UPDATE signs SET unit = 'mph' WHERE id = %s", (mph_sign,))
    deploy(db, mph_sign, mph_site, datetime(2024, 1, 1, tzinfo=UTC), display=1)
    set_limit(db, actor="test", site_id=mph_site, value=30, unit="mph", from_date=date(2024, 6, 1))
    _vehicles(db, mph_site, mph_sign, rng.normal(31, 5, 900).round().clip(8, 70) * MPH, t0)
    timed = make_site(db, "Skolgatan 1", limit_kmh=50)
    timed_sign = make_sign(db, "SN-timed")
    deploy(db, timed_sign, timed, datetime(2024, 1, 1, tzinfo=UTC), display=1)
    set_limit(db, actor="test", site_id=timed, value=30, unit="kmh", from_date=date(2024, 6, 1),
              hours="mon-fri 07-17")
    _vehicles(db, timed, timed_sign, rng.normal(42, 8, 3000).round().clip(10, 100), t0)
    unlimited = make_site(db, "Utan gräns 1")
    db.execute("DELETE FROM speed_limits WHERE site_id = %s", (unlimited,))
    free_sign = make_sign(db, "SN-free")
    deploy(db, free_sign, unlimited, datetime(2024, 1, 1, tzinfo=UTC), display=1)
    _vehicles(db, unlimited, free_sign, rng.normal(45, 6, 200).round(), t0)
    make_site(db, "Tom 1")  # no data at all
    db.commit()
    if running_totals:
        refresh(db, PlannerSettings())
        db.commit()
    overview = assert_same(db, PlannerSettings())
    by_name = {s.name: s for s in overview}
    assert by_name["Binnad 1"].recent[0].source == "binned"
    assert {g.limit_posted for g in by_name["Mile End 1"].recent} == {"30 mph"}
    assert len({g.limit_posted for g in by_name["Skolgatan 1"].recent}) == 2
    assert by_name["Utan gräns 1"].recent and by_name["Utan gräns 1"].recent[0].limit_kmh is None
    assert by_name["Tom 1"].recent == [] and by_name["Tom 1"].recent_from is None
