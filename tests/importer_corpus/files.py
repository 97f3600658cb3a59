"""Valid inputs of each importer, written to a folder, and a runner of the real CLI that
returns exit code, stdout and stderr (any exception escaping the CLI fails the test)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from fartkoll.cli import main

T0 = int(datetime(2024, 3, 4, 7, 0, tzinfo=timezone.utc).timestamp())
MAC = "00A0C8ABCDEF"
TORONTO_HEADER = ("_id,location_id,ward_no,location,from_street,to_street,direction,installation_date,removal_date,"
                  "schedule,min_speed," + ",".join(f"spd_{lo:02d}" for lo in range(0, 100, 5))
                  + ",spd_100_and_above,volume,days_with_data,max_date")


def csv_text(rows: list[tuple[str, str, str]]) -> str:
    """A per-vehicle CSV (time, speed, direction) for ``import csv --direction-col direction``."""
    return "time,speed,direction\n" + "".join(f"{t},{v},{d}\n" for t, v, d in rows)


CSV_ROWS = [("2024-05-06T07:00:01+00:00", "42.5", "approaching"), ("2024-05-06T07:00:09+00:00", "38", "receding"),
            ("2024-05-06T07:00:09+00:00", "38", "receding"),       # a second, equal-looking vehicle
            ("2024-05-06T07:01:00+00:00", "51.3", "approaching")]


def toronto_row(_id: int, location_id: str, *, installed: str = "2019-03-19", removed: str = "2019-04-12",
                bins: dict[int, str] | None = None, volume: str | None = None, direction: str = "NB") -> str:
    """One row of wys_mobile_speed_summary.csv with the given bins (lower bound → count)."""
    bins = bins if bins is not None else {30: "10", 35: "5"}
    cells = [bins.get(lo, "") for lo in range(0, 100, 5)] + [bins.get(100, "")]
    if volume is None:
        volume = str(sum(int(c) for c in cells if c.strip().isdigit()))
    return ",".join([str(_id), location_id, "1", "Main St", "King St", "Queen St", direction, installed, removed,
                     "", "5", *cells, volume, "20", f"{removed}T00:00:00"])


def toronto_text(rows: list[str]) -> str:
    return TORONTO_HEADER + "\n" + "".join(r + "\n" for r in rows)


def elancity_export(path: Path, rows: list[tuple] | None = None, *, campaign_sql: str | None = None) -> Path:
    """An Elan City export with one campaign over a day and 30 vehicles (or ``rows``)."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE measure (meas_id INTEGER PRIMARY KEY, meas_date INTEGER, meas_speed TINYINT, meas_direction TINYINT)")
    db.executescript(campaign_sql or "CREATE TABLE campaign (camp_id INTEGER PRIMARY KEY, camp_date_begin INTEGER, "
                     "camp_date_end INTEGER, camp_title TEXT, camp_comment TEXT)")
    if campaign_sql is None:
        db.execute("INSERT INTO campaign VALUES (1, ?, ?, 'Sutton Road', '')", (T0, T0 + 86400 - 1))
    rows = rows if rows is not None else [(i, T0 + 60 * i, 25 + i % 10, i % 2) for i in range(1, 31)]
    db.executemany("INSERT INTO measure VALUES (?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    return path


def trafficlogix_body(counters: list[dict] | None = None, stamp: str = "2018-10-29 10:00:00") -> dict:
    return {"LocInfo": {"Location": {"geocode": "(43.66,-79.37)", "address": "Dundas St W",
                                     "name": "Dundas St W SB 16101191"},
                        "raw_records": [{"datetime": stamp, "counter": counters if counters is not None else
                                         [{"speed": 47, "count": 2}, {"speed": 52, "count": 1}]}]}}


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """``fartkoll`` with ``argv``: (exit code, stdout, stderr)."""
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def counts(db_url: str) -> dict[str, int]:
    """Rows in the tables an import writes (and the places it may create)."""
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM readings) AS readings, (SELECT count(*) FROM binned_counts) AS binned, "
            "(SELECT count(*) FROM sites) AS sites, (SELECT count(*) FROM signs) AS signs, "
            "(SELECT count(*) FROM deployments) AS deployments, (SELECT count(*) FROM streets) AS streets, "
            "(SELECT count(*) FROM municipalities) AS municipalities").fetchone()
    return dict(zip(["readings", "binned", "sites", "signs", "deployments", "streets", "municipalities"], row, strict=False))
