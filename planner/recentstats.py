"""Several sites' statistics at once, each over its own period: the figures
:func:`planner.sitestats.site_stats` gives site by site, read by five set-based queries for all
the sites together (``sql/queries/overview.sql``, sent in one pipeline) instead of five per site.

The queries return what site_stats reads of each site (its signs' rounding and unit, its limits,
the vehicle and coverage parts of its running totals plus the hourly rollups around them, its
pre-binned counts), with the site's id; site_stats then makes each site's figures from them
(``given``), so there is one computation of the figures (``tests/test_siteoverview_setbased.py``
compares the two ways). A site whose running totals predate migration 0017 is read again from
its hourly rollups, as planner.daytotals does for site_stats.
"""

from __future__ import annotations

from collections import defaultdict

import psycopg
from psycopg.rows import dict_row

from planner.daytotals import coverage_of, coverage_params, parts_of, parts_params
from planner.load import Period, SiteInfo
from planner.settings import PlannerSettings
from planner.sitestats import SiteRows, SiteStats, site_stats
from sql import QUERIES


def _by_site(rows: list[dict]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        out[r["site_id"]].append(r)
    return out


def sites_stats(conn: psycopg.Connection, sites: list[SiteInfo], periods: dict[int, Period],
                planner: PlannerSettings, *, over_kmh: float = 6.0) -> dict[int, SiteStats]:
    """Statistics of each site over ``periods[site.id]``, as site_stats gives them, by site id."""
    if not sites:
        return {}
    ids = [s.id for s in sites]
    p = {"site_ids": ids, "starts": [periods[i].start for i in ids], "ends": [periods[i].end for i in ids]}
    with conn.pipeline():  # the five queries in one round trip
        signs_cur, limits_cur, parts_cur, cover_cur, binned_cur = (conn.cursor(row_factory=dict_row)
                                                                   for _ in range(5))
        signs_cur.execute(QUERIES["overview_sites_signs"], p)
        limits_cur.execute(QUERIES["overview_sites_limits"], p)
        parts_cur.execute(QUERIES["overview_sites_parts"], p, binary=True)
        cover_cur.execute(QUERIES["overview_sites_coverage_parts"], p)
        binned_cur.execute(QUERIES["overview_sites_binned"], p)
        signs = {r["site_id"]: r for r in signs_cur.fetchall()}
        limits, parts = _by_site(limits_cur.fetchall()), _by_site(parts_cur.fetchall())
        cover, binned = _by_site(cover_cur.fetchall()), _by_site(binned_cur.fetchall())
    out = {}
    for s in sites:
        period = periods[s.id]
        # as site_stats reads them itself; stale running totals (before migration 0017) are read again
        vehicles = parts_of(conn, parts.get(s.id, []), parts_params(s.id, period.start, period.end, running=True))
        coverage = coverage_of(conn, cover.get(s.id, []), coverage_params(s.id, period.start, period.end,
                                                                          running=True))
        given = SiteRows(signs[s.id], vehicles, limits.get(s.id, []), coverage, binned.get(s.id, []))
        out[s.id] = site_stats(conn, s, period, planner, over_kmh=over_kmh, given=given)
    return out


__all__ = ["sites_stats"]
