"""Site figures against the vehicles themselves: rollup percentiles and shares equal
``percentile_disc`` over ``readings`` for whole-km/h and whole-mph signs; finer speeds are
interpolated and flagged; limits posted in mph, timed limits, sites without a limit and the
per-site default period."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from places import deploy, make_sign, make_site

from collector.passes import Direction, Display, VehiclePass
from collector.setup.limits import set_limit
from collector.store import write_passes
from planner.settings import PlannerSettings
from planner.sitestats import site_statistics

UTC = timezone.utc
MPH = 1.609344
T0 = datetime(2025, 3, 3, 5, tzinfo=UTC)  # Monday 06:00 in Stockholm (CET)


def _site(db, name: str, *, unit: str = "kmh", rounding: str = "truncate", limit: int | None = 50) -> tuple[int, int]:
    site = make_site(db, name)
    if limit is None:
        db.execute("DELETE FROM speed_limits WHERE site_id = %s", (site,))
    sign = make_sign(db, f"SN-{name}", rounding)
    db.execute("UPDATE signs SET unit = %s WHERE id = %s", (unit, sign))
    deploy(db, sign, site, datetime(2024, 1, 1, tzinfo=UTC), display=1)
    return site, sign


def _write(db, site: int, sign: int, speeds_kmh, start: datetime = T0, step_s: float = 20.0) -> None:
    passes = [VehiclePass(start + timedelta(seconds=step_s * i), float(v), Direction.APPROACHING, sign, site,
                          Display.DISPLAY) for i, v in enumerate(speeds_kmh)]
    res = write_passes(db, passes, received=start + timedelta(days=30))
    assert res.inserted == len(passes)
    db.commit()


def _disc(db, site: int, p: float) -> float:
    return db.execute("SELECT percentile_disc(%s) WITHIN GROUP (ORDER BY speed_kmh) FROM readings "
                      "WHERE site_id = %s", (p, site)).fetchone()[0]


def _stats(db, site: int, **kw):
    return site_statistics(db, PlannerSettings(), site, **kw)


PCTS = {"v10": 0.10, "v50": 0.50, "v85": 0.85, "v90": 0.90, "v95": 0.95}


def test_whole_kmh_sign_percentiles_equal_percentile_disc(db):
    site, sign = _site(db, "Heltal 1")
    speeds = np.random.default_rng(11).normal(47, 7, 1500).round().clip(10, 110)
    _write(db, site, sign, speeds)
    ss, fig = _stats(db, site)
    (g,) = fig.groups
    assert g.source == "vehicles" and g.n == 1500 and g.exact_percentiles and g.exact_shares
    for name, p in PCTS.items():
        assert getattr(g, f"{name}_kmh") == pytest.approx(_disc(db, site, p))
    over = db.execute("SELECT count(*) FROM readings WHERE site_id = %s AND speed_kmh > 50", (site,)).fetchone()[0]
    at_t = db.execute("SELECT count(*) FROM readings WHERE site_id = %s AND speed_kmh >= 56", (site,)).fetchone()[0]
    assert g.over_limit.k == over and g.over_threshold.k == at_t and g.threshold_kmh == 56
    assert all("interpolated" not in w for w in g.warnings)
    from fartkoll.commands.stats import format_table

    assert "~" not in format_table(ss)


def test_whole_mph_sign_reports_its_own_values_against_a_limit_posted_in_mph(db):
    site, sign = _site(db, "Mile End 1", unit="mph")
    set_limit(db, actor="test", site_id=site, value=30, unit="mph", from_date=date(2024, 6, 1))
    db.commit()
    # by hand: 84 vehicles at 30 mph, 16 at 34 mph → the 85th slowest drove 34 mph = 54.72 km/h
    mph = np.array([30] * 84 + [34] * 16)
    _write(db, site, sign, mph * MPH)
    _, fig = _stats(db, site)
    (g,) = [x for x in fig.groups if x.limit_posted]
    assert g.limit_posted == "30 mph" and g.limit_kmh == pytest.approx(48.28, abs=0.001)
    assert g.v85_kmh == pytest.approx(54.718, abs=0.001) and g.percentiles_sign_unit["v85"] == pytest.approx(34)
    assert g.v50_kmh == pytest.approx(_disc(db, site, 0.5), abs=1e-4)
    # 30 mph exactly is at the limit, not over it: only the 16 at 34 mph are over
    assert g.over_limit.k == 16 and g.exact_percentiles and g.exact_shares


def test_whole_mph_random_speeds_equal_percentile_disc(db):
    site, sign = _site(db, "Mile End 2", unit="mph")
    set_limit(db, actor="test", site_id=site, value=30, unit="mph", from_date=date(2024, 6, 1))
    db.commit()
    mph = np.random.default_rng(5).normal(31, 5, 1200).round().clip(8, 70)
    _write(db, site, sign, mph * MPH)
    _, fig = _stats(db, site)
    (g,) = fig.groups
    for name, p in PCTS.items():
        assert getattr(g, f"{name}_kmh") == pytest.approx(_disc(db, site, p), abs=1e-3)
        assert g.percentiles_sign_unit[name] == pytest.approx(round(g.percentiles_sign_unit[name]), abs=1e-3)
    assert g.over_limit.k == int(np.count_nonzero(mph > 30))


def test_tenth_kmh_radar_is_interpolated_within_the_bin_and_flagged(db):
    site, sign = _site(db, "Radar 1", rounding="exact")
    speeds = np.random.default_rng(2).normal(45, 6, 800).round(1).clip(10, 110)
    _write(db, site, sign, speeds)
    ss, fig = _stats(db, site)
    (g,) = fig.groups
    assert not g.exact_percentiles
    assert any("interpolated within the speed bin" in w for w in g.warnings)
    for name, p in PCTS.items():
        disc = _disc(db, site, p)
        assert np.floor(disc) <= getattr(g, f"{name}_kmh") <= np.floor(disc) + 1


def test_site_without_a_limit_still_has_its_figures_and_says_how_to_record_one(db):
    site, sign = _site(db, "Utan gräns 1", limit=None)
    _write(db, site, sign, [40, 42, 44, 46, 48, 50, 52, 54, 56, 58])
    _, fig = _stats(db, site)
    (g,) = fig.groups
    assert g.n == 10 and g.mean_kmh == pytest.approx(49) and g.v85_kmh == 56  # r = ceil(8.5) = 9
    assert g.limit_kmh is None and g.over_limit is None and g.over_threshold is None
    assert any("fartkoll limit set" in w for w in g.warnings)
    assert not any("no vehicles" in n for n in fig.notes)


def test_timed_limit_splits_the_hours_it_holds_from_the_rest(db):
    site, sign = _site(db, "Skolgatan 1", limit=50)
    set_limit(db, actor="test", site_id=site, value=30, unit="kmh", from_date=date(2025, 1, 1),
              hours="mon-fri 07-17")
    db.commit()
    # Monday 3 March 2025: 08:00 local (07:00Z, school hours) and 20:00 local (19:00Z)
    _write(db, site, sign, [28, 32, 35, 40], start=datetime(2025, 3, 3, 7, tzinfo=UTC))
    _write(db, site, sign, [45, 52, 55], start=datetime(2025, 3, 3, 19, tzinfo=UTC))
    ss, fig = _stats(db, site)
    by_limit = {g.limit_posted: g for g in fig.groups}
    assert set(by_limit) == {"30 km/h mon-fri 07-17", "50 km/h"}
    school, evening = by_limit["30 km/h mon-fri 07-17"], by_limit["50 km/h"]
    assert (school.n, school.over_limit.k, school.limit_hours) == (4, 3, "mon-fri 07-17")
    assert (evening.n, evening.over_limit.k, evening.limit_hours) == (3, 2, None)
    assert any("split by limit" in n for n in fig.notes)
    # the rollups (the ranking) take the same limit per hour
    rows = dict(db.execute("SELECT extract(hour FROM hour)::int, limit_kmh FROM rollup_hourly WHERE site_id = %s",
                           (site,)).fetchall())
    assert rows == {7: 30, 19: 50}


def test_default_period_ends_at_the_sites_own_latest_data(db):
    a, sa = _site(db, "Tidig 1")
    b, sb = _site(db, "Sen 1")
    _write(db, a, sa, [40, 45, 50], start=datetime(2025, 1, 10, 12, tzinfo=UTC))
    _write(db, b, sb, [40, 45, 50], start=datetime(2025, 3, 20, 12, tzinfo=UTC))
    ss, fig = _stats(db, a)
    assert ss.period.end == datetime(2025, 1, 10, 13, tzinfo=UTC)
    assert fig.groups and fig.groups[0].n == 3
    from fartkoll.commands.stats import format_table

    table = format_table(ss)
    assert "2025-01-10 14:00 CET" in table and "Europe/Stockholm" in table


def test_parse_hours_forms_and_errors():
    from collector.setup.limits import format_hours, parse_hours
    from core.errors import InvalidInput

    assert parse_hours("mon-fri 07-17") == ([1, 2, 3, 4, 5], 7, 17)
    assert parse_hours("Sat,sun 10:00-24") == ([6, 7], 10, 24)
    assert format_hours([1, 2, 3, 5], 7, 9) == "mon-wed,fri 07-09"
    for bad, why in [("mon-fry 07-17", "mon-fry"), ("fri-mon 07-17", "backwards"), ("mon-fri 17-07", "forwards"),
                     ("weekdays", "like")]:
        with pytest.raises(InvalidInput, match=why) as e:
            parse_hours(bad)
        assert e.value.errors[0]["field"] == "hours" and e.value.errors[0]["value"] == bad


def test_limit_set_hours_from_the_cli(db, db_url, monkeypatch, capsys):
    import json

    from fartkoll.cli import main

    site = make_site(db, "Skolvägen 9")
    db.commit()
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("FARTKOLL_CONFIG", raising=False)
    assert main(["limit", "set", str(site), "30", "--hours", "mon-fri 07-17", "--from", "2025-01-01", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["limit"]["hours"] == "mon-fri 07-17" and out["closed"] is None  # the standing 50 stays
    rows = db.execute("SELECT posted_value, days, hour_from, hour_to, valid_to FROM speed_limits WHERE site_id = %s "
                      "ORDER BY timed", (site,)).fetchall()
    assert rows == [(50, None, None, None, None), (30, [1, 2, 3, 4, 5], 7, 17, None)]
    assert main(["limit", "set", str(site), "30", "--hours", "mon-fry 07-17", "--from", "2025-02-01"]) == 2
    assert "mon-fry" in capsys.readouterr().err
    assert main(["limit", "list", str(site)]) == 0
    assert "mon-fri 07-17" in capsys.readouterr().out
