"""CLI smoke tests: `fartkoll stats` and `fartkoll planner …` against a seeded demo copy."""

from __future__ import annotations

import json

import pytest

from fartkoll.cli import main


@pytest.fixture
def cli(pdemo_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", pdemo_url)
    monkeypatch.delenv("FARTKOLL_CONFIG", raising=False)

    def run(*argv):
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_stats_table_and_json(cli):
    code, out, err = cli("stats", "Kungsgatan")
    assert code == 0, err
    assert "V85 km/h" in out and "over threshold" in out and "legal limit changed" in out
    code, out, _ = cli("stats", "Skolvägen", "--from", "2024-10-01", "--to", "2024-10-14", "--json")
    d = json.loads(out)
    assert code == 0 and d["rounding"] == "round"
    groups = {(g["direction"], g["display"]) for g in d["groups"]}
    assert len(groups) == len(d["groups"]) and ("approaching", "stealth") in groups  # one figure per direction × mode
    g = d["groups"][0]
    assert g["histogram"]["lower_kmh"][0] % 1 == 0.5  # a rounding sign's bins are [b - 0.5, b + 0.5)
    assert g["over_limit"]["low"] <= g["over_limit"]["share"] <= g["over_limit"]["high"]
    code, _, err = cli("stats", "Nowhere")
    assert code == 3 and "no site with id or name 'Nowhere'" in err  # NotFound


def test_rank_plan_pins_controls_followup(cli, tmp_path):
    code, out, _ = cli("planner", "rank", "--limit", "3", "--exclude", "Kungsgatan")
    assert code == 0 and "reportable per 20 min" in out and "Kungsgatan" not in out
    code, out, _ = cli("planner", "rank", "--json", "--limit", "4", "--pin", "Björkvägen")
    d = json.loads(out)
    assert d["cells"][0]["pinned"] and d["sites"][0]["name"].startswith("Björkvägen")
    assert {c["direction"] for c in d["cells"]} <= {"approaching", "receding", "unknown"}
    assert {c["display"] for c in d["cells"]} <= {"display", "stealth"} and len(d["cells"]) == 4
    assert d["sites"][0]["best_cell"]["site_name"] == d["sites"][0]["name"]
    assert cli("planner", "pins", "exclude", "Sjövägen", "--note", "vägarbete")[0] == 0
    code, out, _ = cli("planner", "pins", "list")
    assert "exclude" in out and "Sjövägen" in out
    slots = tmp_path / "slots.csv"
    slots.write_text("date,start,end,units\n2024-11-05,07:00,09:00,2\n2024-11-07,15:00,16:00,1\n")
    files = [tmp_path / n for n in ("p.ics", "p.csv", "p.html")]
    argv = ["planner", "plan", "--slots", str(slots), "--seed", "7", "--actor", "tester",
            "--ics", str(files[0]), "--csv", str(files[1]), "--html", str(files[2])]
    code, out, _ = cli(*argv)
    assert code == 0 and out.startswith("plan 1:")
    assert "Sjövägen" not in out  # the stored exclude applies
    ics, csv_text, html = (f.read_text(encoding="utf-8") for f in files)
    n_controls = len(csv_text.strip().splitlines()) - 1
    unmet = out.count("not met:")
    # 3 slot-hours for 3 units: travel between the demo's towns leaves room for fewer than 10 controls
    assert 4 <= n_controls <= 2 * 4 + 2 and ics.count("BEGIN:VEVENT") == n_controls
    assert n_controls == 2 * 4 + 2 or unmet > 0  # a stretch left empty is reported
    assert "Kontrollplan 1" in html and "Kontrollerade fordon" in html and "Endast för polisen" in html
    code, out2, _ = cli(*argv[:-6])
    assert out2.replace("plan 2:", "plan 1:") == out  # same seed, same plan
    code, _, err = cli("planner", "control", "add", "--site", "Storgatan", "--start", "2024-10-30T08:00",
                       "--end", "2024-10-30T07:00", "--method", "laser")
    assert code == 2 and "end '2024-10-30T07:00:00+01:00': must be after start" in err
    code, _, err = cli("planner", "control", "add", "--site", "Storgatan", "--start", "30/10",
                       "--end", "2024-10-30T09:00", "--method", "laser")
    assert code == 2 and "start '30/10'" in err
    code, out, _ = cli("planner", "control", "add", "--site", "Storgatan", "--start", "2024-10-30T08:00",
                       "--end", "2024-10-30T09:00", "--method", "radar", "--checked", "40", "--reports", "4")
    assert code == 0 and out.startswith("control 6 logged")
    code, out, _ = cli("planner", "control", "list", "--site", "Storgatan")
    assert code == 0 and len(out.strip().splitlines()) == 3
    code, out, _ = cli("planner", "control", "add", "--site", "Storgatan", "--start", "2024-10-31T08:00",
                       "--end", "2024-10-31T08:20", "--method", "laser", "--direction", "receding", "--json")
    logged = json.loads(out)
    assert code == 0 and logged["id"] == 7 and logged["direction"] == "receding" and not logged["planned"]
    code, out, _ = cli("planner", "control", "list", "--site", "Storgatan", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 4 and rows[0] == logged  # the same model from add and from list
    assert {r["direction"] for r in rows} <= {"approaching", "receding", "unknown", None}
    assert rows[0]["start_time"] == "2024-10-31T07:00:00Z"  # 08:00 local (CET), ISO 8601 with offset
    with pytest.raises(SystemExit) as e:  # names, not codes
        cli("planner", "control", "add", "--site", "Storgatan", "--start", "2024-10-31T09:00",
            "--end", "2024-10-31T09:20", "--method", "laser", "--direction", "1")
    assert e.value.code == 2
    code, out, _ = cli("planner", "followup", "Tallbackavägen")
    assert code == 0 and "during" in out and "halo:" in out and "+1 week" in out
    code, out, _ = cli("planner", "followup", "--json")
    d = json.loads(out)
    assert code == 0 and len(d) == 7 and all("effect" in x for x in d)
    assert {x["display"] for x in d} <= {"display", "stealth", None}
    # an effect is estimated exactly when its baseline has enough days (else flagged, not computed)
    assert all(bool(x["effect"]["share_over_limit"]) == x["effect"]["computed"] for x in d if x["effect"])
    assert any(x["effect"]["computed"] for x in d if x["effect"])


def test_rank_says_where_its_sums_come_from(cli):
    code, out, _ = cli("planner", "rank", "--limit", "2")
    assert code == 0 and "cells summed from the hourly rollups" in out and "planner job cells" in out
    code, before, _ = cli("planner", "rank", "--json", "--limit", "5")
    assert json.loads(before)["running_totals"] == {"sites": 0, "through": None}
    code, out, err = cli("planner", "job", "cells")
    assert code == 0, err
    code, out, _ = cli("planner", "rank", "--limit", "2")
    sites = int(out.split(" sites, hourly rollups")[0].split(" of ")[-1])
    assert code == 0 and "cells from running totals up to " in out and f"for {sites} of {sites} sites" in out
    code, after, _ = cli("planner", "rank", "--json", "--limit", "5")
    a, b = json.loads(after), json.loads(before)
    assert a["running_totals"]["sites"] == sites > 0
    assert a["cells"] == b["cells"] and a["sites"] == b["sites"]  # the same ranking either way

