"""The site statistics send their five reads in one pipeline: each result must be what the same
read gives on its own (signs, histogram rows from the running totals, coverage parts, binned
counts), for every demo site over its default period and over a period cut mid-week."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from planner.daytotals import coverage_parts
from planner.load import Period, load_sites
from planner.settings import PlannerSettings
from planner.sitestats import _read_period, histogram_rows, site_default_period
from sql import QUERIES


@pytest.fixture(scope="module")
def demo(demo_ro_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(demo_ro_url) as conn:
        yield conn


def _apart(conn: psycopg.Connection, site_id: int, period: Period) -> tuple:
    p = {"site_id": site_id, "start": period.start, "end": period.end}
    with conn.cursor(row_factory=dict_row) as cur:
        signs = cur.execute(QUERIES["figures_site_signs"], p).fetchone()
        binned = cur.execute(QUERIES["planner_site_binned"], p).fetchall()
    rows = histogram_rows(conn, site_id, period)
    cover = coverage_parts(conn, site_id, period.start, period.end, running=True)
    return signs, rows, cover, binned


def test_pipelined_reads_equal_the_reads_one_at_a_time(demo: psycopg.Connection) -> None:
    sites = load_sites(demo)
    assert len(sites) >= 3
    compared = 0
    for site in sites.values():
        whole = site_default_period(demo, site, PlannerSettings().period_weeks)
        cut = Period(whole.start + timedelta(days=3, hours=5), whole.end - timedelta(days=2, hours=7))
        for period in (whole, cut):
            together = _read_period(demo, site.id, period, True)
            assert together == _apart(demo, site.id, period)
            compared += bool(together[1])
    assert compared > 0, "no site had vehicles: the comparison compared nothing"
    demo.rollback()
