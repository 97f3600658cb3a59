"""The set-up commands through `fartkoll.cli.main` (and one real subprocess): a technician's flow
without SQL, audited as `cli:<OS user>`; errors are messages with exit codes, never tracebacks;
`--json` prints what the API answers."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys

import httpx
import pytest
from servers import running
from test_setup_api import person

from api.app import create_app
from fartkoll.cli import main
from fartkoll.settings import Settings

ACTOR = f"cli:{getpass.getuser()}"


@pytest.fixture
def cli(db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("FARTKOLL_DATABASE_URL", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        cap = capsys.readouterr()
        return code, cap.out, cap.err

    return run


def _json(cli, *argv):
    code, out, err = cli(*argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_a_technicians_flow_from_the_command_line(cli, db):
    site = _json(cli, "site", "add", "High Street 4", "--street", "High Street", "--municipality", "Oxford",
                 "--police-area", "Thames Valley", "--lat", "51.752", "--lon", "-1.2577",
                 "--time-zone", "Europe/London", "--tag", "school")
    assert (site["municipality"], site["time_zone"], site["tags"]) == ("Oxford", "Europe/London", ["school"])
    code, out, _ = cli("site", "add", "Cornmarket 1", "--street", "Cornmarket", "--municipality", "Oxford")
    assert code == 0 and "name: Cornmarket 1" in out
    assert "time_zone: Europe/London" in out          # as the municipality's other site

    lim = _json(cli, "limit", "set", "High", "--mph", "30", "--from", "2025-07-01")["limit"]
    assert (lim["posted_value"], lim["posted_unit"], lim["limit_kmh"]) == (30, "mph", 48)
    assert lim["valid_from"] == "2025-06-30T23:00:00Z"           # local midnight, British summer time
    closed = _json(cli, "limit", "set", "High", "--mph", "20", "--from", "2026-09-01")["closed"]
    assert closed["to_date"] == "2026-09-01"
    code, out, _ = cli("limit", "list", "High Street 4")
    assert code == 0 and "30" in out and "20" in out and "mph" in out

    code, out, err = cli("sign", "add", "HR-1", "--protocol", "houston-dr500", "--unit", "mph", "--rounding", "round")
    assert code == 0 and "protocol: houston-dr500" in out, err
    dep = _json(cli, "sign", "deploy", "HR-1", "High Street 4", "--display", "stealth", "--angle", "10",
                "--heading", "N", "--at", "2026-03-01T08:00")
    assert dep["valid_from"] == "2026-03-01T08:00:00Z" and dep["display"] == "stealth"
    moved = _json(cli, "sign", "move", "HR-1", "Cornmarket", "--heading", "S", "--at", "2026-04-01")
    # a local date means local midnight: 1 April in London is 23:00 UTC on 31 March
    assert moved["closed"]["valid_to"] == moved["opened"]["valid_from"] == "2026-03-31T23:00:00Z"
    code, out, _ = cli("sign", "list")
    assert code == 0 and "HR-1" in out and "Cornmarket 1 (stealth)" in out

    code, out, _ = cli("token", "issue", "HR-1", "--label", "modem")
    assert code == 0 and "fks_" in out and "shown only now" in out
    token_id = _json(cli, "token", "list", "HR-1")[0]["id"]
    revoked = _json(cli, "token", "revoke", str(token_id))
    assert revoked["revoked_at"] is not None
    code, out, _ = cli("token", "list")
    assert code == 0 and "fks_" not in out and "modem" in out

    tip = _json(cli, "tip", "add", "--site", "Cornmarket", "--text", "Fast after school")
    assert tip["channel"] == "phone" and tip["street"] == "Cornmarket"
    assert [t["id"] for t in _json(cli, "tip", "list", "--municipality", "Oxford")] == [tip["id"]]

    actions = db.execute("SELECT DISTINCT actor FROM audit_log").fetchall()
    assert actions == [(ACTOR,)]
    assert [r[0] for r in db.execute("SELECT action || ' ' || entity FROM audit_log ORDER BY id")] == [
        "create police_area", "create municipality", "create street", "create site", "create street", "create site",
        "set speed_limit", "set speed_limit", "create sign", "deploy deployment", "move deployment",
        "issue sign_token", "revoke sign_token", "create citizen_tip"]


def test_cli_json_is_the_apis_json(cli, db, db_url):
    _json(cli, "site", "add", "Skolgatan 12", "--street", "Skolgatan", "--municipality", "Testkommun",
          "--police-area", "LPO Test")
    _json(cli, "limit", "set", "Skolgatan 12", "40", "--from", "2024-01-01")
    sign = _json(cli, "sign", "add", "S-1", "--protocol", "icoms-tma296")
    _json(cli, "sign", "deploy", "S-1", "Skolgatan 12", "--at", "2026-01-01")
    mun = db.execute("SELECT id FROM municipalities WHERE name = 'Testkommun'").fetchone()[0]
    viewer = person(db, "viewer@example.org", "viewer", municipality_id=mun)
    with running(create_app(Settings(database_url=db_url))) as base:
        site_api = httpx.get(f"{base}/api/v1/sites/1/setup", headers=viewer, timeout=10).json()
        signs_api = httpx.get(f"{base}/api/v1/signs", headers=viewer, timeout=10).json()
    assert _json(cli, "site", "show", "Skolgatan") == site_api
    assert _json(cli, "sign", "list") == signs_api and signs_api[0]["id"] == sign["id"]


@pytest.mark.parametrize("argv, code, words", [
    (["site", "add", "A", "--street", "S", "--municipality", "M", "--police-area", "P", "--time-zone", "Europe/Stokholm"],
     2, ["time_zone 'Europe/Stokholm' is not a known IANA time zone", "Europe/Stockholm"]),
    (["site", "add", "A", "--street", "S", "--municipality", "Nowhere"], 3, ["no municipality named 'Nowhere'", "--police-area"]),
    (["sign", "add", "X", "--protocol", "icoms"], 2, ["protocol 'icoms' is not a collector protocol", "icoms-tma296", "ops-json"]),
    (["limit", "set", "Base 1", "200", "--from", "2026-01-01"], 2, ["posted_value 200", "5–130"]),
    (["limit", "set", "Base 1", "--mph", "90", "--from", "2026-01-01"], 2, ["posted_value 90", "mph"]),
    (["limit", "set", "Base 1", "50", "--mph", "30", "--from", "2026-01-01"], 2, ["either as KMH or as --mph"]),
    (["limit", "set", "Base 1", "50", "--from", "1st of May"], 2, ["--from '1st of May'", "YYYY-MM-DD"]),
    (["limit", "set", "Nope", "50", "--from", "2026-01-01"], 3, ["no site named 'Nope'", "fartkoll site list"]),
    (["sign", "deploy", "B-1", "Base 2", "--at", "2026-02-01"], 4, ["sign B-1 has deployment", "Base 1", "sign move B-1"]),
    (["sign", "deploy", "B-1", "Base", "--at", "2026-02-01"], 2, ["site 'Base' is ambiguous", "Base 1", "Base 2"]),
    (["sign", "move", "B-1", "Base 2", "--at", "2025-06-01"], 4, ["not deployed at", "sign deploy B-1"]),
    (["sign", "deploy", "B-9", "Base 2"], 3, ["no sign with serial number or id 'B-9'", "did you mean B-1"]),
    (["sign", "move", "B-1", "Base 2", "--angle", "95", "--at", "2026-03-01"], 2,
     ["mount_angle_deg 95.0", "below 90 degrees"]),
    (["token", "revoke", "77"], 3, ["no sign token with id 77"]),
])
def test_bad_input_names_field_and_value_with_an_exit_code(cli, db, argv, code, words):
    for args in (["site", "add", "Base 1", "--street", "Base", "--municipality", "M", "--police-area", "P"],
                 ["site", "add", "Base 2", "--street", "Base", "--municipality", "M"],
                 ["sign", "add", "B-1", "--protocol", "ops-json"],
                 ["sign", "deploy", "B-1", "Base 1", "--at", "2026-01-01"]):
        assert cli(*args)[0] == 0
    before = db.execute("SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM deployments),"
                        " (SELECT count(*) FROM speed_limits), (SELECT count(*) FROM sites)").fetchone()
    got, out, err = cli(*argv)
    assert got == code, err
    assert out == "" and "Traceback" not in err
    for w in words:
        assert w in err
    db.rollback()
    assert db.execute("SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM deployments),"
                      " (SELECT count(*) FROM speed_limits), (SELECT count(*) FROM sites)").fetchone() == before


def test_a_real_process_refuses_a_demo_protocol_name_without_a_traceback(db_url):
    env = {**os.environ, "DATABASE_URL": db_url}
    env.pop("FARTKOLL_DATABASE_URL", None)
    p = subprocess.run([sys.executable, "-m", "fartkoll.cli", "sign", "add", "HR-2", "--protocol", "houston"],
                       check=False, capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "protocol 'houston' is not a collector protocol: did you mean houston-dr500?" in p.stderr


def test_every_set_up_command_explains_itself(capsys):
    for group, actions in {"site": ["add", "list", "show"], "limit": ["set", "list"],
                           "sign": ["add", "list", "show", "deploy", "move", "remove"],
                           "token": ["issue", "list", "revoke"], "tip": ["add", "list"]}.items():
        for action in actions:
            with pytest.raises(SystemExit) as e:
                main([group, action, "--help"])
            assert e.value.code == 0
            text = capsys.readouterr().out
            assert len(text) > 200 and "--json" in text, (group, action)   # a description, not only options
    main_help = subprocess.run([sys.executable, "-m", "fartkoll.cli", "sign", "add", "--help"],
                               check=False, capture_output=True, text=True, timeout=60).stdout
    assert "houston-dr500" in main_help and "fartkoll token issue" in main_help
