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
