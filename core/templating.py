"""The one way HTML is made: a Jinja2 environment (autoescaped, strict) over packages' ``templates``
folders, and the helpers every template gets in its language.

The pages (``api/pages``) and the printed documents (``planner/report``, the printable plan) use
this same factory, so a number, a share or a local time reads the same on screen, on paper and in
the PDF, and every text comes from the one catalogue in ``core/i18n``.
"""

from __future__ import annotations

import math
import os
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader, StrictUndefined, select_autoescape

from . import i18n


@cache
def environment(*folders: str | os.PathLike[str]) -> Environment:
    """Templates from each folder (a package's ``templates``, found from its own ``__file__``), the
    first folder that has a name winning; autoescaped (``.html``, ``.svg``), and an undefined name
    is an error, not an empty string. Compiled templates are kept as bytecode in the user's
    temporary folder (Jinja2's ``FileSystemBytecodeCache``, keyed by each source's checksum), so
    each process compiles a template from its source once per change, not once per start."""
    if not folders:
        raise ValueError("environment() needs at least one templates folder")
    missing = [str(f) for f in folders if not Path(f).is_dir()]
    if missing:
        raise ValueError(f"templates folder {missing[0]} does not exist")
    return Environment(loader=FileSystemLoader([str(f) for f in folders]),
                       autoescape=select_autoescape(["html", "svg"]), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, bytecode_cache=FileSystemBytecodeCache())


def compile_all(env: Environment) -> int:
    """Compile every template of the environment now (from the bytecode cache where it has one),
    so no request or report pays for it; returns how many."""
    names = env.list_templates(extensions=("html", "svg", "css"))
    for name in names:
        env.get_template(name)
    return len(names)


def local_time(t: datetime, time_zone: str) -> str:
    """An aware instant as the site's local date and time with its zone: ``2024-10-15 07:30 CEST``."""
    if t.tzinfo is None:
        raise ValueError(f"datetime {t.isoformat()} has no time zone; pass an aware datetime")
    return t.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m-%d %H:%M %Z")


def signed(x: float | None, lang: i18n.Lang, digits: int = 1) -> str:
    """A signed figure such as a change in percentage points: ``+4,2``, ``−1,0`` (sv), ``-1.0`` (en)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    body = i18n.number(abs(x), lang, digits)
    if body.strip("0,. \u202f") == "":
        return body
    return ("+" if x > 0 else ("−" if lang == "sv" else "-")) + body


def helpers(lang: i18n.Lang, time_zone: str | None = None) -> dict[str, Any]:
    """What every template is rendered with: ``t`` (the catalogue), ``num``, ``pct``, ``signed``,
    ``plural`` (``key_1`` for one, else ``key_n`` with ``n``), and with a zone ``local`` (an
    instant in local time with its zone) and ``day`` (a date as ISO 8601)."""
    t = i18n.translator(lang)

    def plural(key: str, n: int, **fields: object) -> str:
        return t(f"{key}_1", **fields) if n == 1 else t(f"{key}_n", n=n, **fields)

    out: dict[str, Any] = {
        "t": t, "lang": lang, "other_lang": "en" if lang == "sv" else "sv",
        "num": lambda x, digits=1: i18n.number(x, lang, digits),
        "pct": lambda x, digits=0: i18n.percent(x, lang, digits),
        "signed": lambda x, digits=1: signed(x, lang, digits),
        "plural": plural,
        "day": lambda d: d.isoformat() if isinstance(d, date) else "–",
    }
    if time_zone is not None:
        out["local"] = lambda moment: local_time(moment, time_zone)
        out["time_zone"] = time_zone
    return out


def render(env: Environment, template: str, lang: i18n.Lang, time_zone: str | None = None, **context: Any) -> str:
    """``template`` rendered in ``lang`` with the helpers and ``context`` (context wins on a clash)."""
    return env.get_template(template).render({**helpers(lang, time_zone), **context})

