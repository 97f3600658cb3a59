"""A row layout of Toronto's "Watch Your Speed" speed summaries (wys_mobile_speed_summary.csv):
one row per direction × display mode × legal limit over the period, with the city's columns.

``spd_XX`` counts vehicles in [XX, XX+5) km/h (stored speeds of whole-km/h signs; for a rounding
sign the stored 1 km/h bins are grouped by stored speed), ``spd_100_and_above`` v >= 100, and the
bins add up to ``volume``. ``pct_XX`` are count-weighted percentiles of the 1 km/h rollups with
true bin edges. ``direction`` carries our direction name (approaching, receding, unknown) where
the city writes a compass heading; ``location_id`` is the site id, ``location`` the street;
``limit_kmh`` (ours) is the legal limit as posted, in km/h (30 mph: 48.28032).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from psycopg.rows import dict_row

from planner.histogram_view import rebin
from planner.names import DIRECTIONS, DISPLAYS
from planner.percentiles import histogram_percentile
from planner.series import PUBLIC_MIN_VEHICLES, HourRow, load_hours, site_window, sum_hist
from planner.settings import PlannerSettings
from planner.stats import KMH_PER_UNIT, ROUNDING_OFFSET_KMH
from sql import QUERIES

PCTS = tuple(range(5, 100, 5))
SPD = tuple(range(0, 100, 5))
COLUMNS = ("_id", "location_id", "ward_no", "location", "from_street", "to_street", "direction",
           "installation_date", "removal_date", "schedule", "min_speed",
           *(f"pct_{p:02d}" for p in PCTS), *(f"spd_{s:02d}" for s in SPD), "spd_100_and_above",
           "volume", "days_with_data", "max_date", "display", "limit_kmh")


def bins_5kmh(counts: np.ndarray, lo: int) -> list[int]:
    """spd_00 … spd_95 and spd_100_and_above from 1 km/h counts starting at stored speed ``lo``."""
    c5, first = rebin(counts, lo, 5)
    out = [0] * 21
    for i, c in enumerate(c5):
        k = min((first + 5 * i) // 5, 20)
        out[k] += int(c)
    return out


def render(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, *, public: bool,
           date_from: date | None = None, date_to: date | None = None) -> str:
    w = site_window(conn, planner, site_id, date_from=date_from, date_to=date_to)
    tz = ZoneInfo(w.site.time_zone)
    groups: dict[tuple[int, int, int | None], list[HourRow]] = defaultdict(list)
    for r in load_hours(conn, w):
        groups[(r.direction, r.display, r.limit_kmh)].append(r)
    posted = posted_kmh(conn, site_id)
    out = io.StringIO()
    wr = csv.writer(out, lineterminator="\n")
    wr.writerow(COLUMNS)
    offset = ROUNDING_OFFSET_KMH.get(w.rounding, 0.0)
    row_id = 0
    for (d, m, lim), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)):
        counts, lo = sum_hist(rows)
        volume = int(counts.sum())
        if public and volume < PUBLIC_MIN_VEHICLES:
            continue
        lower = lo + np.arange(len(counts), dtype=np.float64) + offset
        pcts = [float(histogram_percentile(counts.astype(np.float64), lower, np.ones_like(lower), p / 100))
                for p in PCTS]
        days = sorted({r.hour.astimezone(tz).date() for r in rows})
        row_id += 1
        wr.writerow([row_id, w.site.id, "", w.site.street, "", "", DIRECTIONS[d], days[0].isoformat(),
                     days[-1].isoformat(), "", "", *(round(p, 1) for p in pcts),
                     *(c if c else "" for c in bins_5kmh(counts, lo)), volume, len(days),
                     f"{days[-1].isoformat()}T00:00:00", DISPLAYS[m], "" if lim is None else posted.get(lim, lim)])
    return out.getvalue()


def posted_kmh(conn: psycopg.Connection, site_id: int) -> dict[int, int | float]:
    """The site's limits as posted in km/h (30 mph: 48.28032), by the rollups' whole-km/h key;
    a key posted twice (48 km/h, later 30 mph) gives the later posting."""
    out: dict[int, int | float] = {}
    for r in conn.cursor(row_factory=dict_row).execute(QUERIES["figures_site_limits"], {"site_id": site_id}):
        exact = r["posted_value"] * KMH_PER_UNIT[r["posted_unit"]]
        out[int(r["limit_kmh"])] = int(exact) if exact == int(exact) else round(exact, 5)
    return out
