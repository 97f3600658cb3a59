"""The set-up use cases (collector.setup) against a real database: sites, limits in km/h and mph,
signs, deployments, sign tokens, tips; bad input named; every change audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from collector.protocols import PROTOCOLS
from collector.setup import deployments, limits, places, sign_tokens, signs, tips
from collector.tokens import hash_token
from core.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from fartkoll.demo.world import build_world

ACTOR = "tech@example.org"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _audit(db, entity: str) -> list[tuple]:
    return db.execute("SELECT actor, action, entity_id FROM audit_log WHERE entity = %s ORDER BY id", (entity,)).fetchall()


@pytest.fixture
def site(db):
    return places.add_site(db, actor=ACTOR, name="Skolgatan 12", street="Skolgatan", municipality_name="Testkommun",
                           police_area="LPO Test", lat=59.39, lon=15.84, time_zone="Europe/Stockholm",
                           tags=["School"])


def test_add_site_creates_its_area_municipality_and_street_once_and_audits(db, site):
    assert (site.street, site.municipality, site.police_area, site.tags) == ("Skolgatan", "Testkommun", "LPO Test", ["school"])
    again = places.add_site(db, actor=ACTOR, name="Skolgatan 20", street="Skolgatan", municipality_name="Testkommun")
    assert again.municipality_id == site.municipality_id
    assert db.execute("SELECT count(*) FROM streets").fetchone()[0] == 1
    assert [a[1] for a in _audit(db, "site")] == ["create", "create"]
    assert len(_audit(db, "municipality")) == 1 and len(_audit(db, "police_area")) == 1 and len(_audit(db, "street")) == 1
    assert [s.name for s in places.list_sites(db)] == ["Skolgatan 12", "Skolgatan 20"]


def test_bad_site_input_is_named(db, site):
    with pytest.raises(InvalidInput) as e:
        places.add_site(db, actor=ACTOR, name="X", street="S", municipality_name="Testkommun", time_zone="Europe/Stockhom")
    assert e.value.errors[0]["field"] == "time_zone" and e.value.errors[0]["value"] == "Europe/Stockhom"
    assert "Europe/Stockholm" in str(e.value)          # the near name is suggested
    with pytest.raises(NotFound, match="Testkomun.*did you mean Testkommun"):
        places.add_site(db, actor=ACTOR, name="X", street="S", municipality_name="Testkomun")
    with pytest.raises(Conflict, match="Skolgatan 12"):
        places.add_site(db, actor=ACTOR, name="Skolgatan 12", street="S", municipality_name="Testkommun")
    with pytest.raises(InvalidInput, match="lat"):
        places.add_site(db, actor=ACTOR, name="X", street="S", municipality_name="Testkommun", lat=91.0, lon=0.0)
    assert db.execute("SELECT count(*) FROM sites").fetchone()[0] == 1


def test_limit_in_mph_is_stored_as_posted_and_rounded_down_in_kmh(db):
    uk = places.add_site(db, actor=ACTOR, name="High Street 4", street="High Street", municipality_name="Oxford",
                         police_area="Thames Valley", time_zone="Europe/London")
    out = limits.set_limit(db, actor=ACTOR, site_id=uk.id, value=30, unit="mph", from_date=date(2025, 7, 1))
    assert (out.limit.posted_value, out.limit.posted_unit, out.limit.limit_kmh) == (30, "mph", 48)
    # local midnight of the site's day: 1 July in London is 23:00 UTC the day before (BST)
    assert out.limit.valid_from == datetime(2025, 6, 30, 23, 0, tzinfo=UTC) and out.closed is None
    row = db.execute("SELECT posted_value, posted_unit, limit_kmh FROM speed_limits WHERE site_id = %s", (uk.id,)).fetchone()
    assert row == (30, "mph", 48)


def test_a_new_limit_closes_the_one_in_force_and_never_overlaps(db, site):
    limits.set_limit(db, actor=ACTOR, site_id=site.id, value=50, unit="kmh", from_date=date(2020, 1, 1))
    out = limits.set_limit(db, actor=ACTOR, site_id=site.id, value=30, unit="kmh", from_date=date(2026, 8, 15))
    assert out.closed is not None and out.closed.to_date == date(2026, 8, 15) and out.closed.posted_value == 50
    hist = limits.list_limits(db, site.id)
    assert [(h.posted_value, h.from_date, h.to_date) for h in hist] == [
        (50, date(2020, 1, 1), date(2026, 8, 15)), (30, date(2026, 8, 15), None)]
    # a limit set in the past, open-ended, would overlap the later one: refused, nothing changed
    with pytest.raises(Conflict, match="30 kmh from 2026-08-15"):
        limits.set_limit(db, actor=ACTOR, site_id=site.id, value=40, unit="kmh", from_date=date(2024, 1, 1))
    assert [(h.posted_value, h.to_date) for h in limits.list_limits(db, site.id)] == [(50, date(2026, 8, 15)), (30, None)]
    # bounded, it fits: 2024-01-01..2025-01-01 inside the 50 period, which is closed at its start
    fit = limits.set_limit(db, actor=ACTOR, site_id=site.id, value=40, unit="kmh", from_date=date(2024, 1, 1),
                           to_date=date(2025, 1, 1))
    assert fit.closed.to_date == date(2024, 1, 1)
    assert [a[1] for a in _audit(db, "speed_limit")] == ["set", "set", "set"]


@pytest.mark.parametrize("value, unit, field", [(4, "kmh", "posted_value"), (131, "kmh", "posted_value"),
                                                (81, "mph", "posted_value"), (30, "knots", "unit")])
def test_limit_out_of_range_is_named(db, site, value, unit, field):
    with pytest.raises(InvalidInput) as e:
        limits.set_limit(db, actor=ACTOR, site_id=site.id, value=value, unit=unit, from_date=date(2026, 1, 1))
    assert e.value.errors[0]["field"] == field and str(value if field != "unit" else unit) in str(e.value)
    assert limits.list_limits(db, site.id) == []


def test_unknown_protocol_lists_the_collector_names(db):
    with pytest.raises(InvalidInput) as e:
        signs.add_sign(db, actor=ACTOR, serial="HR-1", protocol="houston")
    assert e.value.errors == [{"record": None, "field": "protocol", "value": "houston", "reason": "is not a collector protocol"}]
    assert "houston-dr500" in str(e.value) and all(p in str(e.value) for p in PROTOCOLS)
    assert db.execute("SELECT count(*) FROM signs").fetchone()[0] == 0


def test_deploy_move_remove_keep_one_site_at_a_time(db, site):
    other = places.add_site(db, actor=ACTOR, name="Storgatan 3", street="Storgatan", municipality_name="Testkommun")
    g = signs.add_sign(db, actor=ACTOR, serial="HR-SS300-1", protocol="houston-dr500", unit="mph", rounding="round")
    d = deployments.deploy(db, actor=ACTOR, sign_id=g.id, site_id=site.id, at=T0, display="stealth",
                           mount_angle_deg=15, approach_heading="N")
    assert (d.site, d.display, d.valid_to, d.mount_angle_deg) == ("Skolgatan 12", "stealth", None, 15)
    with pytest.raises(Conflict, match=f"deployment {d.id} at site 'Skolgatan 12'.*sign move HR-SS300-1"):
        deployments.deploy(db, actor=ACTOR, sign_id=g.id, site_id=other.id, at=T0 + timedelta(days=1))
    later = T0 + timedelta(days=14)
    m = deployments.move(db, actor=ACTOR, sign_id=g.id, site_id=other.id, at=later, approach_heading="SW")
    assert m.closed.valid_to == later and m.opened.valid_from == later and m.opened.display == "stealth"
    assert signs.list_signs(db, at=later + timedelta(hours=1))[0].deployment.site == "Storgatan 3"
    assert signs.list_signs(db, at=later - timedelta(hours=1))[0].deployment.site == "Skolgatan 12"
    # a move that would overlap is refused and leaves the old deployment open
    with pytest.raises(InvalidInput, match="must be after the start"):
        deployments.move(db, actor=ACTOR, sign_id=g.id, site_id=site.id, at=later)
    assert deployments.list_deployments(db, sign_id=g.id)[-1].valid_to is None
    r = deployments.remove(db, actor=ACTOR, sign_id=g.id, at=later + timedelta(days=3))
    assert r.valid_to == later + timedelta(days=3)
    with pytest.raises(Conflict, match="not deployed"):
        deployments.remove(db, actor=ACTOR, sign_id=g.id, at=later + timedelta(days=4))
    # deploying back before the removal overlaps the deployment at Storgatan: refused, named
    with pytest.raises(Conflict, match=f"deployment {m.opened.id} at site 'Storgatan 3'"):
        deployments.deploy(db, actor=ACTOR, sign_id=g.id, site_id=site.id, at=later + timedelta(days=1))
    assert [a[:2] for a in _audit(db, "deployment")] == [(ACTOR, "deploy"), (ACTOR, "move"), (ACTOR, "remove")]
    assert len(deployments.list_deployments(db, sign_id=g.id)) == 2


def test_a_move_refused_by_a_later_deployment_undoes_the_close(db, site):
    other = places.add_site(db, actor=ACTOR, name="Storgatan 3", street="Storgatan", municipality_name="Testkommun")
    g = signs.add_sign(db, actor=ACTOR, serial="S1", protocol="ops-json")
    first = deployments.deploy(db, actor=ACTOR, sign_id=g.id, site_id=site.id, at=T0)
    deployments.remove(db, actor=ACTOR, sign_id=g.id, at=T0 + timedelta(days=5))
    deployments.deploy(db, actor=ACTOR, sign_id=g.id, site_id=other.id, at=T0 + timedelta(days=10))
    with pytest.raises(Conflict, match="Storgatan 3"):
        deployments.move(db, actor=ACTOR, sign_id=g.id, site_id=other.id, at=T0 + timedelta(days=2))
    assert deployments.list_deployments(db, deployment_id=first.id)[0].valid_to == T0 + timedelta(days=5)


def test_tokens_are_shown_once_stored_hashed_and_revocable(db):
    g = signs.add_sign(db, actor=ACTOR, serial="S1", protocol="ops-json")
    t = sign_tokens.issue_token(db, actor=ACTOR, sign_id=g.id, label="modem")
    assert t.token.startswith("fks_")
    stored = db.execute("SELECT token_hash, sign_id, user_id FROM api_tokens WHERE id = %s", (t.id,)).fetchone()
    assert stored == (hash_token(t.token), g.id, None)
    listed = sign_tokens.list_tokens(db, sign_id=g.id)
    assert [x.id for x in listed] == [t.id] and "token" not in listed[0].model_dump()
    r = sign_tokens.revoke_token(db, actor=ACTOR, token_id=t.id, at=T0)
    assert r.revoked_at == T0
    assert sign_tokens.revoke_token(db, actor=ACTOR, token_id=t.id, at=T0 + timedelta(days=1)).revoked_at == T0
    assert [a[1] for a in _audit(db, "sign_token")] == ["issue", "revoke"]
    assert t.token not in str(db.execute("SELECT detail::text FROM audit_log").fetchall())
    with pytest.raises(NotFound):
        sign_tokens.revoke_token(db, actor=ACTOR, token_id=t.id + 99, at=T0)


def test_tips_are_scoped_to_municipalities_and_size_limited(db, site):
    far = places.add_site(db, actor=ACTOR, name="Annan väg 1", street="Annan väg", municipality_name="Annan kommun",
                          police_area="LPO Annan")
    a = tips.add_tip(db, actor="anonymous", now=T0, site_id=site.id, text="Fort efter skolan")
    tips.add_tip(db, actor="anonymous", now=T0 + timedelta(minutes=1), site_id=far.id, text="Racing")
    pos = tips.add_tip(db, actor="anonymous", now=T0 + timedelta(minutes=2), lat=59.0, lon=15.0)
    near = tips.add_tip(db, actor="anonymous", now=T0 + timedelta(minutes=3), lat=59.391, lon=15.845)  # ~0.3 km away
    tips.add_tip(db, actor="anonymous", now=T0 + timedelta(minutes=4), lat=59.0, lon=15.0,
                 municipality_id=far.municipality_id)
    assert (pos.municipality, near.municipality, near.street) == (None, "Testkommun", None)
    assert (a.site, a.street, a.municipality, a.channel, a.status) == ("Skolgatan 12", "Skolgatan", "Testkommun", "web", "new")
    assert [t.id for t in tips.list_tips(db, municipality_ids=[site.municipality_id])] == [near.id, a.id]
    assert [t.text for t in tips.list_tips(db, municipality_ids=[far.municipality_id])] == ["", "Racing"]
    assert len(tips.list_tips(db, municipality_ids=None)) == 5
    with pytest.raises(NotFound, match="municipality"):
        tips.add_tip(db, actor="anonymous", now=T0, lat=59.0, lon=15.0, municipality_id=2**40)
    with pytest.raises(InvalidInput, match="longer than 2000"):
        tips.add_tip(db, actor="anonymous", now=T0, site_id=site.id, text="x" * 2001)
    with pytest.raises(InvalidInput, match="say where"):
        tips.add_tip(db, actor="anonymous", now=T0, text="somewhere")


def test_tip_rate_limit_is_per_client_and_window(db):
    for i in range(3):
        assert tips.count_tip(db, client="10.0.0.1", now=T0 + timedelta(seconds=i), limit=3, window_s=600) == i + 1
    with pytest.raises(TooManyRequests) as e:
        tips.count_tip(db, client="10.0.0.1", now=T0 + timedelta(seconds=100), limit=3, window_s=600)
    assert e.value.retry_after_s == 500 and e.value.headers == {"Retry-After": "500"}
    assert tips.count_tip(db, client="10.0.0.2", now=T0, limit=3, window_s=600) == 1
    assert tips.count_tip(db, client="10.0.0.1", now=T0 + timedelta(seconds=600), limit=3, window_s=600) == 1
    # the address is not stored
    assert b"10.0.0.1" not in b"".join(r[0] for r in db.execute("SELECT client_hash FROM tip_rate").fetchall())


def test_the_demo_uses_the_collectors_protocol_names():
    world = build_world(weeks=1, end=date(2026, 5, 4))
    assert {g.protocol for g in world.signs} <= set(PROTOCOLS)


def test_limits_written_by_kmh_alone_are_posted_in_kmh(db, site):
    db.execute("INSERT INTO speed_limits (site_id, valid_from, limit_kmh) VALUES (%s, %s, 50)", (site.id, T0))
    db.execute("UPDATE speed_limits SET limit_kmh = 40 WHERE site_id = %s", (site.id,))
    assert db.execute("SELECT posted_value, posted_unit FROM speed_limits").fetchone() == (40, "kmh")
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE speed_limits SET posted_unit = 'mph' WHERE site_id = %s", (site.id,))


def test_two_technicians_deploying_one_sign_at_once_get_one_deployment_and_a_conflict(db, db_url, site):
    import threading

    g = signs.add_sign(db, actor=ACTOR, serial="S1", protocol="ops-json")
    db.commit()
    first = deployments.deploy(db, actor=ACTOR, sign_id=g.id, site_id=site.id, at=T0)   # not committed yet
    outcome: list[BaseException | object] = []

    def second() -> None:
        with psycopg.connect(db_url) as other:
            try:
                outcome.append(deployments.deploy(other, actor="b@example.org", sign_id=g.id, site_id=site.id,
                                                  at=T0 + timedelta(hours=1)))
            except Conflict as e:
                outcome.append(e)

    t = threading.Thread(target=second)
    t.start()
    t.join(1.0)
    assert t.is_alive()             # waits on the first transaction's row
    db.commit()
    t.join(10)
    assert isinstance(outcome[0], Conflict) and "S1" in str(outcome[0])
    assert [d.id for d in deployments.list_deployments(db, sign_id=g.id)] == [first.id]
