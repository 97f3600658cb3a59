import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fartkoll.setting_names import OUTSIDE_SETTINGS, environment_problems
from fartkoll.settings import Settings, SettingsError


def test_environment_overrides_file_and_nested_keys(tmp_path, monkeypatch):
    f = tmp_path / "fartkoll.toml"
    f.write_text('threshold_over_kmh = 5.0\n[localdb]\nport = 5500\ndatabase = "fk"\n')
    monkeypatch.setenv("FARTKOLL_LOCALDB__PORT", "5600")
    monkeypatch.setenv("FARTKOLL_LOCALDB__ROOT", str(tmp_path / "root"))  # no password file
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("FARTKOLL_DATABASE_URL", raising=False)
    s = Settings.load(f)
    assert s.localdb.port == 5600            # environment wins
    assert s.localdb.database == "fk"        # file value kept beside it
    assert s.threshold_over_kmh == 5.0
    assert s.database_dsn() == "postgresql://postgres@127.0.0.1:5600/fk"


def test_database_url_without_prefix_is_honoured(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example:5432/x")
    assert Settings.load().database_dsn() == "postgresql://u@db.example:5432/x"


@pytest.mark.parametrize(
    "env,field,value",
    [
        ({"FARTKOLL_LOCALDB__PORT": "80"}, "localdb.port", "80"),
        ({"FARTKOLL_THRESHOLD_OVER_KMH": "lots"}, "threshold_over_kmh", "lots"),
        ({"FARTKOLL_DEFAULT_TIME_ZONE": "Europe/Stockholmm"}, "default_time_zone", "Europe/Stockholmm"),
        ({"DATABASE_URL": "mysql://x"}, "database_url", "mysql://x"),
    ],
)
def test_invalid_values_are_named_with_field_and_value(monkeypatch, env, field, value):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError) as e:
        Settings.load()
    assert field in str(e.value) and repr(value) in str(e.value)


