"""What the set-up commands (site, limit, sign, token, tip) share: who the audit log names, one
transaction per command, errors as messages with their exit codes, and output as text or as the
same JSON the API answers."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from pydantic import BaseModel, TypeAdapter

from core.errors import FartkollError

from ..settings import Settings

Result = BaseModel | list[BaseModel]


def actor() -> str:
    """The audit log's actor for a command typed at this machine: ``cli:<OS user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):        # no user name for this uid (e.g. in a bare container)
        return "cli:unknown"


def run(command: str, settings: Settings, use_case: Callable[[psycopg.Connection], Result], *, as_json: bool,
        text: Callable[[Any], str] | None = None) -> int:
    """Run ``use_case`` in one transaction (committed when it returns), print what it returned
    (``--json``: the API's JSON), and turn a domain error into its message and exit code."""
    from ..db import connect

    try:
        with connect(settings) as conn:
            result = use_case(conn)
            conn.commit()
    except FartkollError as e:
        print(f"fartkoll {command}: {e}", file=sys.stderr)
        return e.exit_code
    if as_json:
        print(to_json(result))
    else:
        print(text(result) if text else format_text(result))
    return 0


def to_json(result: Result) -> str:
    """The JSON of a result, as FastAPI serialises the same model."""
    data = TypeAdapter(Any).dump_python(result, mode="json")
    return json.dumps(data, indent=2, ensure_ascii=False)


def local(v: datetime, tz: str | None) -> str:
    """An instant as a person reads it: local time of ``tz`` with the zone's abbreviation."""
    if tz is None:
        return v.isoformat(timespec="seconds")
    return v.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def _value(v: Any, tz: str | None = None) -> str:
    if v is None:
        return "-"
    if isinstance(v, datetime):
        return local(v, tz)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, list):
        return ", ".join(_value(x, tz) for x in v) or "-"
    return str(v)


def format_text(result: Result, tz: str | None = None) -> str:
    """A model as ``field: value`` lines (nested models indented), a list as one such block each.
    Times are shown in the model's ``time_zone`` when it has one (else ``tz``, else UTC)."""
    if isinstance(result, list):
        return "\n\n".join(format_text(r, tz) for r in result) if result else "(none)"
    tz = getattr(result, "time_zone", None) or tz
    lines: list[str] = []
    for name, v in result:
        if isinstance(v, BaseModel):
            lines.append(f"{name}:")
            lines += ["  " + line for line in format_text(v, tz).splitlines()]
        elif isinstance(v, list) and v and isinstance(v[0], BaseModel):
            lines.append(f"{name}:")
            lines += ["  " + line for line in table(v, list(type(v[0]).model_fields), tz).splitlines()]
        else:
            lines.append(f"{name}: {_value(v, tz)}")
    return "\n".join(lines)


def table(rows: list[BaseModel], columns: list[str], tz: str | None = None) -> str:
    """Rows as an aligned table of the named fields (times in each row's time zone, else ``tz``)."""
    if not rows:
        return "(none)"
    cells = [[_value(getattr(r, c), getattr(r, "time_zone", None) or tz) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False))]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)) for row in cells]
    return "\n".join(line.rstrip() for line in out)

