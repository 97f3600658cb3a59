"""The figures a site's public page shows, gathered once from the use cases, so the page and its
CSV download carry the same numbers over the same period.

Public aggregates only: every use case is called with ``public=True`` (cells under 30 vehicles
withheld), and past controls come from :func:`planner.sitepage.past_followups` with the
settings' delay, on their own page (:mod:`api.pages.site_controls`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import psycopg

from fartkoll.settings import Settings
from planner.compare import DisplayComparison, compare_display
from planner.profile import SiteProfile, site_profile
from planner.siteoverview import MIN_PUBLIC_N
from planner.sitepage import WeeklyTrend, weekly_trend
from planner.sitestats import SiteFigures, SiteStats, site_statistics

from .hourprofile import HourProfile, hour_profiles


@dataclass(frozen=True)
class SiteData:
    stats: SiteStats
    figures: SiteFigures
    first_day: date
    last_day: date
    """The page's period as local days, both inclusive."""
    profiles: list[HourProfile]
    week_profile: SiteProfile
    trend: WeeklyTrend
    display: DisplayComparison


def site_data(conn: psycopg.Connection, settings: Settings, site_id: int) -> SiteData:
    """Every figure of the site page over the site's default period (its latest weeks of data)."""
    planner, over = settings.planner, settings.threshold_over_kmh
    ss, fig = site_statistics(conn, planner, site_id, over_kmh=over)
    tz = ZoneInfo(ss.site.time_zone)
    first = ss.period.start.astimezone(tz).date()
    last = (ss.period.end.astimezone(tz) - timedelta(microseconds=1)).date()
    return SiteData(
        stats=ss, figures=fig, first_day=first, last_day=last,
        profiles=hour_profiles(conn, site_id, ss.site.time_zone, ss.period, min_n=MIN_PUBLIC_N),
        week_profile=site_profile(conn, planner, site_id, public=True, date_from=first, date_to=last),
        trend=weekly_trend(conn, planner, site_id, public=True, end=ss.period.end, over_kmh=over),
        display=compare_display(conn, planner, site_id, public=True, date_from=first, date_to=last, over_kmh=over))


__all__ = ["SiteData", "site_data"]
