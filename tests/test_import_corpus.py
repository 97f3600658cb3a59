"""The bad-input corpus: broken files and values through the real CLI of every importer, each
with its exit code, the record, field and value named, and the exact rows stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from importer_corpus.files import (
    CSV_ROWS,
    MAC,
    T0,
    counts,
    csv_text,
    elancity_export,
    run,
    toronto_row,
    toronto_text,
    trafficlogix_body,
    write_json,
)
from places import make_site

CSV_ARGS = ["--unit", "kmh", "--site", "Storgatan 12", "--direction-col", "direction"]


@dataclass(frozen=True)
class Case:
    """One broken input: how to write it, the extra arguments, the exit code, the texts the
    output must hold (record, field, value) and the rows added to readings / binned_counts."""

    name: str
    kind: str
    write: Callable[[Path], Path]
    code: int
    says: tuple[str, ...]
    readings: int = 0
    binned: int = 0
    args: tuple[str, ...] = ()
    places_kept: bool = True          # False: the import must leave no site/sign/deployment behind
    extra: dict = field(default_factory=dict)


def _text(name: str, text: str, encoding: str = "utf-8") -> Callable[[Path], Path]:
    def write(d: Path) -> Path:
        p = d / name
        p.write_bytes(text.encode(encoding))
        return p
    return write


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def write(d: Path) -> Path:
        p = d / name
        p.write_bytes(data)
        return p
    return write


GOOD = "2024-05-06T07:00:00+00:00,40,approaching\n"
CSV_CASES = [
    Case("year 9999", "csv", _text("a.csv", "time,speed,direction\n" + GOOD + "9999-12-31T00:00:00+00:00,40,approaching\n"),
         0, ("line 3: time='9999-12-31T00:00:00+00:00'", "after the receive time"), readings=1),
    Case("year 1", "csv", _text("a.csv", "time,speed,direction\n0001-01-01T00:00:00+00:00,40,approaching\n" + GOOD),
         0, ("line 2: time='0001-01-01T00:00:00+00:00'", "before the earliest plausible time 2000-01-01"), readings=1),
    Case("2099", "csv", _text("a.csv", "time,speed,direction\n" + GOOD + "2099-01-01T00:00:00+00:00,40,approaching\n"),
         0, ("line 3: time='2099-01-01T00:00:00+00:00'",), readings=1),
    Case("speed rounds to 300 as float32", "csv", _text("a.csv", "time,speed,direction\n" + GOOD
                                                         + "2024-05-06T07:00:05+00:00,299.99999,approaching\n"),
         0, ("line 3: speed='299.99999': is 300 km/h as stored (float32)",), readings=1),
    Case("1e-50 mph rounds to 0", "csv", _text("a.csv", "time,speed,direction\n" + GOOD.replace(",40,", ",25,")
                                                + "2024-05-06T07:00:05+00:00,1e-50,approaching\n"),
         0, ("line 3: speed='1e-50': is 0 km/h as stored (float32)",), readings=1, args=("--unit", "mph")),
    Case("infinite speed", "csv", _text("a.csv", "time,speed,direction\n" + GOOD + "2024-05-06T07:00:05+00:00,inf,approaching\n"),
         0, ("line 3: speed='inf': not a finite number",), readings=1),
    Case("field over 128 KB", "csv", _text("a.csv", "time,speed,direction\n" + GOOD + "2024-05-06T07:00:05+00:00,40,"
                                            + "x" * 200_000 + "\n" + GOOD.replace(":00+", ":30+")),
         0, ("line 3: (row)=", "a field may hold at most 131,072 characters"), readings=2),
    Case("line over 1 MiB", "csv", _text("a.csv", "time,speed,direction\n" + GOOD + "," * 1_500_000 + "\n"
                                          + GOOD.replace(":00+", ":30+")),
         0, ("line 3: (line)='(line not shown)': the line is 1,500,001 bytes long",), readings=2),
    Case("latin-1 byte", "csv", _text("a.csv", "time,speed,direction\n" + GOOD + "2024-05-06T07:00:05+00:00,40,m\xf6t\n",
                                      "latin-1"),
         0, ("line 3: direction='m\\\\xf6t'", "line 3, column 31 (byte offset 92) is not utf-8", "--encoding"), readings=1),
    Case("latin-1 header", "csv", _text("a.csv", "time,speed,direction,l\xe4ngd\n" + GOOD, "latin-1"),
         2, ("header (line 1): byte b'\\xe4' at line 1, column 23 (byte offset 22)", "--encoding latin-1")),
    Case("empty file", "csv", _bytes("a.csv", b""), 2, ("the file is empty",)),
    Case("binary file", "csv", _bytes("a.csv", bytes(range(256)) * 4), 2, ("header (line 1)",)),
    Case("missing column", "csv", _text("a.csv", "tid,fart\n2024-05-06T07:00:00+00:00,40\n"), 2,
         ("no column 'time', 'speed', 'direction'", "the header has 'tid', 'fart'")),
    Case("unknown encoding", "csv", _text("a.csv", "time,speed,direction\n" + GOOD), 2,
         ("--encoding 'klingon' is not a known encoding",), args=("--encoding", "klingon")),
]


def _toronto(rows: list[str]) -> Callable[[Path], Path]:
    return _text("wys.csv", toronto_text(rows))


TORONTO_CASES = [
    Case("count wraps int4", "toronto", _toronto([toronto_row(1, "7", bins={40: "4294967301"}), toronto_row(2, "8")]),
         0, ("row 1 (_id 1, line 2): spd_40='4294967301': is above 2,147,483,647",), binned=2),
    Case("count 3e9", "toronto", _toronto([toronto_row(1, "7", bins={40: "3000000000"})]),
         0, ("row 1 (_id 1, line 2): spd_40='3000000000': is above 2,147,483,647",), places_kept=False),
    Case("same location_id, other dates and direction", "toronto",
         _toronto([toronto_row(1, "7"), toronto_row(2, "7", installed="2020-05-01", removed="2020-05-20"),
                   toronto_row(3, "7", direction="SB")]), 0, ("stored:     6 bins (45 vehicles)",), binned=6),
    Case("removal in 9999", "toronto", _toronto([toronto_row(1, "7", removed="9999-12-31")]),
         0, ("row 1 (_id 1, line 2): removal_date='9999-12-31'",), places_kept=False),
    Case("installation in year 1", "toronto", _toronto([toronto_row(1, "7", installed="0001-01-01"), toronto_row(2, "8")]),
         0, ("row 1 (_id 1, line 2): installation_date='0001-01-01': is before the earliest",), binned=2),
    Case("volume not the sum", "toronto", _toronto([toronto_row(1, "7", volume="16")]),
         0, ("row 1 (_id 1, line 2): volume='16': does not equal the sum",), places_kept=False),
    Case("wrong header", "toronto", _text("wys.csv", "a,b\n1,2\n"), 2, ("columns location_id, location", "are missing")),
    Case("empty", "toronto", _bytes("wys.csv", b""), 2, ("the file is empty",)),
    Case("latin-1 street", "toronto", _text("wys.csv", toronto_text([toronto_row(1, "7").replace("Main St", "M\xe4in St")]),
                                            "latin-1"),
         0, ("row 1 (line 2): location='M\\\\xe4in St'", "--encoding"), places_kept=False),
]


def _export(rows=None, campaign_sql=None, damage=None) -> Callable[[Path], Path]:
    def write(d: Path) -> Path:
        p = elancity_export(d / f"{MAC}-ELANCITY_RADAR__.db", rows, campaign_sql=campaign_sql)
        if damage:
            damage(p)
        return p
    return write


def _corrupt_page(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[4096 + 8:4096 + 600] = b"\xff" * 592          # the second page: the first table's b-tree
    p.write_bytes(bytes(data))


MANY = [(i, T0 + 2 * i, 25 + i % 10, i % 2) for i in range(1, 3001)]
ELANCITY_CASES = [
    Case("wrong campaign table", "elancity", _export(campaign_sql="CREATE TABLE campaign (id INTEGER, name TEXT);"),
         2, ("the campaign table is not an Elan City one", "camp_date_begin"), places_kept=False),
    Case("corrupted page", "elancity", _export(rows=MANY, damage=_corrupt_page), 2, ("database disk image is malformed",),
         places_kept=False),
    Case("not SQLite", "elancity", lambda d: _bytes(f"{MAC}-ELANCITY_RADAR__.db", b"hello, not a database\n" * 50)(d),
         2, ("not an Elan City export",), places_kept=False),
    Case("empty file", "elancity", lambda d: _bytes(f"{MAC}-ELANCITY_RADAR__.db", b"")(d), 2, ("not an Elan City export",),
         places_kept=False),
    Case("year 3000 and huge speed", "elancity",
         _export(rows=[(1, T0 + 60, 30, 1), (2, 32503680000, 30, 1), (3, T0 + 120, 1e30, 1), (4, T0 + 180, "fast", 0)]),
         0, ("meas_id 2: meas_date=32503680000", "meas_id 3: meas_speed=1e+30: is 1.00000002e+30 km/h as stored (float32)",
             "meas_id 4: meas_speed='fast'"), readings=1),
    Case("campaign ends before it begins", "elancity",
         _export(campaign_sql="CREATE TABLE campaign (camp_id INTEGER, camp_date_begin INTEGER, camp_date_end INTEGER, "
                 f"camp_title TEXT); INSERT INTO campaign VALUES (1, {T0 + 86400}, {T0}, 'x');"),
         2, ("campaign 1: camp_date_end=", "is before camp_date_begin"), places_kept=False),
    Case("all vehicles implausible", "elancity", _export(rows=[(1, 946684000, 30, 1)]), 0,
         ("meas_id 1: meas_date=946684000", "before the earliest plausible time"), places_kept=False),
]


def _tl(data) -> Callable[[Path], Path]:
    return lambda d: write_json(d / "tl.json", data)


TRAFFICLOGIX_CASES = [
    Case("list of numbers", "trafficlogix", _tl([1, 2]), 0, ("tl.json[0]: LocInfo.Location='1': not a SafePace statistics body",)),
    Case("raw_records not a list", "trafficlogix", _tl({"LocInfo": {"Location": {"name": "X NB"}, "raw_records": 5}}), 0,
         ("LocInfo.raw_records='5': must be a list",)),
    Case("counter not a list", "trafficlogix",
         _tl({"LocInfo": {"Location": {"name": "X NB"}, "raw_records": [{"datetime": "2018-10-29 10:00:00", "counter": "x"}]}}),
         0, ("raw_records[0]: counter='x': must be a list",)),
    Case("count wraps int4", "trafficlogix", _tl(trafficlogix_body([{"speed": 47, "count": 4294967301}, {"speed": 50, "count": 1}])),
         0, ("counter[0]: count=4294967301: is above 2,147,483,647",), binned=1),
    Case("counters sum past int4", "trafficlogix",
         _tl(trafficlogix_body([{"speed": 47, "count": 2_000_000_000}, {"speed": 47, "count": 2_000_000_000}])),
         0, ("count=4000000000: the counters at 2018-10-29 10:00:00 for 47 km/h add up to 4,000,000,000",), places_kept=False),
    Case("year 9999", "trafficlogix", _tl(trafficlogix_body(stamp="9999-12-31 10:00:00")), 0,
         ("raw_records[0]: datetime='9999-12-31 10:00:00': is more than 10 min after",), places_kept=False),
    Case("not JSON", "trafficlogix", _bytes("tl.json", b'{"LocInfo": [1, 2'), 2, ("not JSON: Expecting", "line 1, column 18")),
    Case("not UTF-8", "trafficlogix", _bytes("tl.json", b'{"a": "\xff"}'), 2, ("byte b'\\xff' at line 1, column 8 (byte offset 7)",)),
    Case("nested too deeply", "trafficlogix", _bytes("tl.json", b"[" * 100_000), 2, ("nested too deeply",)),
    Case("empty", "trafficlogix", _bytes("tl.json", b"  \n"), 2, ("the file is empty",)),
    Case("huge number", "trafficlogix", _bytes("tl.json", b"[" + b"9" * 5000 + b"]"), 2, ("not JSON that can be read",)),
]

ARGS = {"csv": CSV_ARGS, "toronto": [], "elancity": ["--unit", "kmh"], "trafficlogix": ["--tz", "America/Toronto"]}


@pytest.mark.parametrize("case", CSV_CASES + TORONTO_CASES + ELANCITY_CASES + TRAFFICLOGIX_CASES, ids=lambda c: f"{c.kind}: {c.name}")
def test_broken_input(case: Case, db, db_url, tmp_path, monkeypatch, capsys):
    make_site(db, "Storgatan 12")
    db.commit()
    monkeypatch.setenv("DATABASE_URL", db_url)
    path = case.write(tmp_path)
    before = counts(db_url)
    args = list(ARGS[case.kind])
    if "--unit" in case.args:
        args[1] = case.args[case.args.index("--unit") + 1]
    args += [a for i, a in enumerate(case.args) if not (a == "--unit" or (i and case.args[i - 1] == "--unit"))]
    code, out, err = run(["import", case.kind, str(path), *args, "--show", "20"], capsys)
    text = out + err
    assert "Traceback" not in text
    assert code == case.code, text
    for s in case.says:
        assert s in text, f"{s!r} not in:\n{text}"
    after = counts(db_url)
    assert after["readings"] - before["readings"] == case.readings, text
    assert after["binned"] - before["binned"] == case.binned, text
    if not case.places_kept:
        assert after == before, text        # nothing stored: no half-made site, sign, street or deployment


def test_latin1_file_then_encoding_option_stores_only_the_rest(db, db_url, tmp_path, monkeypatch, capsys):
    make_site(db, "Storgatan 12")
    db.commit()
    monkeypatch.setenv("DATABASE_URL", db_url)
    f = tmp_path / "a.csv"
    f.write_bytes(("time,speed,direction\n" + GOOD + "2024-05-06T07:00:05+00:00,41,r\xf6d\n").encode("latin-1"))
    code, out, _ = run(["import", "csv", str(f), *CSV_ARGS, "--direction-map", "r\xf6d=receding"], capsys)
    assert code == 0 and "stored:     1 vehicles" in out and "--encoding" in out
    code, out, _ = run(["import", "csv", str(f), *CSV_ARGS, "--direction-map", "r\xf6d=receding", "--encoding", "latin-1"], capsys)
    assert code == 0 and "stored:     1 vehicles" in out and "duplicates: 1 vehicles" in out
    assert counts(db_url)["readings"] == 2


def test_equal_looking_vehicles_all_count_and_appending_stores_only_new(db, db_url, tmp_path, monkeypatch, capsys):
    make_site(db, "Storgatan 12")
    db.commit()
    monkeypatch.setenv("DATABASE_URL", db_url)
    f = tmp_path / "a.csv"
    f.write_text(csv_text(CSV_ROWS))
    assert run(["import", "csv", str(f), *CSV_ARGS], capsys)[0] == 0
    assert counts(db_url)["readings"] == 4                     # the two equal rows are two vehicles
    f.write_text(csv_text(CSV_ROWS + [CSV_ROWS[1], ("2024-05-06T08:00:00+00:00", "30", "unknown")]).replace("\n", "\r\n"))
    code, out, _ = run(["import", "csv", str(f), *CSV_ARGS], capsys)
    assert code == 0 and "stored:     2 vehicles" in out and "duplicates: 4 vehicles" in out, out
    assert counts(db_url)["readings"] == 6
    with db.cursor() as cur:
        assert cur.execute("SELECT (SELECT sum(n) FROM rollup_hourly) = (SELECT count(*) FROM readings)").fetchone()[0]


def test_split_file_stores_each_half_once(db, db_url, tmp_path, monkeypatch, capsys):
    make_site(db, "Storgatan 12")
    db.commit()
    monkeypatch.setenv("DATABASE_URL", db_url)
    rows = [(f"2024-05-06T07:{m:02d}:00+00:00", str(30 + m % 7), "approaching") for m in range(40)]
    whole, first, second = tmp_path / "w.csv", tmp_path / "1.csv", tmp_path / "2.csv"
    whole.write_text(csv_text(rows))
    first.write_text(csv_text(rows[:25]))
    second.write_text(csv_text(rows[20:]))
    assert run(["import", "csv", str(first), *CSV_ARGS], capsys)[0] == 0
    code, out, _ = run(["import", "csv", str(second), *CSV_ARGS], capsys)
    assert "stored:     15 vehicles" in out and "duplicates: 5 vehicles" in out
    code, out, _ = run(["import", "csv", str(whole), *CSV_ARGS], capsys)
    assert "stored:     0 vehicles" in out and "duplicates: 40 vehicles" in out
    assert counts(db_url)["readings"] == 40
