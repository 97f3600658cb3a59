"""Sites with their latest figures (last 7 days of data, per direction and display mode)."""

from __future__ import annotations

import math
from datetime import timedelta

from fastapi import APIRouter
from psycopg.rows import dict_row

from planner.stats import Histogram, summarise_histogram
from sql import QUERIES

from ..deps import AppSettings, Conn, Public

router = APIRouter()

DIRECTIONS = {0: "unknown", 1: "approaching", 2: "receding"}
DISPLAYS = {0: "stealth", 1: "display"}
RECENT = timedelta(days=7)
MIN_N = 30


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, 3)


@router.get("/sites")
def list_sites(conn: Conn, settings: AppSettings, who: Public) -> list[dict]:
    cur = conn.cursor(row_factory=dict_row)
    sites = (cur.execute(QUERIES["sites_overview"])).fetchall()
    out = []
    for s in sites:
        figures = []
        if s["last_hour"] is not None:
            end = s["last_hour"] + timedelta(hours=1)
            start = end - RECENT
            lim = (conn.execute(QUERIES["site_limit_since"], {"site_id": s["id"], "at": s["last_hour"]})).fetchone()
            limit = lim[1] if lim else s["limit_kmh"]
            if lim and lim[0] > start:
                start = lim[0]  # never mix two legal limits in one figure
            rounding = ((conn.execute(QUERIES["site_rounding"], {"site_id": s["id"]})).fetchone())[0]
            rows = (cur.execute(
                QUERIES["site_recent_histograms"], {"site_id": s["id"], "start": start, "end": end})).fetchall()
            for r in rows:
                figures.append(_figure(r, limit, rounding, settings.threshold_over_kmh, start, end))
        out.append({
            "id": s["id"], "name": s["name"], "street": s["street"], "municipality": s["municipality"],
            "police_area": s["police_area"], "lat": s["lat"], "lon": s["lon"], "time_zone": s["time_zone"],
            "tags": s["tags"], "limit_kmh": s["limit_kmh"],
            "last_data": s["last_hour"].isoformat() if s["last_hour"] else None,
            "recent": figures,
        })
    return out


def _figure(r: dict, limit: int | None, rounding: str, over_kmh: float, start, end) -> dict:
    fig = {"direction": DIRECTIONS[r["direction"]], "display": DISPLAYS[r["display"]], "n": r["n"],
           "from": start.isoformat(), "to": end.isoformat()}
    if limit is None:
        fig["flags"] = ["no legal limit recorded for this site"]
        return fig
    # psycopg drops an array's lower bound: the query returns it as hist_lo
    h = Histogram.unit(r["hist"], start=r["hist_lo"], rounding=rounding)
    summ = summarise_histogram(h, float(limit), float(limit) + over_kmh, sums=(r["sum_kmh"], r["sumsq_kmh"]))
    fig.update({
        "limit_kmh": limit,
        "mean_kmh": _num(summ.mean),
        "v85_kmh": _num(summ.v85),
        "share_over_limit": _num(summ.over_limit.share),
        "share_over_limit_ci": [_num(summ.over_limit.low), _num(summ.over_limit.high)],
        "share_over_threshold": _num(summ.over_threshold.share),
        "threshold_kmh": summ.threshold_kmh,
        "flags": ["insufficient: fewer than 30 vehicles"] if r["n"] < MIN_N else [],
    })
    return fig
