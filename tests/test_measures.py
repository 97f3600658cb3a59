"""Measures at a site on the seeded demo: recorded and audited (use case, CLI, API), refused with
the field named, scoped to the staff of the site's municipality, and a real drop in speeds after
a measure found against comparison sites while an untouched site shows none."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import httpx
import psycopg
import pytest
from people import PASSWORD, session_cookie
from servers import running

from api import people
from api.app import create_app
from core.errors import InvalidInput, NotFound
from fartkoll.cli import main
from fartkoll.settings import Settings
from planner.measures import MeasureNew, add_measure, get_measure, list_measures, measure_effect

DAY = date(2024, 10, 14)  # a Monday, three weeks before the demo's data end
DROP_KMH = 8


def _site(conn, name_start: str) -> int:
    return conn.execute("SELECT id FROM sites WHERE name LIKE %s", (name_start + "%",)).fetchone()[0]


def _slow_down(conn, site_id: int, after: date, kmh: int) -> None:
    """Every vehicle at the site from the local day ``after`` on drives ``kmh`` slower (the
    hourly histograms shifted down, their sums moved to match)."""
    conn.execute("""
        UPDATE rollup_hourly SET
            hist = ('[' || (array_lower(hist, 1) - %(k)s) || ':' || (array_upper(hist, 1) - %(k)s) || ']={'
                    || array_to_string(hist, ',') || '}')::int[],
            sumsq_kmh = sumsq_kmh - 2 * %(k)s * sum_kmh + %(k)s * %(k)s * n,
            sum_kmh = sum_kmh - %(k)s * n
        WHERE site_id = %(site)s AND hour >= (%(day)s::date::timestamp AT TIME ZONE 'Europe/Stockholm')""",
                 {"k": kmh, "site": site_id, "day": after})
    conn.commit()


def test_a_measure_is_recorded_listed_and_audited_and_a_wrong_one_names_its_field(seeded_url):
    with psycopg.connect(seeded_url) as conn:
        site = _site(conn, "Björkvägen")
        now = datetime.now(UTC)
        m = add_measure(conn, site, MeasureNew(taken_on=DAY, kind="limit", limit_kmh=30, note=" signs up "),
                        actor="planner@angsvik.se", now=now)
        conn.commit()
        assert (m.site_id, m.taken_on, m.kind, m.limit_kmh, m.note, m.created_by) == (
            site, DAY, "limit", 30, "signs up", "planner@angsvik.se")
        assert [x.id for x in list_measures(conn, site_id=site)] == [m.id]
        audit = conn.execute("SELECT actor, action, detail FROM audit_log WHERE entity = 'measures' AND entity_id = %s",
                             (str(m.id),)).fetchall()
        assert audit == [("planner@angsvik.se", "measure.create",
                          {"site_id": site, "taken_on": DAY.isoformat(), "kind": "limit", "limit_kmh": 30,
                           "display": None})]
        wrong = [(MeasureNew(taken_on=DAY, kind="limit"), "limit_kmh"),
                 (MeasureNew(taken_on=DAY, kind="speed_bump", limit_kmh=30), "limit_kmh"),
                 (MeasureNew(taken_on=DAY, kind="sign_display"), "display"),
                 (MeasureNew(taken_on=DAY, kind="narrowing", display="stealth"), "display"),
                 (MeasureNew(taken_on=DAY, kind="other", note="  "), "note")]
        for body, field in wrong:
            with pytest.raises(InvalidInput) as e:
                add_measure(conn, site, body, actor="x", now=now)
            assert e.value.errors[0]["field"] == field
        with pytest.raises(NotFound):
            add_measure(conn, 999_999, MeasureNew(taken_on=DAY, kind="speed_bump"), actor="x", now=now)
        other_municipality = conn.execute(
            "SELECT id FROM municipalities WHERE id <> (SELECT st.municipality_id FROM sites s "
            "JOIN streets st ON st.id = s.street_id WHERE s.id = %s) LIMIT 1", (site,)).fetchone()[0]
        with pytest.raises(NotFound):
            get_measure(conn, m.id, municipality_ids=[other_municipality])


def test_a_real_drop_after_a_measure_is_found_and_an_untouched_site_shows_none(seeded_url):
    settings = Settings(database_url=seeded_url)
    with psycopg.connect(seeded_url) as conn:
        treated, untouched = _site(conn, "Västra Ringvägen"), _site(conn, "Björkvägen")
        _slow_down(conn, treated, DAY, DROP_KMH)
        now = datetime.now(UTC)
        bump = add_measure(conn, treated, MeasureNew(taken_on=DAY, kind="speed_bump"), actor="t", now=now)
        nothing = add_measure(conn, untouched, MeasureNew(taken_on=DAY, kind="other", note="new signs"),
                              actor="t", now=now)
        conn.commit()
        e = measure_effect(conn, settings.planner, bump.id)
        assert e.followup.effect is not None and e.followup.effect.computed
        assert e.followup.effect.baseline == (date(2024, 9, 16), DAY)
        assert treated not in e.followup.comparison_sites
        assert untouched not in e.followup.comparison_sites  # it has a measure in the window
        assert len(e.followup.comparison_sites) >= 3
        for window in ("week 1", "weeks 2-4"):
            share, v85 = e.followup.effect.share_over_limit[window], e.followup.effect.v85_kmh[window]
            assert share.verdict == "decrease", (window, share)
            assert v85.verdict == "decrease" and abs(v85.did + DROP_KMH) < 2.0, (window, v85)
        # the figures beside it: the site first, before untouched, after slower by the drop
        assert e.before[0].site.id == treated and e.after[0].site.id == treated
        before = {(s.direction, s.display): s for s in e.before[0].sides}
        after = {(s.direction, s.display): s for s in e.after[0].sides}
        for key in before.keys() & after.keys():
            assert abs((before[key].v85_kmh - after[key].v85_kmh) - DROP_KMH) < 3.0, key
        calm = measure_effect(conn, settings.planner, nothing.id)
        for window in ("week 1", "weeks 2-4"):
            v85 = calm.followup.effect.v85_kmh[window]
            assert abs(v85.did) < 2.5 and v85.low < 1.0, (window, v85)
        assert calm.followup.effect.halo_days is None and calm.followup.effect.return_from is None


def test_measures_over_http_and_the_cli(seeded_url, monkeypatch, capsys):
    with psycopg.connect(seeded_url) as conn:
        site = _site(conn, "Skolvägen")
        mun = conn.execute("SELECT st.municipality_id FROM sites s JOIN streets st ON st.id = s.street_id "
                           "WHERE s.id = %s", (site,)).fetchone()[0]
        other = conn.execute("SELECT id FROM municipalities WHERE id <> %s LIMIT 1", (mun,)).fetchone()[0]
        staff = people.add_user(conn, "test", people.UserNew(email="planner@angsvik.se", role="viewer",
                                                             municipality_id=mun, password=PASSWORD))
        stranger = people.add_user(conn, "test", people.UserNew(email="planner@elsewhere.se", role="viewer",
                                                                municipality_id=other, password=PASSWORD))
        conn.commit()
        cookies = {p: session_cookie(conn, u.id) for p, u in (("staff", staff), ("stranger", stranger))}
    app = create_app(Settings(database_url=seeded_url))
    with running(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        token = http.get("/api/v1/me", headers={"cookie": f"fartkoll_session={cookies['staff']}"}).json()["csrf_token"]

        def as_(who: str | None, method: str, url: str, **kw) -> httpx.Response:
            jar = {"csrftoken": token} | ({"fartkoll_session": cookies[who]} if who else {})
            cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
            return http.request(method, url, headers={"x-csrftoken": token, "cookie": cookie}, **kw)

        body = {"taken_on": "2024-10-14", "kind": "narrowing", "note": "chicane at the school"}
        assert as_(None, "POST", f"/api/v1/sites/{site}/measures", json=body).status_code == 401
        assert as_("stranger", "POST", f"/api/v1/sites/{site}/measures", json=body).status_code == 404
        r = as_("staff", "POST", f"/api/v1/sites/{site}/measures", json={**body, "kind": "limit"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "limit_kmh"
        r = as_("staff", "POST", f"/api/v1/sites/{site}/measures", json=body)
        assert r.status_code == 201, r.text
        made = r.json()
        assert (made["kind"], made["taken_on"], made["created_by"]) == ("narrowing", "2024-10-14", "planner@angsvik.se")
        listed = as_("staff", "GET", f"/api/v1/sites/{site}/measures").json()
        assert [m["id"] for m in listed] == [made["id"]]
        assert as_("stranger", "GET", f"/api/v1/sites/{site}/measures").status_code == 404
        assert as_("stranger", "GET", f"/api/v1/measures/{made['id']}/effect").status_code == 404
        effect = as_("staff", "GET", f"/api/v1/measures/{made['id']}/effect").json()
        assert effect["measure"]["id"] == made["id"]
        assert set(effect["followup"]["effect"]["share_over_limit"]) == {"during", "+1 day", "week 1", "weeks 2-4"}

    monkeypatch.setenv("DATABASE_URL", seeded_url)
    monkeypatch.delenv("FARTKOLL_DATABASE_URL", raising=False)
    capsys.readouterr()
    assert main(["measure", "add", "--site", "Skolvägen", "--on", "2024-10-21", "--kind", "sign_display",
                 "--display", "stealth", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert (added["kind"], added["display"], added["created_by"].startswith("cli:")) == ("sign_display", "stealth", True)
    assert main(["measure", "list", "--site", "Skolvägen", "--json"]) == 0
    assert [m["id"] for m in json.loads(capsys.readouterr().out)] == [added["id"], made["id"]]
    assert main(["measure", "effect", str(made["id"]), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)

    def without_periods(e: dict) -> dict:  # a period's "from" key is spelled by alias in the API only
        return {**e, **{k: [{**col, "period": None} for col in e[k]] for k in ("before", "after")}}

    assert without_periods(printed) == without_periods(effect)  # the CLI prints what the API answers
    assert main(["measure", "effect", str(made["id"])]) == 0
    assert "weeks 2-4" in capsys.readouterr().out
    assert main(["measure", "add", "--site", "Skolvägen", "--on", "2024-10-21", "--kind", "other"]) == 2
    assert "note" in capsys.readouterr().err
