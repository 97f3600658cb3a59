"""The situation picture: the week's real figures from a seeded demo database, in both languages."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import psycopg
import pytest
from seeded_demo import WEEKS, WORLD

from core import i18n
from fartkoll.demo import world as W
from planner.load import Period
from planner.names import direction_name
from planner.ranking import rank
from planner.report.data import gather
from planner.report.model import Week, WeekError
from planner.report.render import render_html
from planner.settings import PlannerSettings

UTC = timezone.utc
NOW = datetime(2024, 11, 4, 8, 0, tzinfo=UTC)
PLANNER = PlannerSettings()
GAP = WORLD.outages[0]
GAP_WEEK = Week.containing(GAP.start.astimezone(ZoneInfo("Europe/Stockholm")).date())


@pytest.fixture(scope="module")
def pictures(demo_ro_url):
    """(connection URL, {week label: picture}) for the week with the dead sign's gap and the last week."""
    with psycopg.connect(demo_ro_url) as conn:
        pics = {w.label: gather(conn, w, PLANNER, now=NOW, silent_hours=6) for w in (GAP_WEEK, Week.last_complete(NOW))}
    yield demo_ro_url, pics


def test_week_parsing_and_bounds():
    w = Week.parse("2024-W44", NOW)
    assert (w.monday.isoformat(), w.sunday.isoformat()) == ("2024-10-28", "2024-11-03")
    assert w.start.utcoffset() == timedelta(hours=1) and w.end - w.start == timedelta(days=7, hours=0)
    assert Week.parse("44", NOW) == Week.parse("2024w44", NOW) == w == Week.last_complete(NOW)
    assert Week.parse("2024-W43", NOW).end.astimezone(UTC) == datetime(2024, 10, 27, 23, tzinfo=UTC)  # DST ends in W43
    with pytest.raises(WeekError, match="2024-W44"):
        Week.parse("2024-W54", NOW)


def test_figures_equal_a_direct_computation(pictures):
    url, pics = pictures
    pic = pics[GAP_WEEK.label]
    s, e = GAP_WEEK.start, GAP_WEEK.end
    with psycopg.connect(url) as conn:
        one = lambda q, *p: conn.execute(q, p).fetchone()  # noqa: E731
        assert pic.figures.vehicles == one("SELECT count(*) FROM readings WHERE time >= %s AND time < %s", s, e)[0]
        for mode, n_attr, share_attr in ((0, "stealth_vehicles", "stealth_share_over_limit"),
                                         (1, "display_vehicles", "display_share_over_limit")):
            n, over = one("SELECT count(*), count(*) FILTER (WHERE r.speed_kmh > l.limit_kmh) FROM readings r "
                          "JOIN speed_limits l ON l.site_id = r.site_id AND r.time >= l.valid_from "
                          "AND (l.valid_to IS NULL OR r.time < l.valid_to) "
                          "WHERE r.time >= %s AND r.time < %s AND r.display = %s", s, e, mode)
            assert getattr(pic.figures, n_attr) == n
            # 'exact' signs' bins are split at the limit: the histogram figure is within a hair of the count
            assert getattr(pic.figures, share_attr) == pytest.approx(over / n, abs=0.004)
        controls, reports = one("SELECT count(*), coalesce(sum(reports_written), 0) FROM controls "
                                "WHERE start_time >= %s AND start_time < %s", s, e)
        assert (pic.figures.controls, pic.figures.reports_written) == (controls, reports)
        tips = conn.execute("SELECT received_at, text FROM citizen_tips WHERE received_at >= %s AND received_at < %s "
                            "ORDER BY received_at", (s, e)).fetchall()
        assert [(t.received_at, t.text) for t in pic.tips] == tips and pic.figures.new_tips == len(tips)

        ranked = rank(conn, PLANNER, period=Period((e - timedelta(weeks=4)).astimezone(UTC), e.astimezone(UTC)))
        best = ranked.ranking.rows(1)[0]
        top = pic.top[0]
        assert (top.site_id, top.direction, top.weekday * 24 + top.hour) == (
        best.site_id, direction_name(best.direction), best.hour_of_week)
        assert top.score == pytest.approx(best.total) and top.expected_reportable == pytest.approx(best.expected_reportable)
        assert len(pic.top) == 10 and max(sum(c.site_id == t.site_id for c in pic.top) for t in pic.top) <= 2
        assert [t.site_id for t in pic.trends] == [x.site_id for x in ranked.sites[:5]]

        # the dead sign's three days without power are the week's only silence
        assert [(x.serial, x.ongoing) for x in pic.silences] == [(W.DEAD_SIGN, False)]
        assert pic.silences[0].start < GAP.start < GAP.end < pic.silences[0].end and 72 <= pic.silences[0].hours < 73
        assert pic.figures.silent_signs == 1

        # controls listed are those of the ranking window, each with the follow-up's effect
        n_ctrl = one("SELECT count(*) FROM controls WHERE start_time >= %s AND start_time < %s",
                     e - timedelta(weeks=4), e)[0]
        assert len(pic.controls) == n_ctrl > 0
        # the promise counts controls at sites with citizen tips, week by week
        complaint = [WORLD.site(t.site).name for t in WORLD.tips if t.received_at < e]
        assert set(pic.promise.sites) == set(complaint)
        wk = pic.promise.weeks[-1]
        assert wk.week == GAP_WEEK.label and wk.controls == one(
            "SELECT count(*) FROM controls c JOIN sites s ON s.id = c.site_id WHERE s.name = ANY(%s) "
            "AND c.start_time >= %s AND c.start_time < %s", list(set(complaint)), s, e)[0]


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s)


