import csv
import io
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from planner.calendar_export import escape_text, fold, to_csv, to_icalendar
from planner.schedule import Control, Site

STHLM = ZoneInfo("Europe/Stockholm")
STAMP = datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc)


def control(site, start, unit=1, direction=1):
    return Control(site, direction, start, start + timedelta(minutes=20), unit, 0,
                   start.weekday() * 24 + start.hour, 12.5, "score")


CONTROLS = [
    control(1, datetime(2026, 3, 27, 7, 30, tzinfo=STHLM)),  # CET: 06:30Z
    control(2, datetime(2026, 4, 7, 7, 30, tzinfo=STHLM), unit=2),  # CEST: 05:30Z
]
NAMES = {1: "Skolgatan 4, vid Åsbergsskolan; norrut", 2: "Storgatan\\Kyrkvägen " + "å" * 60}


def unfold(text):
    return text.replace("\r\n ", "")


def test_escape_and_fold_by_hand():
    assert escape_text('a,b;c\\d\ne') == "a\\,b\\;c\\\\d\\ne"
    line = "X" * 160
    # 75 + (1 + 74) + (1 + 11)
    assert fold(line) == "X" * 75 + "\r\n " + "X" * 74 + "\r\n " + "X" * 11
    assert fold("short") == "short"


def test_folding_never_splits_a_utf8_character():
    line = "SUMMARY:" + "ö" * 100  # 8 + 200 octets
    for physical in fold(line).split("\r\n"):
        raw = physical.encode("utf-8")
        assert len(raw) <= 75
        raw.decode("utf-8")  # each physical line is whole characters
    assert unfold(fold(line)) == line


def test_icalendar_in_utc():
    text = to_icalendar(CONTROLS, STAMP, site_names=NAMES, sites={1: Site(57.72, 12.94)})
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    flat = unfold(text)
    assert flat.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:")
    assert flat.count("BEGIN:VEVENT") == 2 and flat.count("DTSTAMP:20260320T120000Z") == 2
    assert "DTSTART:20260327T063000Z\r\nDTEND:20260327T065000Z" in flat
    assert "DTSTART:20260407T053000Z\r\nDTEND:20260407T055000Z" in flat
    assert "SUMMARY:Speed control: Skolgatan 4\\, vid Åsbergsskolan\\; norrut (approaching)" in flat
    assert "LOCATION:Storgatan\\\\Kyrkvägen " in flat
    assert "GEO:57.720000;12.940000" in flat
    assert "DESCRIPTION:Speed control\\, unit 1\\, chosen by score (score 12.5).\\nSite 1" in flat
    uids = re.findall(r"^UID:(.+)$", flat, re.M)
    assert len(set(uids)) == 2
    assert uids == re.findall(r"^UID:(.+)$", unfold(to_icalendar(CONTROLS, STAMP)), re.M)  # stable
    assert "VTIMEZONE" not in flat


def test_icalendar_with_tzid_has_matching_vtimezone():
    flat = unfold(to_icalendar(CONTROLS, STAMP, use_tzid=True))
    assert "DTSTART;TZID=Europe/Stockholm:20260327T073000" in flat
    assert "DTSTART;TZID=Europe/Stockholm:20260407T073000" in flat
    assert flat.index("END:VTIMEZONE") < flat.index("BEGIN:VEVENT")
    # spring forward 2026-03-29 01:00Z: local 02:00 in the old offset, +0100 → +0200
    assert ("BEGIN:DAYLIGHT\r\nDTSTART:20260329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
            "TZNAME:CEST\r\nEND:DAYLIGHT") in flat
    assert "BEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100" in flat


def test_dtstamp_must_be_aware():
    with pytest.raises(ValueError, match="no time zone"):
        to_icalendar(CONTROLS, datetime(2026, 3, 20, 12))


def test_csv_round_trip():
    rows = list(csv.DictReader(io.StringIO(to_csv(CONTROLS, NAMES), newline="")))
    assert [r["site_name"] for r in rows] == [NAMES[1], NAMES[2]]
    assert (rows[0]["date"], rows[0]["start"], rows[0]["end"]) == ("2026-03-27", "07:30", "07:50")
    assert rows[1]["start_utc"] == "2026-04-07T05:30:00Z" and rows[1]["unit"] == "2"
    assert rows[0]["hour_of_week"] == str(4 * 24 + 7) and rows[0]["score"] == "12.500"
