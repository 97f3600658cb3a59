"""Exports of a site's figures for people and outside tools: CSV and JSON of the hourly series, a
row layout of Toronto's Watch Your Speed summaries and an hourly layout of Telraam's traffic
reports. ``GET /api/v1/sites/{id}/export`` and ``fartkoll export`` both call :func:`export_site`."""

from __future__ import annotations

from datetime import date
from typing import Literal

import psycopg
from pydantic import BaseModel

from planner.load import LoadError
from planner.settings import PlannerSettings

from . import series_csv, telraam, toronto

Format = Literal["csv", "json", "toronto", "telraam"]
FORMATS: tuple[str, ...] = ("csv", "json", "toronto", "telraam")


class ExportFile(BaseModel):
    """One export: its text, media type and a file name for downloads."""

    format: Format
    media_type: str
    filename: str
    content: str


def export_site(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, fmt: str, *, public: bool,
                date_from: date | None = None, date_to: date | None = None, over_kmh: float = 6.0) -> ExportFile:
    """The export use case: the site's figures in the layout ``fmt``."""
    from planner.series import site_series

    if fmt not in FORMATS:
        raise LoadError(f"format {fmt!r} is not one of {list(FORMATS)}",
                        errors=[{"record": None, "field": "format", "value": fmt,
                                 "reason": f"not one of {list(FORMATS)}"}])
    kw = {"public": public, "date_from": date_from, "date_to": date_to, "over_kmh": over_kmh}
    if fmt in ("csv", "json"):
        s = site_series(conn, planner, site_id, **kw)
        if fmt == "json":
            return ExportFile(format="json", media_type="application/json", filename=f"site-{site_id}-series.json",
                              content=s.model_dump_json(by_alias=True, indent=1))
        return ExportFile(format="csv", media_type="text/csv; charset=utf-8", filename=f"site-{site_id}-series.csv",
                          content=series_csv.render(s))
    if fmt == "toronto":
        return ExportFile(format="toronto", media_type="text/csv; charset=utf-8",
                          filename=f"site-{site_id}-wys-summary.csv",
                          content=toronto.render(conn, planner, site_id, public=public, date_from=date_from,
                                                 date_to=date_to))
    return ExportFile(format="telraam", media_type="text/csv; charset=utf-8", filename=f"site-{site_id}-telraam.csv",
                      content=telraam.render(conn, planner, site_id, public=public, date_from=date_from,
                                             date_to=date_to))


__all__ = ["FORMATS", "ExportFile", "export_site"]
