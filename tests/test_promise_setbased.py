"""Follow-ups read set-based (planner.followup.followups_of, planner.hourrows): the rows equal
planner_hourly_rows', every demo control's follow-up read together with the others equals the
one read alone, and the promise shows the same effects as each control's own follow-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from planner.controls import list_controls
from planner.followup import followup_control, followups_of
from planner.followupview import followup_view
from planner.hourrows import hour_rows, hour_rows_of, read_rows
from planner.load import latest_data_hour, load_sites
from planner.promise import PromiseSettings, promise
from planner.settings import PlannerSettings
from sql import QUERIES


def test_followups_read_together_equal_each_read_alone(demo_ro_url):
    planner = PlannerSettings()
    with psycopg.connect(demo_ro_url) as conn:
        sites, latest = load_sites(conn), latest_data_hour(conn)
        controls = list_controls(conn)
        assert len(controls) >= 3
        per_control = {c.id: followup_view(followup_control(conn, c, planner, sites, latest)) for c in controls}
        assert any(v.effect is not None and v.effect.computed and v.comparison_sites for v in per_control.values())
        together = followups_of(conn, controls, planner, sites, latest)
        assert {k: followup_view(v) for k, v in together.items()} == per_control
        for c in controls[:2]:
            (alone,) = followups_of(conn, [c], planner, sites, latest).values()
            assert followup_view(alone) == per_control[c.id]
        # the data ending inside a control's later windows: both say so, and agree
        cut = max(c.end_time for c in controls) + timedelta(days=3)
        early = {c.id: followup_view(followup_control(conn, c, planner, sites, cut)) for c in controls}
        assert any("data ends" in " ".join(v.notes) for v in early.values())
        assert {k: followup_view(v) for k, v in followups_of(conn, controls, planner, sites, cut).items()} == early


def test_rows_equal_planner_hourly_rows(demo_ro_url):
    with psycopg.connect(demo_ro_url) as conn:
        ids = sorted(load_sites(conn))
        latest = latest_data_hour(conn)
        start, end = latest - timedelta(days=20), latest - timedelta(days=2)
        old = hour_rows(conn.execute(QUERIES["planner_hourly_rows"], {"site_ids": ids, "start": start,
                                                                       "end": end}).fetchall())
        rows = read_rows(conn, ids, start - timedelta(days=5), end + timedelta(days=1))
        new = hour_rows_of(rows, (rows.epoch_s >= int(start.timestamp())) & (rows.epoch_s < int(end.timestamp())))
        assert old.counts.shape[0] > 1000
        for name in ("site_id", "epoch_s", "direction", "display", "counts", "bins"):
            assert np.array_equal(getattr(old, name), getattr(new, name)), name


def test_promise_shows_the_per_control_effects(demo_ro_url):
    planner, settings = PlannerSettings(), PromiseSettings(delay_days=7, weeks=12)
    with psycopg.connect(demo_ro_url) as conn:
        latest = latest_data_hour(conn)
        p = promise(conn, planner, settings, now=latest + timedelta(days=30), time_zone="Europe/Stockholm")
        shown = [c for w in p.weeks for c in w.controls]
        assert shown and any(c.during is not None for c in shown)
        sites = load_sites(conn)
        by_day = {}
        for c in list_controls(conn):
            view = followup_view(followup_control(conn, c, planner, sites, latest))
            share = view.effect.share_over_limit if view.effect is not None and view.effect.computed else {}
            day = c.start_time.astimezone(view.start.tzinfo).date()
            by_day[(c.site_id, day)] = (share.get("during"), share.get("+1 week"))
        for c in shown:
            assert (c.during, c.week_after) == by_day[(c.site_id, c.day)]
        assert datetime.now(UTC) > latest  # the demo lies in the past: nothing current is shown
