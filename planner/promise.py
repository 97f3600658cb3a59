"""The citizen promise, as the public may follow it: what the municipality and the police
promised, the controls held per week at streets citizens sent tips about, and their measured
effect (planner.followup, read for all the controls shown at once by planner.followup.followups_of).

Shown with a delay: a week appears only once it ended at least ``delay_days`` ago, so no
current or future control place or time is ever revealed, and a control only with its day,
never its hour. A control counts for a street when a tip about that street came in before the
control started.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from planner.controls import ControlRow, list_controls
from planner.followup import followups_of
from planner.followupview import EstimateView, followup_view
from planner.load import latest_data_hour, load_sites
from planner.settings import PlannerSettings
from sql import QUERIES

MIN_DELAY_DAYS = 7
"""Never less: the public rules show a control no sooner than a week after it (planner.compare)."""


class PromiseSettings(BaseModel):
    """The citizen promise page: what was promised, and how late the page shows what was done."""

    promised_by: str = "Kommunen och lokalpolisen"
    """Who gave the promise (shown as written)."""
    text_sv: str = ("Vi lovar fler hastighetskontroller på gator där invånare har rapporterat fortkörning, "
                    "och att visa vad kontrollerna gav.")
    text_en: str = ("We promise more speed controls on streets where residents have reported speeding, "
                    "and to show what the controls achieved.")
    controls_per_week: int = Field(1, ge=0, le=50)
    """Controls promised per week at streets with citizen tips."""
    delay_days: int = Field(14, ge=MIN_DELAY_DAYS, le=120)
    """A week is shown once it ended at least this many days ago."""
    weeks: int = Field(12, ge=1, le=104)
    """How many weeks the page lists."""


class PromiseControl(BaseModel):
    """A past control at a street with tips: its day (never its hour) and its measured effect."""

    site_id: int
    site_name: str
    street: str
    day: date
    """The site's local day."""
    during: EstimateView | None
    """Change of the share over the limit during the control (difference in differences)."""
    week_after: EstimateView | None
    """The same one week after."""


class PromiseWeek(BaseModel):
    """One ISO week: the controls at streets with tips, and whether the promise was kept."""

    week: str
    """ISO week, e.g. 2024-W39."""
    first_day: date
    controls: list[PromiseControl]
    kept: bool


class TipStreet(BaseModel):
    street: str
    municipality: str
    tips: int


class Promise(BaseModel):
    """The citizen-promise page's content."""

    promised_by: str
    text_sv: str
    text_en: str
    controls_per_week: int
    delay_days: int
    shown_until: date
    """The last day shown: the end of the last week that ended ``delay_days`` before now (or at the end of the data)."""
    streets: list[TipStreet]
    weeks: list[PromiseWeek]
    weeks_kept: int


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def last_shown_day(now: datetime, delay_days: int, data_end: datetime | None, zone: ZoneInfo) -> date:
    """The Sunday ending the last week shown: it ended ``delay_days`` before ``now`` at the latest
    (and within the data, when the data ends earlier)."""
    cutoff = now.astimezone(zone) - timedelta(days=delay_days)
    if data_end is not None:
        cutoff = min(cutoff, data_end.astimezone(zone))
    return _monday(cutoff.date()) - timedelta(days=1)


def promise(conn: psycopg.Connection, planner: PlannerSettings, settings: PromiseSettings, *, now: datetime,
            time_zone: str) -> Promise:
    """The promise and what was done in the ``settings.weeks`` weeks up to :func:`last_shown_day`."""
    zone = ZoneInfo(time_zone)
    latest = latest_data_hour(conn)
    last = last_shown_day(now, settings.delay_days, None if latest is None else latest + timedelta(hours=1), zone)
    first = last + timedelta(days=1) - timedelta(weeks=settings.weeks)
    data_start = conn.execute(QUERIES["promise_first_hour"]).fetchone()[0]
    if data_start is not None:
        first = max(first, _monday(data_start.astimezone(zone).date()))
    start = datetime.combine(first, time(0), zone)
    before = datetime.combine(last + timedelta(days=1), time(0), zone)
    with conn.cursor(row_factory=dict_row) as cur:
        streets = [TipStreet(street=r["street"], municipality=r["municipality"], tips=r["tips"])
                   for r in cur.execute(QUERIES["promise_tip_streets"], {"before": before}).fetchall()]
        rows = cur.execute(QUERIES["promise_controls"], {"start": start, "before": before}).fetchall()
    wanted = {r["id"]: r for r in rows}
    sites = load_sites(conn) if wanted else {}
    controls: dict[int, ControlRow] = {c.id: c for c in list_controls(conn) if c.id in wanted}
    followed = followups_of(conn, list(controls.values()), planner, sites, latest)
    by_week: dict[date, list[PromiseControl]] = {}
    for cid, r in wanted.items():
        c = controls[cid]
        f = followup_view(followed[cid])
        share = f.effect.share_over_limit if f.effect is not None and f.effect.computed else {}
        day = c.start_time.astimezone(ZoneInfo(r["time_zone"])).date()
        by_week.setdefault(_monday(day), []).append(PromiseControl(
            site_id=c.site_id, site_name=r["site_name"], street=r["street"], day=day,
            during=share.get("during"), week_after=share.get("+1 week")))
    weeks = []
    monday = first
    while monday <= last:
        done = by_week.get(monday, [])
        iso = monday.isocalendar()
        weeks.append(PromiseWeek(week=f"{iso.year}-W{iso.week:02d}", first_day=monday, controls=done,
                                 kept=len(done) >= settings.controls_per_week))
        monday += timedelta(weeks=1)
    weeks.reverse()
    return Promise(promised_by=settings.promised_by, text_sv=settings.text_sv, text_en=settings.text_en,
                   controls_per_week=settings.controls_per_week, delay_days=settings.delay_days, shown_until=last,
                   streets=streets, weeks=weeks, weeks_kept=sum(w.kept for w in weeks))


__all__ = ["MIN_DELAY_DAYS", "Promise", "PromiseControl", "PromiseSettings", "PromiseWeek", "TipStreet",
           "last_shown_day", "promise"]
