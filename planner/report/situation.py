"""The situation-picture use case: one week's picture gathered (``data``) and rendered
(``render``), for the CLI's ``planner report``, the scheduled report job and the API alike.
``SITUATION`` is its typed JSON shape (``planner report --json``)."""

from __future__ import annotations

from datetime import datetime

import psycopg
from pydantic import TypeAdapter

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


def situation_html(pic: SituationPicture, lang: str, over_kmh: float = 6.0) -> str:
    """The printable page in Swedish ('sv') or English ('en')."""
    return render_html(pic, lang, over_kmh)
