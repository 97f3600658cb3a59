"""An hourly layout of Telraam's traffic reports: one row per UTC hour of the period (and display
mode present), with Telraam's column names.

A radar sign counts motor vehicles without classes: all of them are ``car`` (``heavy``, ``bike``
and ``pedestrian`` are empty: not measured). ``car_lft`` are vehicles approaching the sign,
``car_rgt`` receding ones (unknown direction: in ``car`` only). ``uptime`` is the share of the
hour the site's signs measured (empty: no coverage record); ``v85`` covers both directions;
``car_speed_hist_0to120plus`` gives 25 bins of 5 km/h (the last 120+) and
``car_speed_hist_0to70plus`` 8 bins of 10 km/h (the last 70+), in percent of the hour's vehicles.
An hour without data has empty counts, never 0. Anonymous readers: an hour under 30 vehicles has
empty figures too.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date, datetime

import numpy as np
import psycopg

from planner.histogram_view import rebin
from planner.names import DISPLAYS
from planner.series import (
    HOUR,
    PUBLIC_MIN_VEHICLES,
    HourRow,
    _num,
    load_coverage,
    load_hours,
    site_window,
    sum_hist,
    v85_of,
)
from planner.settings import PlannerSettings

COLUMNS = ("instance_id", "segment_id", "date", "interval", "uptime", "heavy", "car", "bike", "pedestrian",
           "heavy_lft", "heavy_rgt", "car_lft", "car_rgt", "bike_lft", "bike_rgt", "pedestrian_lft",
           "pedestrian_rgt", "direction", "timezone", "v85", "car_speed_hist_0to70plus",
           "car_speed_hist_0to120plus", "display")


def percent_bins(counts: np.ndarray, lo: int, width: int, last: int) -> list[float]:
    """Percent of vehicles per ``width`` km/h bin from 0, the bin ``last`` open at the top."""
    c, first = rebin(counts, lo, width)
    out = np.zeros(last + 1)
    for i, k in enumerate(c):
        out[min((first + width * i) // width, last)] += k
    total = out.sum()
    return [round(float(x) * 100 / total, 3) for x in out] if total else [0.0] * (last + 1)


def render(conn: psycopg.Connection, planner: PlannerSettings, site_id: int, *, public: bool,
           date_from: date | None = None, date_to: date | None = None) -> str:
    w = site_window(conn, planner, site_id, date_from=date_from, date_to=date_to)
    coverage = load_coverage(conn, w)
    by_hour: dict[int, dict[datetime, list[HourRow]]] = defaultdict(lambda: defaultdict(list))
    for r in load_hours(conn, w):
        by_hour[r.display][r.hour].append(r)
    out = io.StringIO()
    wr = csv.writer(out, lineterminator="\n")
    wr.writerow(COLUMNS)
    modes = sorted(by_hour) or [None]
    for m in modes:
        hours = by_hour.get(m, {})
        t = w.period.start
        while t < w.period.end:
            rows = hours.get(t, [])
            minutes = coverage.get(t)
            uptime = "" if minutes is None else round(minutes / 60, 4)
            n = sum(r.n for r in rows)
            if rows and not (public and n < PUBLIC_MIN_VEHICLES):
                counts, lo = sum_hist(rows)
                v85 = v85_of(counts, lo, w.rounding)
                lft = sum(r.n for r in rows if r.direction == 1)
                rgt = sum(r.n for r in rows if r.direction == 2)
                cells: list[object] = [n, lft, rgt, _num(v85, 2), json.dumps(percent_bins(counts, lo, 10, 7)),
                         json.dumps(percent_bins(counts, lo, 5, 24))]
            elif minutes and not rows:
                cells = [0, 0, 0, "", "", ""]
            else:
                cells = ["", "", "", "", "", ""]
            car, lft, rgt, v85c, h70, h120 = cells
            wr.writerow([site_id, site_id, t.strftime("%Y-%m-%d %H:%M:%S+00:00"), "hourly", uptime, "", car, "", "",
                         "", "", lft, rgt, "", "", "", "", "both", w.site.time_zone, v85c, h70, h120,
                         "" if m is None else DISPLAYS[m]])
            t += HOUR
    return out.getvalue()
