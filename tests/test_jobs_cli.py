"""`fartkoll planner run | job …` through the real command line and a seeded demo database."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
from seeded_demo import WORLD

from fartkoll.cli import build_parser, main
from fartkoll.demo import world as W

GAP = WORLD.outages[0]


def test_job_commands_parse_to_their_own_handler():
    from fartkoll.commands import planner_jobs

    for argv, handler in ((["planner", "run"], planner_jobs.run_scheduler),
                          (["planner", "report"], planner_jobs.report),
                          (["planner", "job", "silent"], planner_jobs.run_job),
                          (["planner", "job", "retention", "--dry-run"], planner_jobs.run_job)):
        assert build_parser().parse_args(argv).handler is handler


def test_run_list_prints_next_runs_and_refuses_a_bad_cron(monkeypatch, capsys):
    assert main(["planner", "run", "--list"]) == 0
    out = capsys.readouterr().out
    for job in ("report", "plan", "retention", "silent", "consistency"):
        assert job in out
    monkeypatch.setenv("FARTKOLL_JOBS__SILENT_CRON", "*/90 * * *")
    assert main(["planner", "run", "--list"]) == 2
    err = capsys.readouterr().err
    assert "jobs.silent_cron" in err and "*/90 * * *" in err


def test_silent_retention_and_consistency_jobs_run_once(seeded_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    at = (GAP.start + timedelta(hours=20)).isoformat()
    assert main(["planner", "job", "silent", "--at", at]) == 0
    out = capsys.readouterr().out
    assert W.DEAD_SIGN in out and "1 new" in out

    assert main(["planner", "job", "retention", "--days", "3"]) == 2
    assert "below the minimum of 7 days" in capsys.readouterr().err
    assert main(["planner", "job", "retention", "--at", "2024-11-04T00:00", "--days", "14"]) == 0
    assert "dropped" in capsys.readouterr().out

    with psycopg.connect(seeded_url) as conn:
        conn.execute("UPDATE rollup_hourly SET n = n + 5 WHERE hour = (SELECT max(hour) FROM rollup_hourly)")
        conn.commit()
    assert main(["planner", "job", "consistency", "--at", "2024-11-04T06:00", "--hours", "12"]) == 1
    assert "mismatch" in capsys.readouterr().out
    assert main(["planner", "job", "consistency", "--at", "2024-11-04T06:00", "--hours", "12", "--repair"]) == 0
    assert "repaired" in capsys.readouterr().out
    assert main(["planner", "job", "consistency", "--at", "2024-11-04T06:00", "--hours", "12"]) == 0
    assert "0 mismatch" in capsys.readouterr().out


def test_report_and_plan_jobs_write_files_and_a_plan(seeded_url, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    monkeypatch.setenv("FARTKOLL_JOBS__REPORT_DIR", str(tmp_path))
    monkeypatch.setenv("FARTKOLL_JOBS__REPORT_PDF", "false")
    monkeypatch.setenv("FARTKOLL_JOBS__REPORT_LANGUAGES", '["sv", "en"]')
    assert main(["planner", "job", "report", "--at", "2024-11-04T06:00"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lagesbild-2024-W44.en.html", "lagesbild-2024-W44.sv.html"]
    assert "vecka 44" in (tmp_path / "lagesbild-2024-W44.sv.html").read_text()
    capsys.readouterr()
    assert main(["planner", "job", "plan", "--at", "2024-11-04T06:00", "--seed", "5"]) == 0
    assert "proposed" in capsys.readouterr().out
    with psycopg.connect(seeded_url) as conn:
        plans = conn.execute("SELECT created_by, seed, first_day::text FROM plans").fetchall()
        assert plans == [("system", 5, "2024-11-12")]  # the first patrol slot (Tuesday) of the week from Monday 11-11
        assert conn.execute("SELECT count(*) FROM planned_controls").fetchone()[0] > 0


def test_the_plan_job_and_the_plan_command_draw_the_same_plan_from_the_same_seed(seeded_url, monkeypatch, capsys):
    """One implementation: the scheduled job and `planner plan` both call planner.planning.propose_plan."""
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    monkeypatch.setenv("FARTKOLL_JOBS__PLAN_WEEKS", "2")
    assert main(["planner", "job", "plan", "--at", "2024-11-04T06:00", "--seed", "11", "--json"]) == 0
    job = json.loads(capsys.readouterr().out)
    assert main(["planner", "plan", "--start", "2024-11-11", "--weeks", "2", "--seed", "11", "--actor", "anna",
                 "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert job["controls"] and job["plan_id"] != cli["plan_id"]
    assert (job["created_by"], cli["created_by"]) == ("system", "anna")
    same = ("seed", "time_zone", "first_day", "last_day", "data_from", "data_to", "unmet")
    assert {k: job[k] for k in same} == {k: cli[k] for k in same}
    # the same controls drawn (ids and the display fields of each view aside)
    drawn = ("site_id", "direction", "start", "end", "unit", "slot", "hour_of_week", "score", "reason")

    def draws(controls: list[dict]) -> list[tuple]:
        return [tuple(c[k] for k in drawn) for c in controls]

    assert draws(job["controls"]) == draws(cli["controls"])
    assert {c["direction"] for c in job["controls"]} <= {"approaching", "receding", "unknown"}
    # another seed, another draw
    assert main(["planner", "plan", "--start", "2024-11-11", "--weeks", "2", "--seed", "12", "--json"]) == 0
    other = json.loads(capsys.readouterr().out)
    assert other["controls"] != job["controls"]
    with psycopg.connect(seeded_url) as conn:  # each JSON is the stored plan
        stored = conn.execute("SELECT p.id, p.seed, count(c.*) FROM plans p JOIN planned_controls c ON c.plan_id = p.id "
                              "GROUP BY p.id ORDER BY p.id").fetchall()
    assert stored == [(d["plan_id"], d["seed"], len(d["controls"])) for d in (job, cli, other)]
