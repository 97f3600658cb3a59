"""Rollups fed by binned imports (Traffic Logix) are consistent, and a repair keeps them."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from collector.importers.places import Area
from collector.importers.trafficlogix import file_bodies, import_bodies
from collector.plausible import TimeRule
from planner.jobs.consistency import check_rollups, repair_rollups

DAY = Path(__file__).parent / "fixtures" / "importers" / "trafficlogix_day.json"


def _rollup_n(db) -> int:
    return db.execute("SELECT coalesce(sum(n), 0) FROM rollup_hourly").fetchone()[0]


def test_binned_rollups_are_neither_flagged_nor_dropped_by_repair(db):
    import_bodies(db, file_bodies(str(DAY), json.loads(DAY.read_text())), tz="America/Toronto",
                  area=Area("Toronto", "Toronto Police Service"), rule=TimeRule(),
                  received=datetime.now(timezone.utc))
    db.commit()
    binned = db.execute("SELECT sum(count) FROM binned_counts WHERE in_rollups").fetchone()[0]
    assert binned and _rollup_n(db) == binned  # no readings: every rolled-up vehicle came from bins
    start, end = datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc)
    assert check_rollups(db, start, end).ok
    db.execute("UPDATE rollup_hourly SET n = n + 1 WHERE hour = (SELECT min(hour) FROM rollup_hourly)")
    report = repair_rollups(db, start, end)
    assert not report.ok and report.repaired
    db.commit()
    assert _rollup_n(db) == binned and check_rollups(db, start, end).ok
