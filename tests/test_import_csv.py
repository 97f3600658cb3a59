"""Generic per-vehicle CSV: options for columns, unit, time zone and decimal comma; bad rows named."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from places import deploy, make_sign, make_site

from collector.importers.csvfile import CsvOptions, direction_map, import_csv
from collector.importers.places import ImportFailed
from collector.plausible import TimeRule
from fartkoll.cli import main

RULE = TimeRule()
NOW = datetime.now(timezone.utc)

SWEDISH = """tid;hastighet;riktning;längd
2024-05-06 07:00:01;42,5;A;4,2
2024-05-06 07:00:09;38,0;C;
2024-05-06 07:01:00;fyrtio;A;4,0
2024-05-06 07:02:00;51,3;X;4,1
06/05/2024;44,0;A;4,3
2024-05-06 07:03:00;0;A;4,4
2024-05-06T05:04:00+00:00;47,25;A;
"""


def _opts(**kw):
    base = dict(unit="kmh", time_col="tid", speed_col="hastighet", direction_col="riktning", length_col="längd",
                tz="Europe/Stockholm", decimal_comma=True, directions=direction_map("A=approaching,C=receding"))
    return CsvOptions(**{**base, **kw})


def test_options_and_rejections_by_line_column_value(db, tmp_path):
    make_site(db, "Storgatan 12")
    f = tmp_path / "passes.csv"
    f.write_text(SWEDISH, encoding="utf-8")
    s = import_csv(db, str(f), _opts(), rule=RULE, received=NOW, site="Storgatan 12")
    db.commit()
    assert (s.read, s.stored, s.duplicates) == (7, 3, 0)
    assert [str(p) for p in s.rejected] == [
        "line 4: hastighet='fyrtio': not a number (kmh)",
        "line 5: riktning='X': not a known direction token ('approaching', 'receding', 'unknown', '+', '-', 'a', 'c'); map it with --direction-map",
        "line 6: tid='06/05/2024': not a time (iso)",
        "line 7: hastighet='0': is 0 km/h as stored (float32): must be above 0 and below 300 km/h (kmh in the file)",
    ]
    rows = db.execute("SELECT time, speed_kmh, direction, length_m, display FROM readings ORDER BY time").fetchall()
    assert rows[0][0] == datetime(2024, 5, 6, 5, 0, 1, tzinfo=timezone.utc)        # local CEST → UTC
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        (42.5, 1, pytest.approx(4.2), 0), (38.0, 2, None, 0), (47.25, 1, None, 0)]
    assert any("stealth" in n for n in s.notes)
    assert db.execute("SELECT (SELECT sum(n) FROM rollup_hourly) = (SELECT count(*) FROM readings)").fetchone()[0]
    again = import_csv(db, str(f), _opts(), rule=RULE, received=NOW, site="Storgatan 12")
    db.commit()
    assert (again.stored, again.duplicates) == (0, 3)


def test_sign_gives_site_and_mph(db, tmp_path):
    site = make_site(db, "Ringvägen 3")
    sign = make_sign(db, "SN-9")
    deploy(db, sign, site, datetime(2024, 1, 1, tzinfo=timezone.utc), display=1)
    f = tmp_path / "p.csv"
    f.write_text("when,mph\n1714978800,30\n1714978860,25\n", encoding="utf-8")
    s = import_csv(db, str(f), CsvOptions(unit="mph", time_col="when", speed_col="mph", time_format="unix"), rule=RULE, received=NOW, sign="SN-9")
    db.commit()
    assert s.stored == 2
    assert db.execute("SELECT min(site_id), min(display), max(speed_kmh) FROM readings").fetchone() == (
        site, 1, pytest.approx(30 * 1.609344, rel=1e-6))


def test_missing_column_and_naive_time_without_tz(db, tmp_path):
    make_site(db, "Storgatan 12")
    db.commit()
    f = tmp_path / "p.csv"
    f.write_text("time,speed\n2024-05-06 07:00:00,40\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="no column 'v'.*the header has 'time', 'speed'"):
        import_csv(db, str(f), CsvOptions(unit="kmh", speed_col="v"), rule=RULE, received=NOW, site="Storgatan 12")
    db.rollback()
    s = import_csv(db, str(f), CsvOptions(unit="kmh"), rule=RULE, received=NOW, site="Storgatan 12")
    assert [str(p) for p in s.rejected] == ["line 2: time='2024-05-06 07:00:00': has no UTC offset: give --tz"]


def test_cli_csv(db_url, db, tmp_path, monkeypatch, capsys):
    make_site(db, "Storgatan 12")
    db.commit()
    f = tmp_path / "p.csv"
    f.write_text(SWEDISH, encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", db_url)
    argv = ["import", "csv", str(f), "--unit", "kmh", "--site", "Storgatan 12", "--time-col", "tid",
            "--speed-col", "hastighet", "--direction-col", "riktning", "--length-col", "längd",
            "--direction-map", "A=approaching,C=receding", "--tz", "Europe/Stockholm", "--decimal-comma",
            "--display", "display", "--progress"]
    assert main(argv) == 0
    cap = capsys.readouterr()
    assert "stored:     3 vehicles" in cap.out and "line 4: hastighet='fyrtio'" in cap.out
    assert "csv [" in cap.err                                   # the progress bar, forced on
    assert main(argv) == 0
    assert "duplicates: 3 vehicles" in capsys.readouterr().out
    assert main(["import", "csv", str(f), "--unit", "kmh", "--site", "Nowhere"]) == 2
    assert "no site named 'Nowhere'" in capsys.readouterr().err
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'import'").fetchone()[0] == 2
