"""Toronto WYS mobile summaries: bins into binned_counts once, rows checked and named."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest

from collector.importers.places import Area
from collector.importers.toronto import heading, import_toronto, parse_row
from collector.plausible import TimeRule

EXCERPT = Path(__file__).parent / "fixtures" / "importers" / "toronto_excerpt.csv"
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "toronto" / "wys_mobile_speed_summary.csv"
AREA = Area("Toronto", "Toronto Police Service")
RULE = TimeRule()
NOW = datetime.now(timezone.utc)


def test_excerpt_stores_bins_and_names_bad_rows(db):
    s = import_toronto(db, str(EXCERPT), area=AREA, rule=RULE, received=NOW, limit_kmh=40)
    db.commit()
    assert s.read == 8
    assert [str(p) for p in s.rejected] == [
        "row 7 (_id 392652, line 8): volume='40638': does not equal the sum of spd_00..spd_100_and_above (40631)",
        "row 8 (_id 392653, line 9): spd_40='12x': not a whole number of vehicles",
    ]
    assert [(p.record, p.field) for p in s.skipped] == [("row 5 (_id 392881, line 6)", "volume")]
    total = db.execute("SELECT sum(count), count(DISTINCT site_id) FROM binned_counts WHERE source = 'toronto-wys-mobile'").fetchone()
    assert total == (62162 + 9607 + 38217 + 39498 + 19650, 5)
    assert s.vehicles_stored == total[0] and s.duplicates == 0
    # bins: [XX, XX+5) and an open top; the real row 1 has no vehicles at 0..4 km/h
    hb = db.execute(
        "SELECT speed_lo, speed_hi, count FROM binned_counts b JOIN sites s ON s.id = b.site_id "
        "WHERE s.name = 'Huntingwood Dr WB (Warden Ave – Davisbrook Blvd)' ORDER BY speed_lo").fetchall()
    assert hb[0] == (5.0, 10.0, 860) and hb[-1] == (80.0, 85.0, 3)
    top = db.execute("SELECT speed_lo, speed_hi, count FROM binned_counts WHERE source_key LIKE '15578801|%|0|spd_100_and_above'").fetchone()
    assert top == (100.0, None, 9)
    # period: installation day 00:00 Toronto time to the day after removal (or after max_date)
    per = db.execute("SELECT DISTINCT period_start, period_end FROM binned_counts WHERE source_key LIKE '2875|%'").fetchall()
    assert [(a.isoformat(), b.isoformat()) for a, b in per] == [("2019-03-19T04:00:00+00:00", "2019-04-13T04:00:00+00:00")]
    east = db.execute("SELECT name, time_zone FROM sites WHERE name LIKE 'East Ave%'").fetchone()
    assert east[0].startswith("East Ave SB (") and east[1] == "America/Toronto"
    assert db.execute("SELECT count(*), min(limit_kmh), max(limit_kmh) FROM speed_limits").fetchone() == (5, 40, 40)
    assert db.execute("SELECT DISTINCT m.name FROM sites s JOIN streets st ON st.id = s.street_id "
                      "JOIN municipalities m ON m.id = st.municipality_id").fetchall() == [("Toronto",)]
    # bins never reach the per-vehicle tables
    assert db.execute("SELECT (SELECT count(*) FROM readings), (SELECT count(*) FROM rollup_hourly)").fetchone() == (0, 0)


def test_reimport_stores_nothing_new(db):
    first = import_toronto(db, str(EXCERPT), area=AREA, rule=RULE, received=NOW)
    db.commit()
    again = import_toronto(db, str(EXCERPT), area=AREA, rule=RULE, received=NOW)
    db.commit()
    assert first.stored > 0 and again.stored == 0 and again.duplicates == first.stored
    assert again.created == {}
    assert db.execute("SELECT count(*) FROM speed_limits").fetchone()[0] == 0


def test_headings_and_parse_edge_cases():
    assert [heading(h) for h in ("NB", "SB ", "S/B", "n/b", "", "X")] == ["NB", "SB", "SB", "NB", "", ""]
    row = {"_id": "9", "location_id": "7", "location": "Main St", "direction": "NB", "from_street": "",
           "to_street": "", "installation_date": "0222-03-10", "removal_date": "2022-04-13", "volume": "3",
           "spd_30": "3", "max_date": "2022-04-12T00:00:00"}
    p = parse_row(4, row, RULE, NOW)
    assert str(p) == "row 4 (_id 9): installation_date='0222-03-10': is before the earliest plausible time 2000-01-01 (setting collector.earliest_time): a typing error in the source"
    row["installation_date"] = "2022-05-01"
    assert "before installation_date" in str(parse_row(4, row, RULE, NOW))


@pytest.mark.skipif(not REAL.exists(), reason="real Toronto file not present")
def test_real_file_imports_quickly(toronto_import):
    """The run's one import of the real file into a fresh migrated database (tests/toronto_shared.py)."""
    s = toronto_import
    print(f"\nreal Toronto file: {s.read} rows, {s.stored} bins, {s.vehicles_stored} vehicles in {s.seconds:.1f} s")
    assert s.path == str(REAL)
    assert s.read == 12155
    assert s.seconds < 60
    with psycopg.connect(s.url) as db:
        assert s.stored + s.duplicates == db.execute("SELECT count(*) FROM binned_counts").fetchone()[0]
        assert s.read == s.rejected + s.skipped + db.execute(
            "SELECT count(DISTINCT regexp_replace(source_key, '\\|[^|]*$', '')) FROM binned_counts").fetchone()[0]


def test_migration_0007_rekeys_bins_stored_under_location_id_keys(db):
    first = import_toronto(db, str(EXCERPT), area=AREA, rule=RULE, received=NOW)
    db.execute("UPDATE binned_counts SET source_key = split_part(source_key, '|', 1) || ':' || split_part(source_key, '|', 5)")
    assert db.execute("SELECT count(*) FROM binned_counts WHERE source_key LIKE '%|%'").fetchone()[0] == 0
    db.execute((Path(__file__).parents[1] / "sql" / "migrations" / "0007_import_keys.sql").read_text())
    db.commit()
    again = import_toronto(db, str(EXCERPT), area=AREA, rule=RULE, received=NOW)
    db.commit()
    assert (again.stored, again.duplicates) == (0, first.stored)
