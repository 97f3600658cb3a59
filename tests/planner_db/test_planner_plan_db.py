"""Plans end to end: same seed same plan, the rules hold, stored with an audit row; slot files."""

from __future__ import annotations

import json
from datetime import date, time

import psycopg
import pytest

from planner.calendar_export import to_icalendar
from planner.planning import PlanError, check_slots_in_period, make_plan, parse_slots
from planner.schedule import haversine_km
from planner.settings import PlannerSettings

TZ = "Europe/Stockholm"


def assert_drivable(plan, sites, rules):
    """Each unit's consecutive controls leave the travel time plus set-up between their sites."""
    runs = {}
    for x in plan.controls:
        runs.setdefault((x.slot, x.unit), []).append(x)
    for run in runs.values():
        for a, b in zip(run, run[1:], strict=False):
            km = float(haversine_km(sites[a.site_id].lat, sites[a.site_id].lon, sites[b.site_id].lat,
                                    sites[b.site_id].lon))
            need = max(rules.gap_minutes, km * rules.detour_factor / rules.travel_kmh * 60 + rules.setup_minutes)
            assert (b.start - a.end).total_seconds() / 60 >= need - 1e-9, (a, b, km)


def _plan(conn, seed, weeks=2):
    planner = PlannerSettings()
    return make_plan(conn, planner, slots=planner.slots_for(date(2024, 11, 4), weeks), seed=seed, actor="tester",
                     tz=TZ)


def _key(plan):
    return [(c.site_id, c.direction, c.start, c.unit, c.reason) for c in plan.controls]


def test_same_seed_same_plan_and_rules_hold(pdemo_url):
    with psycopg.connect(pdemo_url) as conn:
        a, b, other = _plan(conn, 11), _plan(conn, 11), _plan(conn, 12)
        assert _key(a.plan) == _key(b.plan) and a.plan.unmet == b.plan.unmet
        assert _key(a.plan) != _key(other.plan)
        assert a.plan_id != b.plan_id
        controls = a.plan.controls
        # 2 weeks × 4 two-hour slots, at most 4 controls of 20 + 10 min each, fewer where travel takes longer
        assert 2 * 4 * 2 <= len(controls) <= 2 * 4 * 4
        rules = PlannerSettings().schedule_rules()
        assert_drivable(a.plan, a.sites, rules)
        for i, x in enumerate(controls):
            assert (x.end - x.start).total_seconds() == 20 * 60
            for y in controls[i + 1:]:
                if x.site_id == y.site_id:
                    assert abs((x.start.date() - y.start.date()).days) >= rules.min_days_between_visits
                if abs((x.start - y.start).total_seconds()) < rules.spacing_minutes * 60 and x.site_id != y.site_id:
                    s, t = a.sites[x.site_id], a.sites[y.site_id]
                    assert haversine_km(s.lat, s.lon, t.lat, t.lon) >= rules.min_distance_km
        # sites with citizen tips get a control every week (or the plan says why not)
        complaint_sites = [sid for sid, s in a.sites.items() if s.complaints]
        assert complaint_sites
        for week in {c.start.isocalendar()[:2] for c in controls}:
            for sid in complaint_sites:
                done = any(c.site_id == sid and c.start.isocalendar()[:2] == week for c in controls)
                assert done or any(f"site {sid}" in u for u in a.plan.unmet)
        stored = conn.execute("SELECT site_id, direction, start_time, unit, reason FROM planned_controls "
                              "WHERE plan_id = %s ORDER BY start_time, unit", (a.plan_id,)).fetchall()
        assert [(r[0], r[1], r[2], r[3], r[4]) for r in stored] == [
            (c.site_id, c.direction, c.start, c.unit, c.reason) for c in controls]
        audit = conn.execute("SELECT actor, detail->>'seed' FROM audit_log WHERE action = 'plan.create' "
                             "AND entity_id = %s", (str(a.plan_id),)).fetchall()
        assert audit == [("tester", "11")]
        ics = to_icalendar(controls, a.created_at, site_names=a.site_names, use_tzid=True, tz=TZ)
        assert ics.count("BEGIN:VEVENT") == len(controls)