def test_unknown_key_in_file_and_missing_or_broken_file(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("treshold_over_kmh = 4\n")
    with pytest.raises(SettingsError, match="treshold_over_kmh"):
        Settings.load(f)
    with pytest.raises(SettingsError, match="does not exist"):
        Settings.load(tmp_path / "none.toml")
    f.write_text("x = = 1")
    with pytest.raises(SettingsError, match="not valid TOML"):
        Settings.load(f)


# --- typos are errors, every bad file or variable is a message --------------------------------


REPO = Path(__file__).resolve().parent.parent
FARTKOLL = [sys.executable, "-m", "fartkoll.cli"]


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FARTKOLL_")}
    env.update(extra)
    return env


@pytest.mark.parametrize(
    "toml,key,nearest",
    [
        ("[localdb]\nportt = 5999\n", "localdb.portt", "'port'"),
        ("[localbd]\nport = 5999\n", "localbd", "'localdb'"),
        ("[api]\nhots = '0.0.0.0'\n", "api.hots", "'host'"),
        ("[jobs]\nretention_day = 500\n", "jobs.retention_day", "'retention_days'"),
        ("[[collector.sources]]\nport = '/dev/x'\nprotocol = 'ops-json'\nsign_serial = 'A'\nbaud = 9600\n",
         "collector.sources[0].baud", "'baudrate'"),
        ("[planner.threshold_by_police_area.Syd]\nkind = 'plus'\nover_kmhh = 4\n",
         "planner.threshold_by_police_area.Syd.over_kmhh", "'over_kmh'"),
    ],
)
def test_unknown_key_at_any_level_of_the_file_names_it_and_the_nearest(tmp_path, monkeypatch, toml, key, nearest):
    monkeypatch.delenv("FARTKOLL_LOCALDB__PORT", raising=False)
    f = tmp_path / "fartkoll.toml"
    f.write_text(toml)
    with pytest.raises(SettingsError) as e:
        Settings.load(f)
    message = str(e.value)
    assert f"{key}: unknown setting" in message and f"did you mean {nearest}" in message


def test_known_nested_keys_in_the_file_are_accepted(tmp_path, monkeypatch):
    monkeypatch.delenv("FARTKOLL_LOCALDB__PORT", raising=False)
    f = tmp_path / "fartkoll.toml"
    f.write_text("[localdb]\nport = 5999\n[planner.threshold_by_police_area.Syd]\nover_kmh = 4\n"
                 "[[collector.sources]]\nport = '/dev/x'\nprotocol = 'ops-json'\nsign_serial = 'A'\n"
                 "parser_options = {anything = 1}\n")
    s = Settings.load(f)
    assert s.localdb.port == 5999 and s.collector.sources[0].parser_options == {"anything": 1}


@pytest.mark.parametrize(
    "var,nearest",
    [
        ("FARTKOLL_LOCALDB__PORTT", "FARTKOLL_LOCALDB__PORT"),
        ("FARTKOLL_TRESHOLD_OVER_KMH", "FARTKOLL_THRESHOLD_OVER_KMH"),
        ("FARTKOLL_LOCALDB_PORT", "FARTKOLL_LOCALDB__PORT"),
        ("FARTKOLL_DATABASE_URI", "FARTKOLL_DATABASE_URL"),
        ("FARTKOLL_CONFG", "FARTKOLL_CONFIG"),
        ("fartkoll_api__prot", "FARTKOLL_API__PORT"),
        ("FARTKOLL_PLANNER__THRESHOLD_BY_POLICE_AREA__SYD__OVERKMH",
         "FARTKOLL_PLANNER__THRESHOLD_BY_POLICE_AREA__SYD__OVER_KMH"),
    ],
)
def test_unknown_variable_names_it_and_the_nearest(monkeypatch, var, nearest):
    monkeypatch.setenv(var, "5999")
    with pytest.raises(SettingsError) as e:
        Settings.load()
    assert f"{var}: no such setting" in str(e.value) and f"did you mean {nearest}?" in str(e.value)


def test_variables_read_outside_the_settings_and_valid_nested_ones_pass(monkeypatch, tmp_path):
    f = tmp_path / "empty.toml"
    f.write_text("")
    monkeypatch.setenv("FARTKOLL_CONFIG", str(f))
    monkeypatch.setenv("FARTKOLL_CHROMIUM", "/usr/bin/chromium")
    monkeypatch.setenv("FARTKOLL_PLANNER__THRESHOLD_BY_POLICE_AREA__SYD__OVER_KMH", "4")
    monkeypatch.setenv("FARTKOLL_JOBS__RETENTION_DAYS", "500")
    s = Settings.load()
    assert s.jobs.retention_days == 500
    assert s.planner.threshold_by_police_area["syd"].over_kmh == 4


def test_every_fartkoll_variable_the_code_reads_is_a_setting_or_listed():
    """A new os.environ["FARTKOLL_X"] elsewhere must be added to OUTSIDE_SETTINGS (or be a
    setting), or every start with that variable set would fail as a typo."""
    read = re.compile(r"""(?:environ(?:\.get)?\s*[\[(]|getenv\s*\()\s*["'](FARTKOLL_\w+)["']""")
    found = {}
    for pkg in ("fartkoll", "collector", "planner", "api", "core", "sql"):
        for py in (REPO / pkg).rglob("*.py"):
            for name in read.findall(py.read_text()):
                found.setdefault(name, py.relative_to(REPO))
    assert "FARTKOLL_CONFIG" in found and "FARTKOLL_CHROMIUM" in found  # the scan sees them
    problems = {name: str(where) for name, where in found.items()
                if any("no such setting" in p for p in environment_problems(Settings, {name: "x"}))}
    assert problems == {}
    assert OUTSIDE_SETTINGS <= set(found)  # nothing listed that no code reads


def test_json_variable_that_does_not_parse_is_named(monkeypatch):
    monkeypatch.setenv("FARTKOLL_COLLECTOR__SOURCES", "[{")
    with pytest.raises(SettingsError) as e:
        Settings.load()
    assert "FARTKOLL_COLLECTOR__SOURCES: not valid JSON" in str(e.value) and "JSON array" in str(e.value)
    monkeypatch.setenv("FARTKOLL_COLLECTOR__SOURCES", '[{"port": "/dev/x", "protocol": "p", "sign_seriall": "A"}]')
    with pytest.raises(SettingsError, match=r"collector\.sources\[0\]\.sign_seriall: unknown setting; did you mean 'sign_serial'"):
        Settings.load()


def _cli(args, env):
    return subprocess.run(check=False, args=[*FARTKOLL, *args], capture_output=True, text=True, env=env, timeout=60, cwd=REPO)


@pytest.mark.parametrize(
    "make,expect",
    [
        (lambda d: d, "is a folder"),
        (lambda d: _write(d / "bin.toml", bytes(range(256))), "not UTF-8 text: byte 0x80 at offset 128"),
        (lambda d: _write(d / "latin1.toml", "# Gävle\nport = 1\n".encode("latin-1")), "byte 0xe4 at offset 3 (line 1)"),
        (lambda d: _write(d / "nul.toml", b"a = 1\n\x00\x00"), "NUL bytes"),
        (lambda d: _write(d / "x.toml", b"[localdb]\nportt = 5999\n"), "localdb.portt: unknown setting; did you mean 'port'"),
    ],
)
def test_unusable_config_files_fail_with_a_message_not_a_traceback(tmp_path, make, expect):
    path = make(tmp_path)
    for args, env in ((["--config", str(path), "db", "status"], _clean_env()),
                      (["db", "status"], _clean_env(FARTKOLL_CONFIG=str(path)))):
        r = _cli(args, env)
        assert r.returncode == 2, r.stderr
        assert expect in r.stderr and "Traceback" not in r.stderr


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def without_file_rights(argv: list[str]) -> list[str]:
    """``argv`` run without the right to read other users' files (even as root)."""
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *argv]


needs_setpriv = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                                   reason="needs root and setpriv to drop the file-reading rights")


@needs_setpriv
def test_unreadable_config_file_fails_with_a_message(tmp_path):
    f = _write(tmp_path / "secret.toml", b"threshold_over_kmh = 5\n")
    f.chmod(0o600)
    os.chown(f, 65534, 65534)  # another user's file
    r = subprocess.run(check=False, args=without_file_rights([*FARTKOLL, "--config", str(f), "db", "status"]),
                       capture_output=True, text=True, env=_clean_env(), cwd=REPO, timeout=60)
    assert r.returncode == 2 and "cannot be read by this user (permission denied)" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("var,value,expect", [
    ("FARTKOLL_COLLECTOR__SOURCES", "[{", "FARTKOLL_COLLECTOR__SOURCES: not valid JSON"),
    ("FARTKOLL_API", "{oops", "FARTKOLL_API: not valid JSON"),
    ("FARTKOLL_PLANNER__PATROL_SLOTS", "[1,", "FARTKOLL_PLANNER__PATROL_SLOTS: not valid JSON"),
    ("FARTKOLL_LOCALDB__PORTT", "5999", "did you mean FARTKOLL_LOCALDB__PORT?"),
])
def test_bad_variables_fail_the_cli_with_a_message(var, value, expect):
    r = _cli(["db", "status"], _clean_env(**{var: value}))
    assert r.returncode == 2 and expect in r.stderr and "Traceback" not in r.stderr
