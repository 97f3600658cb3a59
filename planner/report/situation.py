"""The situation-picture use case: one week's picture gathered (``data``) and rendered
(``render``), for the CLI's ``planner report``, the scheduled report job and the API alike.
``SITUATION`` is its typed JSON shape (``planner report --json``)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import psycopg
from pydantic import TypeAdapter

from core.errors import InvalidInput
from planner.settings import PlannerSettings

from .data import gather
from .model import SituationPicture, Week
from .render import render_html

SITUATION = TypeAdapter(SituationPicture)


def situation_picture(conn: psycopg.Connection, planner: PlannerSettings, *, now: datetime, time_zone: str,
                      week: str | None = None, over_kmh: float = 6.0, silent_hours: float = 6.0) -> SituationPicture:
    """The picture of ``week`` ('2024-W44', '44'; default: the last complete week) as known at ``now``."""
    wk = Week.parse(week, now, time_zone) if week else Week.last_complete(now, time_zone)
    return gather(conn, wk, planner, now=now, over_kmh=over_kmh, silent_hours=silent_hours)


def situation_html(pic: SituationPicture, lang: str, over_kmh: float = 6.0, stylesheet: str | None = None) -> str:
    """The printable page in Swedish ('sv') or English ('en'); ``stylesheet``: a URL to link the
    style from instead of inlining it (a page served under a policy without inline style)."""
    return render_html(pic, lang, over_kmh, stylesheet)


OUTPUTS = {".html": "html", ".htm": "html", ".pdf": "pdf"}


class OutputError(InvalidInput):
    """The output file's extension is not one the situation picture is written as."""


def output_format(path: str | os.PathLike[str]) -> str:
    """'html' or 'pdf' from the file name; any other extension is refused, naming the file."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUTS:
        raise OutputError(f"--out {str(path)!r}: the situation picture is written as .html or .pdf, "
                          f"not {suffix or 'a file without extension'}",
                          errors=[{"record": None, "field": "out", "value": str(path),
                                   "reason": "extension must be .html, .htm or .pdf"}])
    return OUTPUTS[suffix]
