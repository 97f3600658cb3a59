"""Every command and subcommand has help; the parser is the interface users rely on."""

import argparse

import pytest

from fartkoll.cli import build_parser, main


def _walk(parser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield path + (name,), sub, action
                yield from _walk(sub, path + (name,))


def test_every_command_has_help_text():
    missing = []
    for path, _sub, action in _walk(build_parser()):
        helps = {a.dest: a.help for a in action._choices_actions}
        if not helps.get(path[-1]):
            missing.append(" ".join(path))
    assert missing == []


@pytest.mark.parametrize("argv", [["db", "up"], ["db", "migrate"], ["demo", "seed"], ["serve"]])
def test_known_commands_parse(argv):
    args = build_parser().parse_args(argv)
    assert callable(args.handler)


def test_help_exits_cleanly_and_unknown_command_fails(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0 and "db" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["frobnicate"])
    assert e.value.code == 2


def _error_classes():
    """Every exception class defined in the planner's and the CLI's modules."""
    import importlib
    import inspect
    import pkgutil
    from pathlib import Path

    import fartkoll

    root = Path(fartkoll.__file__).parent.parent  # by path: tests/planner would shadow a plain `import planner`
    for name in ("planner", "fartkoll"):
        for info in pkgutil.walk_packages([str(root / name)], name + "."):
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                    yield cls


def test_every_planner_and_cli_error_derives_from_the_one_root():
    from core.errors import FartkollError

    found = set(_error_classes())
    names = {c.__name__ for c in found}
    assert {"LoadError", "PlanError", "ControlError", "WeekError", "CellWeeksError", "ConsistencyError",
            "RetentionError", "ScheduleError", "PdfError", "SettingsError", "LocalDbError", "DatabaseUnavailable",
            "DemoError", "SiteNotFound"} <= names
    assert sorted(c.__name__ for c in found if not issubclass(c, FartkollError)) == []


@pytest.mark.parametrize("argv, code, message", [
    (["--config", "/nonexistent/fartkoll.toml", "stats", "x"], 2, "fartkoll stats: settings file /nonexistent"),
    (["stats", "Nowhere"], 3, "fartkoll stats: no site with id or name 'Nowhere'"),
    (["stats", "Nowhere", "--from", "2024-10-10", "--to", "2024-10-01"], 3, "no site with id or name"),
    (["planner", "report", "--week", "2024-W60"], 2, "fartkoll planner report: week '2024-W60' is not understood"),
    (["planner", "report", "--week", "٤٤"], 2, "is not understood"),
    (["planner", "job", "cells", "--sites", "1,two"], 2, "fartkoll planner job cells: --sites '1,two'"),
    (["planner", "plan", "--weeks", "13"], 2, "fartkoll planner plan: weeks 13 must be between 1 and 12"),
    (["planner", "control", "add", "--site", "x", "--start", "2024-10-01T10:00", "--end", "2024-10-01T11:00",
      "--method", "laser"], 3, "fartkoll planner control add: no site with id or name 'x'"),
])
def test_errors_map_to_their_exit_code_and_one_line_on_stderr(db_url, monkeypatch, capsys, argv, code, message):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_an_unreachable_database_is_exit_2_naming_the_address(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:secret@127.0.0.1:1/x")
    assert main(["stats", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fartkoll stats: cannot reach the database at postgresql://u:***@127.0.0.1:1/x")
    assert "secret" not in err
