"""Follow-up on the database: the demo's control effect is found; a control without effect is not
credited with one; the control log validates, links to its plan and audits."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest
from places import make_site
from planner_synth import write_hours

from planner.controls import ControlError, ControlInput, add_control, list_controls
from planner.followup import followups
from planner.load import load_sites, resolve_site
from planner.planning import make_plan
from planner.settings import PlannerSettings

NOW = datetime(2024, 11, 4, 12, tzinfo=timezone.utc)


def test_demo_control_effect_is_found_with_a_halo(pdemo_ro):
    sites = load_sites(pdemo_ro)
    tall = resolve_site(sites, "Tallbackavägen").id
    (f,) = followups(pdemo_ro, PlannerSettings(), tall)
    r = f.report
    assert f.display == 0 and len(f.comparison_sites) >= 5 and tall not in f.comparison_sites
    assert f.selected_on == f.control.start_time.date() - timedelta(days=7)
    # the baseline starts at the site's first data, and counts only days with data in the kept mode
    first = pdemo_ro.execute("SELECT min(hour) FROM rollup_hourly WHERE site_id = %s", (tall,)).fetchone()[0]
    assert r.baseline_start == max(first.astimezone(ZoneInfo("Europe/Stockholm")).date(),
                                   f.selected_on - timedelta(weeks=4))
    assert r.computed and 7 <= r.baseline_days <= (r.baseline_end - r.baseline_start).days
    assert any(f"{r.baseline_days} of 28 requested" in n for n in r.notes)
    assert f.planned == f.control.planned
    during, day1 = r.share_over_limit["during"], r.share_over_limit["+1 day"]
    assert during.significant and during.did < -0.05
    assert day1.significant and day1.did < 0
    assert r.v85["during"].high < 0
    assert r.halo_days is not None and r.halo_days >= 1 and r.return_from is not None
    # sites with controls in the window are never comparison sites
    controlled = {c.site_id for c in list_controls(pdemo_ro)}
    assert not controlled & set(f.comparison_sites)


def test_control_without_effect_is_not_credited_with_one(db):
    t0 = datetime(2024, 9, 2, tzinfo=timezone.utc)
    rng = np.random.default_rng(42)
    ids = [make_site(db, name, limit_kmh=50) for name in ("Allén 1", "Bygatan 2", "Dalvägen 3")]
    db.execute("UPDATE sites SET lat = 59.6 + id * 0.05")
    for i, sid in enumerate(ids):
        for direction in (1, 2):
            write_hours(db, sid, t0, 24 * 42, rng, per_hour=40 + 10 * i, mean_kmh=50 + i, direction=direction)
    start = t0 + timedelta(days=30, hours=6)
    cid = add_control(db, ControlInput(ids[0], start, start + timedelta(hours=1), "laser", 40, 6), "tester", NOW)
    (f,) = followups(db, PlannerSettings(), ids[0])
    assert f.control.id == cid and set(f.comparison_sites) == set(ids[1:])
    r = f.report
    for window in ("during", "+1 day", "+1 week"):
        assert not r.share_over_limit[window].significant, (window, r.share_over_limit[window])
        assert not r.v85[window].significant, (window, r.v85[window])
    assert r.halo_days is None


def test_control_log_validates_links_plan_and_audits(pdemo_url):
    with psycopg.connect(pdemo_url) as conn:
        sites = load_sites(conn)
        site = resolve_site(sites, "Storgatan").id
        t = datetime(2024, 10, 30, 7, tzinfo=timezone.utc)
        bad = [
            (ControlInput(site, t, t - timedelta(hours=1), "laser"), "end"),
            (ControlInput(site, t, t + timedelta(hours=1), "lazer"), "method 'lazer'"),
            (ControlInput(site, t, t + timedelta(hours=1), "laser", 3, 5), "reports_written 5"),
            (ControlInput(site, t, t + timedelta(hours=1), "laser", -1), "vehicles_checked -1"),
            (ControlInput(site, NOW + timedelta(days=3), NOW + timedelta(days=3, hours=1), "laser"), "start"),
            (ControlInput(site, t, t + timedelta(hours=1), "laser", plan_id=999), "plan_id 999"),
            (ControlInput(9999, t, t + timedelta(hours=1), "laser"), "site 9999"),
        ]
        for ci, needle in bad:
            with pytest.raises(ControlError) as e:
                add_control(conn, ci, "tester", NOW)
            assert str(e.value).startswith(needle), str(e.value)
        planner = PlannerSettings()
        plan = make_plan(conn, planner, slots=planner.slots_for(date(2024, 10, 28)), seed=1, actor="tester",
                         tz="Europe/Stockholm")
        pc = plan.plan.controls[0]
        cid = add_control(conn, ControlInput(pc.site_id, pc.start, pc.end, "laser", 20, 3, plan_id=plan.plan_id),
                          "officer@example", NOW)
        linked = conn.execute("SELECT control_id FROM planned_controls WHERE plan_id = %s AND start_time = %s",
                              (plan.plan_id, pc.start)).fetchall()
        assert (cid,) in linked
        row = next(r for r in list_controls(conn) if r.id == cid)
        assert row.planned and row.plan_id == plan.plan_id and row.plan_created_at == plan.created_at
        audit = conn.execute("SELECT actor, detail->>'plan_id' FROM audit_log WHERE action = 'control.add'").fetchall()
        assert audit == [("officer@example", str(plan.plan_id))]


@pytest.fixture
def cli(pdemo_url, monkeypatch, capsys):
    """`fartkoll …` on a seeded demo copy: (exit code, stdout, stderr)."""
    from fartkoll.cli import main

    monkeypatch.setenv("DATABASE_URL", pdemo_url)
    monkeypatch.delenv("FARTKOLL_CONFIG", raising=False)

    def run(*argv):
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_followup_text_in_local_time_and_report_out_refuses_other_extensions(cli, tmp_path):
    code, out, _ = cli("planner", "followup", "Tallbackavägen")
    assert code == 0 and "return from" in out and "revisit" not in out
    assert re.search(r"control \d+: .*, 2024-\d\d-\d\d \d\d:\d\d–\d\d:\d\d CES?T \(", out)
    assert re.search(r"baseline \S+ \.\. \S+ \(exclusive\): rests on \d+ days with data of 28 requested", out)
    assert "Z–" not in out and " d " in out  # days beside each figure
    code, out, _ = cli("planner", "followup", "--json")
    d = json.loads(out)
    assert all(re.search(r"\+0[12]:00$", x["start"]) for x in d)
    assert all(x["effect"]["computed"] == bool(x["effect"]["share_over_limit"]) for x in d if x["effect"])
    for bad in ("picture.txt", "picture"):
        code, _, err = cli("planner", "report", "--week", "2024-W44", "--out", str(tmp_path / bad))
        assert code == 2 and f"--out '{tmp_path / bad}'" in err and ".html or .pdf" in err
    assert not list(tmp_path.iterdir())


def test_followup_offsets_follow_summer_and_winter_time(cli):
    code, out, _ = cli("planner", "followup", "--json")
    d = json.loads(out)
    seen = set()
    for x in d:
        day = x["start"][:10]
        offset = "+02:00" if day < "2024-10-27" else "+01:00"
        assert x["start"].endswith(offset) and x["end"].endswith(offset), x["start"]
        seen.add(offset)
    code, text, _ = cli("planner", "followup")
    zones = set(re.findall(r"\d\d:\d\d–\d\d:\d\d (CES?T) \(", text))
    assert zones == {"+02:00": {"CEST"}, "+01:00": {"CET"}}.get(seen.pop()) if len(seen) == 1 else zones == {"CEST", "CET"}


def test_rank_period_errors_repeat_what_was_typed(cli, capsys):
    code, _, err = cli("planner", "rank", "--from", "2024-10-20", "--to", "2024-10-13")
    assert code == 2 and "--to 2024-10-13 is before --from 2024-10-20" in err
    with pytest.raises(SystemExit) as e:
        cli("planner", "rank", "--from", "2024-13-01")
    assert e.value.code == 2 and "'2024-13-01'" in capsys.readouterr().err
