"""The control log catches mistakes and stores a control once however often its form is sent, and a
plan's life: draft → approved → cancelled, items done."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import httpx
import psycopg
import pytest
from people import make_world, session_cookie
from places import make_site
from servers import running

from api.app import create_app
from core.errors import Conflict, NotFound
from fartkoll.settings import Settings
from planner.controls import ControlError, ControlInput, list_controls, record_control, stored_control
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


def test_the_same_client_key_again_answers_the_stored_control_and_stores_nothing(db):
    site = make_site(db)
    key = uuid.uuid4()
    first = record_control(db, ControlInput(site, T, T + timedelta(minutes=40), "laser", 30, 2, client_key=key),
                           "a", NOW)
    assert not first.replayed
    # the same form sent again (even edited meanwhile): the stored control, not an overlap error
    again = record_control(db, ControlInput(site, T, T + timedelta(minutes=40), "laser", 31, 2, client_key=key),
                           "a", NOW)
    assert again.replayed and again.id == first.id and again.vehicles_checked == 30
    assert [c.id for c in list_controls(db, site)] == [first.id]
    assert stored_control(db, key).id == first.id and stored_control(db, uuid.uuid4()) is None
    # another key at the same site and time is a second control: the overlap check still applies
    with pytest.raises(ControlError, match=f"overlaps control {first.id}"):
        record_control(db, ControlInput(site, T, T + timedelta(minutes=40), "laser", client_key=uuid.uuid4()),
                       "a", NOW)
    adds = db.execute("SELECT count(*) FROM audit_log WHERE action = 'control.add'").fetchone()[0]
    assert adds == 1


def test_a_plan_item_sent_twice_with_its_key_is_done_once(db):
    site, other = make_site(db, "Storgatan 1"), make_site(db, "Lillgatan 2")
    plan_id, items = _plan(db, site, other)
    approve_plan(db, plan_id, "chief", NOW)
    key = uuid.uuid4()
    done = record_control(db, replace(control_from_item(db, items[0], vehicles_checked=12), client_key=key),
                          "officer", NOW)
    assert stored_control(db, key) == done.model_copy(update={"replayed": True})
    # the item is done now, so building its input again refuses: the key is asked first
    with pytest.raises(Conflict, match="already done"):
        control_from_item(db, items[0])
    assert db.execute("SELECT count(*) FROM controls").fetchone()[0] == 1


def test_two_racing_sends_of_one_key_store_one_control(db_url):
    """Two connections send the same form at once: the key's unique index makes the later wait
    for the earlier and then answer its control."""
    with psycopg.connect(db_url) as conn:
        site = make_site(conn)
        conn.commit()
    key = uuid.uuid4()
    c = ControlInput(site, T, T + timedelta(minutes=20), "radar", 5, 1, client_key=key)
    with psycopg.connect(db_url) as a, psycopg.connect(db_url) as b:
        first = record_control(a, c, "a", NOW)  # not committed yet: b's insert waits on the index
        result: list = []
        thread = threading.Thread(target=lambda: result.append(record_control(b, c, "b", NOW)))
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), "the second send should wait for the first one's transaction"
        a.commit()
        thread.join(10)
        b.commit()
    [second] = result
    assert second.replayed and second.id == first.id and not first.replayed
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM controls WHERE client_key = %s", (key,)).fetchone()[0] == 1


def test_the_api_answers_201_then_200_with_the_same_control(db, db_url):
    world = make_world(db)
    officer = session_cookie(db, world.users["officer"].id)
    viewer = session_cookie(db, world.users["viewer"].id)
    body = {"site_id": world.site_a, "start": T.isoformat(), "end": (T + timedelta(minutes=30)).isoformat(),
            "method": "laser", "direction": "approaching", "vehicles_checked": 9, "client_key": str(uuid.uuid4())}
    with running(create_app(Settings(database_url=db_url))) as base, httpx.Client(base_url=base, timeout=30) as http:
        csrf = http.get("/api/v1/me", headers={"cookie": f"fartkoll_session={officer}"}).cookies["csrftoken"]

        def post(session: str, payload: dict) -> httpx.Response:
            return http.post("/api/v1/controls", json=payload, headers={
                "x-csrftoken": csrf, "cookie": f"fartkoll_session={session}; csrftoken={csrf}"})

        r1 = post(officer, body)
        assert r1.status_code == 201, r1.text
        r2 = post(officer, body)
        assert r2.status_code == 200, r2.text
        assert r2.json()["id"] == r1.json()["id"] and r2.json()["replayed"] and not r1.json()["replayed"]
        assert post(viewer, body).status_code == 403
        r3 = post(officer, {**body, "client_key": "not-a-uuid"})
        assert r3.status_code == 422 and r3.json()["errors"][0]["field"] == "client_key"
    assert db.execute("SELECT count(*) FROM controls").fetchone()[0] == 1
