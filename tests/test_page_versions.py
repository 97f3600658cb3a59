"""The row the map's kept sites overview rests on (``pages_overview_version``): it changes with
a site's new or late vehicles, its coverage, its limits and its signs, and not otherwise; the
map page served from it shows a new vehicle's site figures at once."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from places import deploy, make_sign, make_site

from api.pages.site_cache import PageCache
from collector.passes import Direction, Display, VehiclePass
from collector.setup.limits import set_limit
from collector.store import write_passes
from planner.settings import PlannerSettings
from planner.siteoverview import sites_overview
from sql import QUERIES

UTC = timezone.utc
T0 = datetime(2025, 3, 4, 5, tzinfo=UTC)


def _version(db) -> tuple:
    return tuple(db.execute(QUERIES["pages_overview_version"]).fetchone())


def _write(db, site: int, sign: int, start: datetime, speeds: list[float]) -> None:
    passes = [VehiclePass(start + timedelta(seconds=30 * i), v, Direction.APPROACHING, sign, site, Display.DISPLAY)
              for i, v in enumerate(speeds)]
    assert write_passes(db, passes, received=start + timedelta(days=30)).inserted == len(passes)
    db.commit()


def test_the_overview_version_follows_what_the_map_rests_on(db):
    site = make_site(db, "Versionsgatan 1")
    sign = make_sign(db, "SN-Version-1", "truncate")
    deploy(db, sign, site, datetime(2024, 1, 1, tzinfo=UTC), display=1)
    db.commit()
    _write(db, site, sign, T0, [40.0] * 40)
    v0 = _version(db)
    assert _version(db) == v0  # nothing changed, nothing differs
    cache = PageCache()

    def overview():
        return cache.overview(db, lambda: sites_overview(db, PlannerSettings()))

    first = overview()
    assert overview() is first and cache.hits == 1
    _write(db, site, sign, T0 + timedelta(minutes=30), [60.0] * 10)  # late vehicles inside a kept hour
    v1 = _version(db)
    assert v1 != v0
    again = overview()
    assert again is not first
    (mine,) = [s for s in again if s.id == site]
    assert sum(g.n for g in mine.recent) == 50
    set_limit(db, actor="test", site_id=site, value=40, unit="kmh", from_date=date(2024, 6, 1))
    db.commit()
    v2 = _version(db)
    assert v2 != v1
    db.execute("UPDATE signs SET rounding = 'round' WHERE id = %s", (sign,))
    db.commit()
    assert _version(db) != v2