def _text(html: str) -> str:
    return _norm(re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_renders_in_both_languages_with_the_weeks_figures(pictures, lang):
    _, pics = pictures
    pic = pics[GAP_WEEK.label]
    html = render_html(pic, lang)
    text = _text(html)
    assert html.startswith("<!DOCTYPE html>") and f'lang="{lang}"' in html and "@page { size: A4" in html
    assert "<script" not in html and html.count("<svg") == 2
    title = {"sv": f"Lägesbild trafiksäkerhet, vecka {GAP_WEEK.week}, 2024",
             "en": f"Road safety situation picture, week {GAP_WEEK.week}, 2024"}[lang]
    assert title in text
    assert _norm(i18n.number(pic.figures.vehicles, lang, 0)) in text
    assert _norm(i18n.percent(pic.figures.stealth_share_over_limit, lang)) in text
    assert _norm(i18n.number(pic.top[0].expected_reportable, lang, 1)) in text
    assert {"sv": "fordon uppmätta", "en": "vehicles measured"}[lang] in text
    assert {"sv": "Skyltar som inte rapporterat", "en": "Signs not reporting"}[lang] in text
    assert W.DEAD_SIGN in text and pic.top[0].site_name in text
    other = {"sv": "vehicles measured", "en": "fordon uppmätta"}[lang]
    assert other not in text
    if lang == "sv":
        assert re.search(r"\d,\d", i18n.number(pic.top[0].expected_reportable, lang, 1))  # decimal comma
        assert "\u202f" in i18n.number(pic.figures.vehicles, lang, 0)


def test_week_without_silence_and_tips_says_so(pictures):
    _, pics = pictures
    pic = pics[Week.last_complete(NOW).label]
    assert pic.silences == () and pic.figures.silent_signs == 0
    text = _text(render_html(pic, "en"))
    assert "Every deployed sign reported during the week." in text
    assert len(pic.trends[0].points) == WEEKS  # the demo's weeks, not weeks before the data


def test_names_from_the_database_are_escaped(pictures):
    _, pics = pictures
    from dataclasses import replace

    pic = pics[GAP_WEEK.label]
    evil = replace(pic, area="<script>alert(1)</script>")
    html = render_html(evil, "sv")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_report_json_is_the_picture_the_html_is_rendered_from(pictures, monkeypatch, capsys):
    import json

    from fartkoll.cli import main
    from planner.report.situation import SITUATION

    url, pics = pictures
    pic = pics[GAP_WEEK.label]
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FARTKOLL_JOBS__SILENT_HOURS", "6")
    assert main(["planner", "report", "--week", GAP_WEEK.label, "--at", NOW.isoformat(), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    expected = json.loads(SITUATION.dump_json(pic))
    expected.pop("generated_at"), d.pop("generated_at")
    assert d == expected
    assert d["week"]["year"] == 2024 and d["week"]["week"] == GAP_WEEK.week
    assert d["figures"]["vehicles"] == pic.figures.vehicles > 0
    assert d["top"] and {c["direction"] for c in d["top"]} <= {"approaching", "receding", "unknown"}
    assert {p["display"] for t in d["trends"] for p in t["points"]} <= {"display", "stealth", None}
