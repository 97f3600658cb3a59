"""The sites overview: every site with its place, current limit and its latest figures (the last
7 days of its own data, per direction × display mode × legal limit), computed by the same
:func:`planner.sitestats.site_stats` as ``fartkoll stats`` (thresholds by police area), from rows
read for all sites at once (:func:`planner.recentstats.sites_stats`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from planner.load import Period, load_sites
from planner.names import DirectionName, DisplayName
from planner.recentstats import sites_stats
from planner.settings import PlannerSettings
from planner.sitestats import ShareView, figures
from planner.stats import KMH_PER_UNIT
from sql import QUERIES

RECENT = timedelta(days=7)
MIN_PUBLIC_N = 30
"""Fewer vehicles than this in a group: its figures are withheld from the overview (public)."""


class RecentFigures(BaseModel):
    """One direction × display mode × limit over the site's last 7 days of data. Figures are null
    when fewer than 30 vehicles were measured (the warnings say so)."""

    source: str
    """vehicles (hourly rollups) or binned (pre-binned counts)."""
    direction: DirectionName
    display: DisplayName | None
    limit_kmh: float | None
    """null: no legal limit recorded (the warnings say how to record one)."""
    limit_posted: str | None
    n: int
    mean_kmh: float | None
    v85_kmh: float | None
    threshold_kmh: float | None
    over_limit: ShareView | None
    over_threshold: ShareView | None
    warnings: list[str]


class SiteSummary(BaseModel):
    id: int
    name: str
    street: str
    municipality: str
    police_area: str
    lat: float | None
    lon: float | None
    time_zone: str
    tags: list[str]
    limit_kmh: float | None
    """The standing legal limit in force now, in km/h exactly as posted (null: none recorded)."""
    limit_posted: str | None
    """The standing limit as posted, e.g. "30 mph"."""
    last_data: datetime | None
    """End of the site's latest data (the hour after its last rollup, or its last binned record's end)."""
    recent_from: datetime | None
    recent_to: datetime | None
    recent: list[RecentFigures]
    notes: list[str]


def sites_overview(conn: psycopg.Connection, planner: PlannerSettings, *, over_kmh: float = 6.0) -> list[SiteSummary]:
    """Every site, by municipality and name, with its recent figures."""
    infos = load_sites(conn)
    listed = conn.cursor(row_factory=dict_row).execute(QUERIES["sites_overview"]).fetchall()
    periods = {s["id"]: Period(s["last_hour"] - RECENT, s["last_hour"]) for s in listed if s["last_hour"] is not None}
    stats = sites_stats(conn, [infos[i] for i in periods], periods, planner, over_kmh=over_kmh)
    out = []
    for s in listed:
        recent: list[RecentFigures] = []
        notes: list[str] = []
        start = end = None
        if s["last_hour"] is not None:
            start, end = periods[s["id"]].start, periods[s["id"]].end
            fig = figures(stats[s["id"]])
            notes = fig.notes
            for g in fig.groups:
                enough = g.n >= MIN_PUBLIC_N
                recent.append(RecentFigures(
                    source=g.source, direction=g.direction, display=g.display, limit_kmh=g.limit_kmh,
                    limit_posted=g.limit_posted, n=g.n,
                    mean_kmh=g.mean_kmh if enough else None, v85_kmh=g.v85_kmh if enough else None,
                    threshold_kmh=g.threshold_kmh, over_limit=g.over_limit if enough else None,
                    over_threshold=g.over_threshold if enough else None, warnings=g.warnings))
        out.append(SiteSummary(
            id=s["id"], name=s["name"], street=s["street"], municipality=s["municipality"],
            police_area=s["police_area"], lat=s["lat"], lon=s["lon"], time_zone=s["time_zone"],
            tags=list(s["tags"] or []), last_data=s["last_hour"],
            limit_kmh=None if s["posted_value"] is None else s["posted_value"] * KMH_PER_UNIT[s["posted_unit"]],
            limit_posted=None if s["posted_value"] is None
            else f"{s['posted_value']} {'km/h' if s['posted_unit'] == 'kmh' else s['posted_unit']}",
            recent_from=start, recent_to=end, recent=recent, notes=notes))
    return out
