"""A plan's life from the command line on the seeded demo: the plan job's JSON carries each item's
id, that id is what `planner control done` takes, the control's note shows in `control list`, and
the calendar and the printout link to the plan's page (not to its JSON)."""

from __future__ import annotations

import json
import re
from datetime import datetime

import psycopg

from fartkoll.cli import main


def test_plan_job_items_are_the_ids_control_done_takes(seeded_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    assert main(["planner", "job", "plan", "--at", "2024-11-04T06:00", "--seed", "5", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    pid = plan["plan_id"]
    with psycopg.connect(seeded_url) as conn:
        stored = {(r[0], r[1]): r[2] for r in conn.execute(
            "SELECT start_time, unit, id FROM planned_controls WHERE plan_id = %s", (pid,))}
    assert plan["controls"] and len(stored) == len(plan["controls"])
    for c in plan["controls"]:
        assert c["start"].endswith(("+01:00", "+02:00"))  # local time with its offset
        assert c["id"] == stored[(datetime.fromisoformat(c["start"]), c["unit"])]

    item = plan["controls"][0]["id"]
    assert main(["planner", "control", "done", str(item), "--vehicles", "30", "--reports", "2"]) == 4  # a draft
    assert "approve it before" in capsys.readouterr().err
    assert main(["planner", "plans", "approve", str(pid), "--actor", "kommissarie"]) == 0
    capsys.readouterr()
    assert main(["planner", "control", "done", str(item), "--vehicles", "30", "--reports", "2",
                 "--note", "regn, halva passet"]) == 0
    assert f"plan item {item} done" in capsys.readouterr().out
    assert main(["planner", "control", "list"]) == 0
    listed = capsys.readouterr().out
    assert "note: regn, halva passet" in listed and re.search(r"\d\d:\d\d CES?T ", listed)

    ics, html = tmp_path / "p.ics", tmp_path / "p.html"
    assert main(["planner", "plans", "show", str(pid), "--ics", str(ics), "--html", str(html)]) == 0
    shown = capsys.readouterr().out
    assert f"item {item:5d}" in shown and "done (control" in shown and "approved by kommissarie" in shown
    cal = ics.read_text(encoding="utf-8").replace("\r\n ", "")
    assert f"/officer/plans/{pid}" in cal and f"/api/v1/plans/{pid}" not in cal
    assert cal.count("BEGIN:VEVENT") == len(plan["controls"]) and "Vald för" in cal
    page = html.read_text(encoding="utf-8")
    assert f"/officer/plans/{pid}" in page and "Endast för polisen" in page
    assert "godkänd av kommissarie" in page and "Kontrollerade fordon" in page and "ja (kontroll" in page
