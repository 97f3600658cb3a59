"""The ``fartkoll`` command: thin subcommands that build settings, call one function, map errors.

Each command group lives in ``fartkoll/commands/<group>.py``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from .commands import GROUPS
from .settings import Settings, SettingsError


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
    from .db import DatabaseUnavailable
    from .localdb import LocalDbError

    args = build_parser().parse_args(argv)
    try:
        settings = Settings.load(args.config)
        return args.handler(args, settings)
    except (SettingsError, LocalDbError, DatabaseUnavailable) as e:
        print(f"fartkoll: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
