"""Kept follow-ups (planner.followup_store) on the demo: the `followups` job keeps every control's
follow-up; a reader gets exactly what computing afresh gives, and a change to anything a
follow-up rests on (late data in its window, a moved hour, the settings, the control row, the
code) makes the reader compute it again instead of using the kept one."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import psycopg
import pytest

from fartkoll.cli import main
from planner import followup_store
from planner.controls import list_controls
from planner.effect import EffectReport, Estimate
from planner.followup import Followup, control_window, followups_of
from planner.load import latest_data_hour, load_sites
from planner.settings import PlannerSettings

P = PlannerSettings()


def _afresh(conn: psycopg.Connection, planner: PlannerSettings = P) -> dict[int, str]:
    """Every control's follow-up computed without any kept one (the kept rows hidden in a
    savepoint), as text."""
    with conn.transaction(force_rollback=True):
        conn.execute("DELETE FROM followup_results")
        return _read(conn, planner)


def _read(conn: psycopg.Connection, planner: PlannerSettings = P) -> dict[int, str]:
    got = followups_of(conn, list_controls(conn), planner, load_sites(conn), latest_data_hour(conn))
    return {cid: followup_store.to_text(f) for cid, f in got.items()}


def _used(conn: psycopg.Connection, planner: PlannerSettings = P) -> set[int]:
    """The controls whose kept follow-up a reader would use now."""
    controls, sites, latest = list_controls(conn), load_sites(conn), latest_data_hour(conn)
    computed: list[int] = []
    followups_of(conn, controls, planner, sites, latest, on_computed=lambda c, w, p, f: computed.append(c.id))
    return {c.id for c in controls} - set(computed)


@pytest.fixture
def kept(pdemo_url: str):
    with psycopg.connect(pdemo_url) as conn:
        conn.execute("DELETE FROM followup_results")
        first = followup_store.keep_followups(conn, P)
        conn.commit()
        yield conn, first


def test_the_job_keeps_every_follow_up_and_a_second_run_finds_them_current(kept):
    conn, first = kept
    n = len(list_controls(conn))
    assert n >= 3 and first.controls == n and first.computed == n and first.current == 0
    assert conn.execute("SELECT count(*) FROM followup_results").fetchone()[0] == n
    again = followup_store.keep_followups(conn, P)
    assert (again.current, again.computed) == (n, 0)
    assert _used(conn) == {c.id for c in list_controls(conn)}


def test_kept_follow_ups_equal_computing_afresh(kept):
    conn, _ = kept
    fresh = _afresh(conn)
    assert _read(conn) == fresh
    assert any('"computed": true' in t for t in fresh.values())  # real estimates, not empty reports


def test_late_data_in_a_comparison_sites_window_is_not_served_from_the_kept_row(kept):
    conn, _ = kept
    controls, sites, latest = list_controls(conn), load_sites(conn), latest_data_hour(conn)
    before = _read(conn)
    c = next(x for x in reversed(controls) if '"computed": true' in before[x.id])  # the oldest with estimates
    w = control_window(conn, c, P, sites, latest)
    baseline_end = datetime.combine(w.selected, datetime.min.time(), ZoneInfo(sites[c.site_id].time_zone))
    sid, hour = conn.execute(
        "SELECT site_id, hour FROM rollup_hourly WHERE site_id = ANY(%s) AND hour >= %s AND hour < %s "
        "ORDER BY n DESC, site_id, hour LIMIT 1", (w.candidates, w.start, baseline_end)).fetchone()
    # ten more vehicles in the top speed bin of the busiest baseline hour of a comparison site
    assert conn.execute(
        "UPDATE rollup_hourly SET n = n + 10, sum_kmh = sum_kmh + 10 * array_upper(hist, 1), "
        "sumsq_kmh = sumsq_kmh + 10 * array_upper(hist, 1) ^ 2, "
        "hist[array_upper(hist, 1)] = hist[array_upper(hist, 1)] + 10 WHERE site_id = %s AND hour = %s",
        (sid, hour)).rowcount >= 1
    assert c.id not in _used(conn)
    after = _read(conn)
    assert after == _afresh(conn)
    assert after[c.id] != before[c.id]  # the late vehicle moves the comparison


def test_a_rollup_moved_to_another_hour_of_the_window_changes_the_fingerprint(kept):
    conn, _ = kept
    controls, sites, latest = list_controls(conn), load_sites(conn), latest_data_hour(conn)
    c = controls[-1]
    w = control_window(conn, c, P, sites, latest)
    print_ = followup_store.fingerprint(conn, c, w, None, P, sites)
    # an hour's rollup whose previous hour (still in the window) has none: the same row count,
    # vehicles and speed sums, one hour earlier
    row = conn.execute(
        "SELECT r.site_id, r.direction, r.display, r.hour FROM rollup_hourly r WHERE r.site_id = %(s)s "
        "AND r.hour > %(start)s AND r.hour < %(end)s AND NOT EXISTS (SELECT 1 FROM rollup_hourly q WHERE "
        "q.site_id = r.site_id AND q.direction = r.direction AND q.display = r.display "
        "AND q.hour = r.hour - interval '1 hour') ORDER BY r.hour LIMIT 1",
        {"s": c.site_id, "start": w.start, "end": w.end}).fetchone()
    assert row is not None
    moved = conn.execute("UPDATE rollup_hourly SET hour = hour - interval '1 hour' "
                         "WHERE (site_id, direction, display, hour) = (%s, %s, %s, %s)", row).rowcount
    assert moved == 1
    assert followup_store.fingerprint(conn, c, w, None, P, sites) != print_


def test_settings_control_row_and_code_are_part_of_the_fingerprint(kept, monkeypatch):
    conn, _ = kept
    ids = {c.id for c in list_controls(conn)}
    other = PlannerSettings(followup_baseline_weeks=P.followup_baseline_weeks + 1)
    assert _used(conn, other) == set()
    assert _read(conn, other) == _afresh(conn, other)
    c = list_controls(conn)[0]
    conn.execute("UPDATE controls SET note = note || ' (edited)' WHERE id = %s", (c.id,))
    assert _used(conn) == ids - {c.id}
    monkeypatch.setattr(followup_store, "_CODE", [b"another release" + bytes(17)])
    assert _used(conn) == set()


def test_a_kept_row_under_another_controls_fingerprint_is_not_used(kept):
    conn, _ = kept
    a, b = list_controls(conn)[:2]
    conn.execute("UPDATE followup_results SET fingerprint = (SELECT fingerprint FROM followup_results "
                 "WHERE control_id = %s) WHERE control_id = %s", (b.id, a.id))
    assert a.id not in _used(conn)
    assert _read(conn)[a.id] == _afresh(conn)[a.id]


def test_the_followups_job_through_the_command_line(pdemo_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", pdemo_url)
    with psycopg.connect(pdemo_url) as conn:
        conn.execute("DELETE FROM followup_results")
        conn.commit()
        n = len(list_controls(conn))
    assert main(["planner", "job", "followups"]) == 0
    assert f"follow-ups: {n} controls, 0 kept and still current, {n} computed and kept" in capsys.readouterr().out
    assert main(["planner", "job", "followups"]) == 0
    assert f"{n} kept and still current, 0 computed and kept" in capsys.readouterr().out


def test_text_round_trip_keeps_nan_dates_and_missing_report():
    from planner.controls import ControlRow

    c = ControlRow(7, 2, "Storgatan", None, datetime(2024, 3, 30, 22, tzinfo=timezone.utc),
                   datetime(2024, 3, 30, 23, tzinfo=timezone.utc),
                   "laser", 10, 1, True, "", None, None)
    nan = float("nan")
    est = Estimate("+4 weeks", 0, nan, nan, nan, float("-inf"), nan)
    report = EffectReport(date(2024, 2, 1), date(2024, 3, 1), 20, 28, {"+4 weeks": est}, {"+4 weeks": est}, None,
                          None, ("note",), False)
    for f in (Followup(c, "Europe/Stockholm", True, date(2024, 3, 1), "b", (3, 4), None, report, ("n",)),
              Followup(c, "Europe/Stockholm", False, date(2024, 3, 1), "b", (), 1, None, ())):
        text = followup_store.to_text(f)
        g = followup_store.from_text(text, c)
        assert followup_store.to_text(g) == text and g.control is c
        assert g.selected_on == f.selected_on and g.comparison_sites == f.comparison_sites
    r = followup_store.from_text(followup_store.to_text(
        Followup(c, "UTC", True, date(2024, 3, 1), "b", (), 0, report, ())), c).report
    assert r.share_over_limit["+4 weeks"].low == float("-inf") and r.baseline_days == 20 and not r.computed
