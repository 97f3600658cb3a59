"""The ``fartkoll`` command: thin subcommands that build settings, call one function, map errors.

Each command group lives in ``fartkoll/commands/<group>.py``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from api import passwords
from core.errors import FartkollError

from .commands import GROUPS
from .settings import Settings


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fartkoll",
        description="Traffic-speed monitoring and enforcement planning from radar speed signs.",
    )
    p.add_argument("--config", help="TOML settings file (default: $FARTKOLL_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        importlib.import_module(f"{__package__}.commands.{group}").register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a :class:`core.errors.FartkollError` is its message on stderr and its exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.load(args.config)
        passwords.configure(**settings.api.passwords.model_dump())
        return args.handler(args, settings)
    except FartkollError as e:
        print(f"{_prog(args)}: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


def _prog(args: argparse.Namespace) -> str:
    """``fartkoll planner plan`` and the like: the command words the user typed."""
    words = ["fartkoll", args.command]
    for dest in ("planner_cmd", "job", "pins_cmd", "control_cmd"):
        value = getattr(args, dest, None)
        if isinstance(value, str):
            words.append(value)
    return " ".join(words)


if __name__ == "__main__":
    sys.exit(main())
