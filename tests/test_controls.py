"""The control log catches mistakes, and a plan's life: draft → approved → cancelled, items done."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from places import make_site

from core.errors import Conflict, NotFound
from planner.controls import ControlError, ControlInput, list_controls, record_control
from planner.planlife import approve_plan, cancel_plan, control_from_item, list_plans, mark_done, plan_view

NOW = datetime(2024, 11, 20, 12, tzinfo=timezone.utc)
T = datetime(2024, 11, 12, 7, tzinfo=timezone.utc)  # 08:00 in Stockholm, a Tuesday


def _plan(conn: psycopg.Connection, site: int, other: int) -> tuple[int, list[int]]:
    """A stored draft plan for 2024-11-11 .. 2024-11-17 with two planned controls."""
    plan_id = conn.execute(
        "INSERT INTO plans (created_by, data_from, data_to, first_day, last_day, seed, time_zone) "
        "VALUES ('planner', '2024-10-01Z', '2024-11-01Z', '2024-11-11', '2024-11-17', 7, 'Europe/Stockholm') "
        "RETURNING id").fetchone()[0]
    items = [conn.execute(
        "INSERT INTO planned_controls (plan_id, site_id, direction, start_time, end_time, unit, slot, hour_of_week,"
        " score, reason) VALUES (%s, %s, 1, %s, %s, 1, 0, 32, 3.5, 'score') RETURNING id",
        (plan_id, s, t, t + timedelta(minutes=20))).fetchone()[0]
        for s, t in ((site, T), (other, T + timedelta(hours=1)))]
    return plan_id, items


def _audit(conn, plan_id):
    return conn.execute("SELECT actor, action FROM audit_log WHERE entity = 'plans' AND entity_id = %s ORDER BY id",
                        (str(plan_id),)).fetchall()


def test_the_same_site_and_time_twice_is_refused_naming_the_earlier(db):
    site = make_site(db)
    first = record_control(db, ControlInput(site, T, T + timedelta(hours=1), "laser", 30, 2), "a", NOW)
    later = T + timedelta(minutes=30)
    with pytest.raises(ControlError, match=rf"overlaps control {first.id} at this site \(2024-11-12 08:00–09:00\)"
                                           r".*second unit") as e:
        record_control(db, ControlInput(site, later, later + timedelta(hours=1), "radar"), "b", NOW)
    assert e.value.errors[0]["field"] == "start"
    second = record_control(db, ControlInput(site, later, later + timedelta(hours=1), "radar", second_unit=True),
                            "b", NOW)
    # back to back is not an overlap
    after = record_control(db, ControlInput(site, T + timedelta(hours=1.5), T + timedelta(hours=2), "laser"), "c", NOW)
    assert [c.id for c in list_controls(db, site)] == [after.id, second.id, first.id]


def test_a_plan_link_must_match_the_plans_site_and_days(db):
    site, other, stranger = make_site(db, "Storgatan 1"), make_site(db, "Lillgatan 2"), make_site(db, "Bygatan 3")
    plan_id, _ = _plan(db, site, other)
    with pytest.raises(ControlError, match=rf"plan_id {plan_id}: plan {plan_id} has no control at site {stranger}"):
        record_control(db, ControlInput(stranger, T, T + timedelta(minutes=20), "laser", plan_id=plan_id), "a", NOW)
    late = datetime(2024, 11, 18, 7, tzinfo=timezone.utc)
    with pytest.raises(ControlError, match=r"is on 2024-11-18, outside plan \d+'s days 2024-11-11 .. 2024-11-17"):
        record_control(db, ControlInput(site, late, late + timedelta(minutes=20), "laser", plan_id=plan_id), "a", NOW)
    with pytest.raises(ControlError, match="no such plan"):
        record_control(db, ControlInput(site, T, T + timedelta(minutes=20), "laser", plan_id=plan_id + 99), "a", NOW)
    ok = record_control(db, ControlInput(site, T, T + timedelta(minutes=20), "laser", plan_id=plan_id), "a", NOW)
    assert ok.planned and ok.plan_id == plan_id
    linked = db.execute("SELECT control_id FROM planned_controls WHERE plan_id = %s AND site_id = %s",
                        (plan_id, site)).fetchone()[0]
    assert linked == ok.id


def test_plan_life_draft_approved_done_cancelled_with_audit_rows(db):
    site, other = make_site(db, "Storgatan 1"), make_site(db, "Lillgatan 2")
    plan_id, items = _plan(db, site, other)
    assert plan_view(db, plan_id).status == "draft"
    with pytest.raises(Conflict, match=f"plan {plan_id} is draft; approve it before marking controls done"):
        control_from_item(db, items[0])
    approved = approve_plan(db, plan_id, "chief", NOW)
    assert (approved.status, approved.approved_by, approved.approved_at) == ("approved", "chief", NOW)
    with pytest.raises(Conflict, match=f"plan {plan_id} is approved, not a draft.*approved by chief"):
        approve_plan(db, plan_id, "chief", NOW)
    prefilled = control_from_item(db, items[0], vehicles_checked=40, reports_written=3)
    assert (prefilled.site_id, prefilled.start, prefilled.direction, prefilled.method, prefilled.plan_id) == (
        site, T, 1, "laser", plan_id)
    done = mark_done(db, items[0], "officer", NOW, vehicles_checked=40, reports_written=3)
    assert (done.site_id, done.start_time, done.direction, done.vehicles_checked, done.reports_written) == (
        site, T, "approaching", 40, 3)
    view = plan_view(db, plan_id)
    assert [c.control_id for c in view.controls] == [done.id, None]
    with pytest.raises(Conflict, match=f"plan item {items[0]} is already done by control {done.id}"):
        mark_done(db, items[0], "officer", NOW)
    [summary] = list_plans(db, "approved")
    assert (summary.plan_id, summary.controls, summary.done) == (plan_id, 2, 1)
    cancelled = cancel_plan(db, plan_id, "chief", NOW + timedelta(hours=1), "storm")
    assert (cancelled.status, cancelled.cancelled_by) == ("cancelled", "chief")
    with pytest.raises(Conflict, match="already cancelled by chief"):
        cancel_plan(db, plan_id, "chief", NOW)
    with pytest.raises(Conflict, match="was cancelled"):
        mark_done(db, items[1], "officer", NOW)
    assert list_plans(db, "approved") == []
    assert _audit(db, plan_id) == [("chief", "plan.approve"), ("chief", "plan.cancel")]
    action = db.execute("SELECT actor, detail->>'planned_control_id' FROM audit_log WHERE action = 'control.add'"
                        ).fetchall()
    assert action == [("officer", str(items[0]))]
    with pytest.raises(NotFound):
        plan_view(db, plan_id + 1)