def test_slots_from_csv_and_toml_and_errors_name_the_value():
    csv_text = "date,start,end,units,overnight\n2024-11-05,07:00,09:00,2,\n2024-11-06,22:00,01:00,,yes\n"
    slots = parse_slots(csv_text, "csv")
    assert [(s.day, s.start, s.end, s.units) for s in slots] == [
        (date(2024, 11, 5), time(7), time(9), 2), (date(2024, 11, 6), time(22), time(1), 1)]
    toml_text = '[[slot]]\ndate = 2024-11-05\nstart = "07:00"\nend = "08:00"\nunits = 1\n'
    assert parse_slots(toml_text, "toml")[0].end == time(8)
    with pytest.raises(PlanError, match=r"slots line 2: date '2024-13-05'"):
        parse_slots("date,start,end\n2024-13-05,07:00,08:00\n", "csv")
    with pytest.raises(PlanError, match=r"start '7 am'"):
        parse_slots("date,start,end\n2024-11-05,7 am,08:00\n", "csv")
    with pytest.raises(PlanError, match="units 0 must be between 1 and 20"):
        parse_slots("date,start,end,units\n2024-11-05,07:00,08:00,0\n", "csv")
    with pytest.raises(PlanError, match="no slots"):
        parse_slots("date,start,end\n", "csv")
    with pytest.raises(PlanError, match=r"slots line 3 \(2024-11-06 22:00–01:00\): end '01:00': ends before its start"):
        parse_slots("date,start,end\n2024-11-05,07:00,08:00\n2024-11-06,22:00,01:00\n", "csv")
    with pytest.raises(PlanError, match="marked overnight but ends the same day"):
        parse_slots("date,start,end,overnight\n2024-11-05,07:00,08:00,yes\n", "csv")


def test_slots_outside_the_period_are_refused_naming_the_slot():
    slots = parse_slots("date,start,end\n2024-11-05,07:00,08:00\n2024-11-12,07:00,08:00\n", "csv")
    check_slots_in_period(slots, date(2024, 11, 4), date(2024, 11, 12))
    with pytest.raises(PlanError, match=r"slot 2024-11-12 07:00–08:00: date '2024-11-12': outside the plan's "
                                        r"period 2024-11-04 .. 2024-11-10") as e:
        check_slots_in_period(slots, date(2024, 11, 4), date(2024, 11, 10))
    assert e.value.errors[0]["field"] == "date"


def test_plan_life_from_the_cli(pdemo_url, monkeypatch, capsys, tmp_path):
    from fartkoll.cli import main

    monkeypatch.setenv("DATABASE_URL", pdemo_url)
    monkeypatch.delenv("FARTKOLL_CONFIG", raising=False)

    def cli(*argv):
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    slots = tmp_path / "slots.csv"
    slots.write_text("date,start,end,units,overnight\n2024-11-05,07:00,09:00,2,\n2024-11-06,22:00,00:30,1,yes\n")
    code, out, err = cli("planner", "plan", "--slots", str(slots), "--seed", "3", "--actor", "planner", "--json")
    assert code == 0, err
    plan = json.loads(out)
    pid, item = plan["plan_id"], plan["controls"][0]
    assert plan["status"] == "draft" and item["id"] and item["street"]
    code, _, err = cli("planner", "control", "done", str(item["id"]), "--vehicles", "30")
    assert code != 0 and "approve it before" in err
    code, out, _ = cli("planner", "plans", "approve", str(pid), "--actor", "chief")
    assert code == 0 and f"plan {pid}:" in out and "approved by chief" in out
    code, out, err = cli("planner", "plans", "approve", str(pid), "--actor", "chief")
    assert code != 0 and "not a draft" in err
    ics = tmp_path / "p.ics"
    code, out, _ = cli("planner", "plans", "show", str(pid), "--ics", str(ics), "--actor", "chief")
    assert code == 0 and f"item {item['id']:5d}" in out and "to do" in out
    text = ics.read_text(encoding="utf-8").replace("\r\n ", "")
    assert "Hastighetskontroll" in text and "Vald för" in text and f"/officer/plans/{pid}" in text
    code, out, err = cli("planner", "control", "done", str(item["id"]), "--vehicles", "30", "--reports", "2",
                         "--actor", "officer")
    assert code == 0, err
    assert f"plan item {item['id']} done" in out
    code, out, _ = cli("planner", "plans", "list", "--status", "approved")
    assert f"{pid:5d}" in out and f"1 of {len(plan['controls'])} done" in out
    code, out, _ = cli("planner", "control", "list", "--json")
    logged = json.loads(out)
    assert [(c["site_id"], c["vehicles_checked"], c["reports_written"], c["plan_id"]) for c in logged][:1] == [
        (item["site_id"], 30, 2, pid)]
    code, out, _ = cli("planner", "plans", "cancel", str(pid), "--actor", "chief", "--note", "storm")
    assert code == 0 and "cancelled by chief" in out
    with psycopg.connect(pdemo_url) as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE entity = 'plans' AND entity_id = %s"
                                              " ORDER BY id", (str(pid),))]
    assert actions == ["plan.create", "plan.approve", "plan.export", "plan.cancel"]
