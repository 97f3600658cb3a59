"""Elan City SQLite exports: campaigns become deployments, sentinels are skipped, re-imports add nothing."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from collector.importers.elancity import import_elancity, serial_from_filename
from collector.importers.places import Area, ImportFailed
from collector.plausible import TimeRule
from fartkoll.cli import main

AREA = Area("Testkommun", "LPO Test")
T0 = int(datetime(2024, 3, 4, 7, 0, tzinfo=timezone.utc).timestamp())
MAC = "00A0C8123456"
NOW = dict(rule=TimeRule(), received=datetime.now(timezone.utc))


def make_export(path, *, extra_rows=()):
    """A small synthetic export shaped like the real one: two campaigns, one sentinel row."""
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE measure (meas_id INTEGER PRIMARY KEY, meas_date INTEGER, meas_speed TINYINT, meas_direction TINYINT);
        CREATE TABLE campaign (camp_id INTEGER PRIMARY KEY, camp_date_begin INTEGER, camp_date_end INTEGER,
                               camp_title TEXT, camp_comment TEXT);
    """)
    db.execute("INSERT INTO campaign VALUES (1, ?, ?, 'Sutton Road east facing', '')", (T0, T0 + 86400 - 1))
    db.execute("INSERT INTO campaign VALUES (2, ?, ?, 'Mill Lane', '')", (T0 + 2 * 86400, T0 + 3 * 86400 - 1))
    rows = [(1, 0, 0, 2)]                                            # the sentinel
    rows += [(i, T0 + 60 * i, 25 + i % 10, i % 2) for i in range(2, 42)]              # campaign 1: 40 vehicles
    rows += [(i, T0 + 2 * 86400 + 60 * i, 30 + i % 5, 1) for i in range(42, 62)]      # campaign 2: 20 vehicles
    rows += [(62, T0 + 86400 + 3600, 31, 1)]                         # between campaigns
    rows += [(63, T0 + 100, 33, 3)]                                  # impossible direction
    rows += [(64, T0 + 200, 0, 1)]                                   # zero speed, not a sentinel
    rows += list(extra_rows)
    db.executemany("INSERT INTO measure VALUES (?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    return str(path)


@pytest.fixture
def export(tmp_path):
    return make_export(tmp_path / f"{MAC}-ELANCITY_RADAR__.db")


def test_serial_from_filename():
    assert serial_from_filename("/x/00a0c8123456-ELANCITY_RADAR__.db") == MAC
    assert serial_from_filename("/x/export.db") is None


def test_campaigns_become_deployments_and_vehicles_are_stored(db, export):
    s = import_elancity(db, export, **NOW, unit="mph", area=AREA)
    db.commit()
    assert (s.read, s.stored, s.duplicates) == (64, 60, 0)
    assert [str(p) for p in s.skipped] == ["meas_id 1: meas_date|meas_speed|meas_direction='0|0|2': sentinel row, not a vehicle"]
    assert sorted(str(p) for p in s.rejected) == [
        "meas_id 62: meas_date=1709625600: 2024-03-05T08:00:00+00:00 is outside every campaign: give --site to import it",
        "meas_id 63: meas_direction=3: must be 1 (approaching) or 0 (receding)",
        "meas_id 64: meas_speed=0: must be a speed above 0 mph",
    ]
    assert s.created == {"signs": 1, "sites": 2, "deployments": 2}
    assert any("stealth" in n for n in s.notes)
    deps = db.execute("SELECT s.name, d.display, d.valid_from, d.valid_to FROM deployments d JOIN sites s ON s.id = d.site_id "
                      "JOIN signs g ON g.id = d.sign_id WHERE g.serial_number = %s ORDER BY d.valid_from", (MAC,)).fetchall()
    assert [(n, d) for n, d, *_ in deps] == [("Sutton Road east facing", 0), ("Mill Lane", 0)]
    per_site = dict(db.execute("SELECT s.name, count(*) FROM readings r JOIN sites s ON s.id = r.site_id GROUP BY 1").fetchall())
    assert per_site == {"Sutton Road east facing": 40, "Mill Lane": 20}
    # mph → km/h, direction 1 approaching / 0 receding
    v, d = db.execute("SELECT speed_kmh, direction FROM readings ORDER BY time LIMIT 1").fetchone()
    assert v == pytest.approx(27 * 1.609344, rel=1e-6) and d == 2  # meas_id 2: speed 27, direction 0
    assert db.execute("SELECT (SELECT sum(n) FROM rollup_hourly) = (SELECT count(*) FROM readings)").fetchone()[0]


def test_reimport_and_one_site_option(db, export):
    import_elancity(db, export, **NOW, unit="mph", area=AREA)
    db.commit()
    again = import_elancity(db, export, **NOW, unit="mph", area=AREA)
    db.commit()
    assert (again.stored, again.duplicates, again.created) == (0, 60, {})
    assert db.execute("SELECT count(*), (SELECT sum(n) FROM rollup_hourly) FROM readings").fetchone() == (60, 60)


def test_site_option_puts_everything_on_one_site(db, export):
    s = import_elancity(db, export, **NOW, unit="kmh", area=AREA, site="Storgatan 1", display=1)
    db.commit()
    assert (s.stored, len(s.rejected)) == (61, 2)       # the vehicle between campaigns is stored too
    assert db.execute("SELECT count(DISTINCT site_id), min(display) FROM readings").fetchone() == (1, 1)


def test_overlapping_deployment_elsewhere_is_refused_with_names(db, export):
    import_elancity(db, export, **NOW, unit="mph", area=AREA, site="Elsewhere")
    db.commit()
    with pytest.raises(ImportFailed, match=r"campaign 1 'Sutton Road east facing': the sign already has deployment \d+ at site 'Elsewhere'"):
        import_elancity(db, export, **NOW, unit="mph", area=AREA)


def test_cli_end_to_end_reimport_adds_nothing(db_url, export, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["import", "elancity", export, "--unit", "mph", "--municipality", "Testkommun"]) == 0
    out = capsys.readouterr().out
    assert "stored:     60 vehicles" in out and "sentinel row" in out and "display mode: stealth" in out
    assert main(["import", "elancity", export, "--unit", "mph", "--municipality", "Testkommun"]) == 0
    out = capsys.readouterr().out
    assert "stored:     0 vehicles" in out and "duplicates: 60 vehicles" in out
    import psycopg
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*), (SELECT sum(n) FROM rollup_hourly) FROM readings").fetchone() == (60, 60)
        audit = conn.execute("SELECT actor, action, entity, detail->>'stored' FROM audit_log ORDER BY id").fetchall()
        assert audit == [("cli", "import", "elancity", "60"), ("cli", "import", "elancity", "0")]


def test_cli_requires_unit(export, capsys):
    with pytest.raises(SystemExit):
        main(["import", "elancity", export])
    assert "--unit" in capsys.readouterr().err
