"""Traffic Logix SafePace: saved bodies and the pull client (MockTransport), bins + rollups once."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import httpx
import pytest

from collector.importers.places import Area
from collector.importers.trafficlogix import Location, file_bodies, import_bodies
from collector.importers.trafficlogix_api import BadApiKey, SafePaceClient, pull
from collector.plausible import TimeRule
from fartkoll.cli import main

DAY = Path(__file__).parent / "fixtures" / "importers" / "trafficlogix_day.json"
AREA = Area("Toronto", "Toronto Police Service")
TZ = "America/Toronto"
NOW = dict(rule=TimeRule(), received=datetime.now(timezone.utc))


def _bodies():
    return file_bodies(str(DAY), json.loads(DAY.read_text()))


def _rollup_consistent(db):
    return db.execute(
        "SELECT (SELECT coalesce(sum(n), 0) FROM rollup_hourly) = (SELECT count(*) FROM readings) + "
        "(SELECT coalesce(sum(count), 0) FROM binned_counts WHERE source = 'trafficlogix')").fetchone()[0]


def test_location_name_gives_street_and_heading():
    loc = Location("Dundas St W SB 16101191", "", None, None)
    assert (loc.street, loc.heading) == ("Dundas St W", "SB")
    assert Location("Bloor St", "", None, None).heading == ""


def test_saved_body_into_bins_and_rollups_once(db):
    s = import_bodies(db, _bodies(), tz=TZ, area=AREA, **NOW)
    db.commit()
    assert (s.read, s.stored, s.duplicates, s.vehicles_stored) == (8, 5, 0, 8)
    assert sorted(str(p) for p in s.rejected) == [
        f"{DAY} raw_records[2] counter[1]: speed=-5: must be a whole km/h above 0 and below 300",
        f"{DAY} raw_records[3]: datetime='yesterday': not YYYY-MM-DD HH:MM:SS",
    ]
    rows = db.execute("SELECT period_start, period_end, speed_lo, speed_hi, count, direction, display FROM binned_counts "
                      "ORDER BY period_start, speed_lo").fetchall()
    first = rows[0]
    assert first[0].isoformat() == "2018-10-29T13:58:00+00:00" and (first[1] - first[0]).seconds == 300
    assert [(r[2], r[3], r[4]) for r in rows] == [(31, 32, 1), (47, 48, 2), (29, 30, 3), (47, 48, 1), (52, 53, 1)]
    assert {(r[5], r[6]) for r in rows} == {(1, 1)}
    dep = db.execute("SELECT approach_heading, display FROM deployments").fetchone()
    assert dep == ("SB", 1)
    site = db.execute("SELECT s.name, st.name, s.lat, s.time_zone FROM sites s JOIN streets st ON st.id = s.street_id").fetchone()
    assert site[:2] == ("Dundas St W SB 16101191", "Dundas St W") and site[3] == TZ
    # rollups: the 09:58 bin counts in the 13:00 UTC hour, the 10:03 bin in 14:00
    hours = db.execute("SELECT hour, n, sum_kmh, hist, array_lower(hist, 1) FROM rollup_hourly ORDER BY hour").fetchall()
    assert [(h.hour, n, sk) for h, n, sk, *_ in hours] == [(13, 3, 31 + 2 * 47), (14, 5, 3 * 29 + 47 + 52)]
    assert hours[0][4] == 31 and hours[0][3][0] == 1 and hours[0][3][-1] == 2
    assert _rollup_consistent(db)
    again = import_bodies(db, _bodies(), tz=TZ, area=AREA, **NOW)
    db.commit()
    assert (again.stored, again.duplicates) == (0, 5)
    assert db.execute("SELECT sum(n) FROM rollup_hourly").fetchone()[0] == 8 and _rollup_consistent(db)


def _body(name: str, day: str, speeds: dict[int, int]) -> dict:
    return {"LocInfo": {"Location": {"geocode": "(43.66,-79.37)", "address": "x", "name": name},
                        "raw_records": [{"datetime": f"{day} 08:00:00",
                                         "counter": [{"speed": v, "count": c} for v, c in speeds.items()]}]}}


class FakeCloud:
    """Serves the SafePace paths with realistic bodies and errors; records calls."""

    def __init__(self, key="k-good", flaky=2):
        self.key, self.flaky, self.calls = key, flaky, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if request.headers.get("x-api-key") != self.key:
            return httpx.Response(401, json={"error_message": "Invalid API key"})
        path = request.url.path
        if path == "/sv2/signs":
            return httpx.Response(200, json=[{"location_id": 101, "name": "Bloor St W EB 1", "address": "a"},
                                             {"location_id": 102, "name": "Queen St E NB 2", "address": "b"}])
        parts = path.split("/")         # /sv2/signs/statistics/location/{id}/date/{d}/from/00:00/to/23:59/speed_units/0
        loc, day = parts[5], parts[7]
        if loc == "999":
            return httpx.Response(404, json={"error_message": "Location not found"})
        if day == "2024-05-02":
            return httpx.Response(204)
        if day == "2024-05-03" and self.flaky:
            self.flaky -= 1
            return httpx.Response(504, json={"error_message": "Gateway timeout"})
        name = {"101": "Bloor St W EB 1", "102": "Queen St E NB 2"}[loc]
        return httpx.Response(200, json=_body(name, day, {40: 2, 41: 1}))


def _client(cloud, key="k-good", retries=3):
    sleeps = []
    c = SafePaceClient(httpx.Client(transport=httpx.MockTransport(cloud)), key, base_url="https://cloud.test",
                       retries=retries, backoff_s=0.5, sleep=sleeps.append)
    return c, sleeps


def test_pull_handles_no_data_retries_and_unknown_location(db):
    cloud = FakeCloud()
    client, sleeps = _client(cloud)
    assert [s.location_id for s in client.signs()] == ["101", "102"]
    items = list(pull(client, ["101", "999"], date(2024, 5, 1), date(2024, 5, 3)))
    assert sleeps == [0.5, 1.0]                       # two 504s, then the day came
    bodies = [i for i in items if isinstance(i, tuple)]
    problems = [str(i) for i in items if not isinstance(i, tuple)]
    assert [b[0] for b in bodies] == ["location 101 2024-05-01", "location 101 2024-05-03"]
    assert len(problems) == 1 and problems[0].startswith("location 999: location_id='999': unknown to the cloud")
    assert "Location not found" in problems[0]
    assert sum(1 for c in cloud.calls if "/location/999/" in c) == 1     # no more days asked for it
    s = import_bodies(db, items, tz=TZ, area=AREA, **NOW)
    db.commit()
    assert (s.stored, s.vehicles_stored, len(s.rejected)) == (4, 6, 1)
    assert _rollup_consistent(db)


def test_pull_gives_up_after_bounded_retries():
    client, sleeps = _client(FakeCloud(flaky=10), retries=2)
    items = list(pull(client, ["101"], date(2024, 5, 3), date(2024, 5, 4)))
    assert sleeps == [0.5, 1.0]                       # day 3: 3 attempts, 2 waits; then it gives up
    problem = items[0]
    assert items[1][0] == "location 101 2024-05-04"   # and goes on with the next day
    assert "504 Gateway timeout (gave up after 3 attempts)" in str(problem) and problem.record == "location 101 2024-05-03"


def test_bad_key_stops_with_a_clear_error():
    client, _ = _client(FakeCloud(), key="k-bad")
    with pytest.raises(BadApiKey, match="401 Invalid API key: the API key was refused; check --api-key"):
        list(pull(client, ["101", "102"], date(2024, 5, 1), date(2024, 5, 5)))


def test_error_body_is_reported_not_stored(db):
    s = import_bodies(db, [("saved.json", {"error_message": "No data for this period"})], tz=TZ, area=AREA, **NOW)
    assert [str(p) for p in s.rejected] == ["saved.json: error_message='No data for this period': the cloud answered with an error"]
    assert s.stored == 0


def test_cli_saved_file(db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["import", "trafficlogix", str(DAY), "--tz", TZ]) == 0
    out = capsys.readouterr().out
    assert "stored:     5 bins (8 vehicles)" in out and "speed=-5" in out
    assert main(["import", "trafficlogix", "--tz", TZ]) == 2
    assert "give saved JSON files, or --pull" in capsys.readouterr().err


def test_cli_pull_through_mock_transport(db_url, monkeypatch, capsys):
    cloud = FakeCloud(flaky=1)
    real_client = httpx.Client
    monkeypatch.setattr(httpx, "Client", lambda **kw: real_client(transport=httpx.MockTransport(cloud), **kw))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TRAFFICLOGIX_API_KEY", "k-good")
    monkeypatch.setattr("time.sleep", lambda s: None)
    argv = ["import", "trafficlogix", "--pull", "--from", "2024-05-01", "--to", "2024-05-03", "--tz", TZ,
            "--base-url", "https://cloud.test"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "stored:     8 bins (12 vehicles)" in out and "created:    2 deployments, 2 signs, 2 sites" in out
    assert main(argv) == 0
    assert "duplicates: 8 bins" in capsys.readouterr().out
    monkeypatch.setenv("TRAFFICLOGIX_API_KEY", "k-bad")
    assert main(argv) == 2
    assert "the API key was refused" in capsys.readouterr().err


def test_progress_bar_draws_each_state_once():
    import io

    from collector.importers.progress import Progress

    out, t = io.StringIO(), iter(range(100))
    p = Progress(out, "x", 10, clock=lambda: next(t))
    p.update(5)
    p.update(10)
    p.close()
    assert out.getvalue().count("10/10") == 1 and out.getvalue().endswith("\n")
    quiet = io.StringIO()
    q = Progress(quiet, "x", 10, enabled=False)
    q.update(10)
    q.close()
    assert quiet.getvalue() == ""
