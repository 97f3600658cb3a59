"""The situation picture as one self-contained HTML page: inline CSS, inline SVG, A4 print layout.

Pure: ``render_html(picture, lang)`` returns a string; nothing is read from the clock or the
database. Every text from the database is escaped.
"""

from __future__ import annotations

from html import escape

from . import charts
from .model import SituationPicture
from .texts import Words

CSS = """
@page { size: A4; margin: 14mm 13mm 16mm 13mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10pt; color: #1b1b1b;
       margin: 0 auto; max-width: 190mm; line-height: 1.35; }
h1 { font-size: 18pt; margin: 0 0 2mm; color: #12355b; }
h2 { font-size: 12.5pt; margin: 7mm 0 2mm; color: #12355b; border-bottom: 1.5px solid #12355b; padding-bottom: 1mm;
     break-after: avoid; }
p.sub { margin: 0; color: #444; }
p.intro { margin: 1mm 0 2mm; color: #333; font-size: 9pt; }
section { break-inside: avoid-page; }
section.long { break-inside: auto; }
.nodata { border: 1.5px solid #a04000; background: #fff6ef; padding: 3mm 4mm; margin: 4mm 0; font-size: 11pt; }
.figures { display: flex; flex-wrap: wrap; gap: 2.5mm; margin-top: 2mm; }
.figure { flex: 1 1 40mm; border: 1px solid #c9d6e3; border-radius: 2mm; padding: 2mm 3mm; background: #f4f8fb; }
.figure .v { font-size: 15pt; font-weight: bold; color: #12355b; display: block; }
.figure .k { font-size: 8.5pt; color: #444; }
table { width: 100%; border-collapse: collapse; font-size: 8.8pt; }
th, td { text-align: left; padding: 1.2mm 1.5mm; border-bottom: 1px solid #dde3ea; vertical-align: top; }
th { background: #e8eef5; font-weight: 600; }
td.n, th.n { text-align: right; }
td.n { white-space: nowrap; }
th { font-size: 8.3pt; }
tr { break-inside: avoid; }
.warn { color: #a04000; font-size: 8pt; }
.muted { color: #666; }
.nw { white-space: nowrap; }
.legend { font-size: 8.5pt; margin: 1mm 0; }
.key { margin-right: 4mm; white-space: nowrap; }
.swatch { display: inline-block; width: 3mm; height: 3mm; margin-right: 1mm; vertical-align: middle; }
svg.chart { max-height: 70mm; }
footer { margin-top: 8mm; font-size: 8pt; color: #555; border-top: 1px solid #ccc; padding-top: 2mm; }
"""


def _table(head: list[tuple[str, bool]], rows: list[list[str]]) -> str:
    """head: (label, numeric); cells are already escaped HTML."""
    ths = "".join(f'<th class="n">{escape(h)}</th>' if num else f"<th>{escape(h)}</th>" for h, num in head)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if head[i][1] else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table>"


def render_html(pic: SituationPicture, lang: str = "sv", threshold_over_kmh: float = 6.0) -> str:
    """The whole document in Swedish ('sv') or English ('en')."""
    w = Words(lang, pic.week.time_zone)
    week = pic.week
    prefix = "v" if lang == "sv" else "W"
    parts = [
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">',
        f"<title>{escape(w('title'))} – {escape(week.label)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{escape(w('title'))}, {escape(w('week', week=week.week, year=week.year))}</h1>",
        f'<p class="sub">{escape(pic.area)} · {escape(w("period", first=w.day(week.monday), last=w.day(week.sunday)))}</p>',
        f'<p class="sub muted">{escape(w("for_meeting"))} {escape(w("generated", when=w.moment(pic.generated_at)))}</p>'
        "</header>",
        *_week_data(pic, w, prefix),
        _controls(pic, w),
        _silences(pic, w),
        _tips(pic, w),
        _promise(pic, w, prefix),
        f"<footer><strong>{escape(w('notes_title'))}.</strong> "
        f"{escape(w('notes_text', over=w.number(threshold_over_kmh)))}"
        + "".join(f"<br>{escape(n)}" for n in pic.notes) + "</footer>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _week_data(pic: SituationPicture, w: Words, prefix: str) -> list[str]:
    """Figures, ranking and trends; a week without traffic data says so instead."""
    if pic.figures.vehicles == 0:
        latest = ""
        if pic.latest_data is not None:
            latest = " " + w("no_data_latest", when=w.moment(pic.latest_data))
        return [f'<section id="nodata"><p class="nodata">{escape(w("no_data", week=pic.week.week))}'
                f"{escape(latest)}</p></section>"]
    return [_figures(pic, w), _top(pic, w), _trends(pic, w, prefix)]


def _figures(pic: SituationPicture, w: Words) -> str:
    f = pic.figures
    items = [
        (w.number(f.vehicles), w("vehicles")),
        (w.percent(f.stealth_share_over_limit), w("stealth_share")),
        (w.percent(f.display_share_over_limit), w("display_share")),
        (w.number(f.controls), w("controls")),
        (w.number(f.reports_written), w("reports")),
        (w.number(f.new_tips), w("new_tips")),
        (w.number(f.silent_signs), w("silent")),
    ]
    boxes = "".join(f'<div class="figure"><span class="v">{escape(v)}</span><span class="k">{escape(k)}</span></div>'
                    for v, k in items)
    return f'<section id="figures"><h2>{escape(w("figures"))}</h2><div class="figures">{boxes}</div></section>'


def _top(pic: SituationPicture, w: Words) -> str:
    rows = []
    for c in pic.top:
        notes = ([w("school")] if c.school else []) + ([w("tips_1") if c.tips == 1 else w("tips_n", n=c.tips)] if c.tips else [])
        warn = "".join(f'<br><span class="warn">{escape(x)}</span>' for x in w.quality(c.flags))
        hours = c.best_hours or ()
        when = "<br>".join(f'<span class="nw">{escape(f"{w.weekday(h.weekday)} {h.hour:02d}–{(h.hour + 1) % 24:02d}")}'
                           f'</span> <span class="muted">{escape(w.direction(h.direction))}</span>' for h in hours)
        rows.append([
            str(c.rank), escape(c.site_name), when,
            escape(w.number(c.vehicles_per_hour)), escape(w.percent(c.share_over_threshold)),
            escape(w.number(c.expected_reportable, 1)), escape(w.number(c.score, 1)),
            escape(", ".join(notes)) + warn,
        ])
    table = _table([(w("rank"), True), (w("site"), False), (w("best_hours"), False),
                    (w("per_hour"), True), (w("over_thr"), True), (w("reportable"), True), (w("score"), True),
                    (w("notes"), False)], rows)
    intro = w("top_intro", weeks=pic.ranking_weeks, week=pic.week.week)
    return f'<section id="top" class="long"><h2>{escape(w("top"))}</h2><p class="intro">{escape(intro)}</p>{table}</section>'


def _trends(pic: SituationPicture, w: Words, prefix: str) -> str:
    if not pic.trends:
        return ""
    chart = charts.trend_chart(pic.trends, lambda v: w.percent(v), prefix,
                               lambda site, old, new: w("limit_change", site=site, old=old, new=new))
    rows = []
    for t in pic.trends:
        last = t.points[-1]
        low = last.n < 100 and last.share_over_limit is not None
        rows.append([escape(t.site_name),
                     escape(w.percent(last.share_over_limit, 1))
                     + (f' <span class="warn">({escape(w("low_sample"))})</span>' if low else ""),
                     escape(w.pp(t.change_pp))])
    table = _table([(w("site"), False), (w("this_week", week=pic.week.week), True), (w("change"), True)], rows)
    return (f'<section id="trends"><h2>{escape(w("trends"))}</h2><p class="intro">{escape(w("trend_intro"))}</p>'
            f"{chart}{charts.legend(pic.trends)}{table}</section>")


def _controls(pic: SituationPicture, w: Words) -> str:
    head = f'<h2>{escape(w("controls_title"))}</h2><p class="intro">{escape(w("controls_intro", weeks=pic.ranking_weeks))}</p>'
    if not pic.controls:
        return f'<section id="controls">{head}<p>{escape(w("no_controls"))}</p></section>'
    rows = []
    for c in pic.controls:
        if c.baseline_days and c.during_pp is None and c.week_after_pp is None:
            during, after = escape(w("baseline_short", n=c.baseline_days)), escape(w("none"))
        else:
            during = _interval(w, c.during_pp, c.during_low_pp, c.during_high_pp, c.during_days)
            after = _interval(w, c.week_after_pp, c.week_after_low_pp, c.week_after_high_pp, c.week_after_days)
        if c.increase:
            mark = f'<br><span class="warn">{escape(w("increase"))}</span>'
        elif c.significant or c.during_pp is None:
            mark = ""
        else:
            mark = f'<br><span class="warn">{escape(w("not_significant"))}</span>'
        notes = "" if w.lang != "en" else "".join(f'<br><span class="warn">{escape(n)}</span>' for n in c.notes)
        rows.append([
            escape(w.moment(c.start)),
            escape(c.site_name) + f'<br><span class="muted">{escape(w("planned") if c.planned else w("unplanned"))}, '
            f'{escape(c.method)}</span>' + notes,
            escape(f"{w.number(c.vehicles_checked)} / {w.number(c.reports_written)}"),
            during + mark, after,
            escape(w.days(c.halo_days) if c.halo_days is not None else w("none")),
            escape(w.day(c.return_from) if c.return_from else w("none")),
        ])
    table = _table([(w("when"), False), (w("site"), False), (w("checked_reported"), True), (w("during"), True),
                    (w("week_after"), True), (w("halo"), True), (w("revisit"), True)], rows)
    return (f'<section id="controls" class="long">{head}{table}'
            f'<p class="legend">{escape(w("return_intro"))}</p></section>')


def _interval(w: Words, value: float | None, low: float | None, high: float | None, days: int) -> str:
    """HTML: the figure, its 95 % interval and its days on three lines ('−4,2', '(−6,0 … −2,4)', '1 dag')."""
    if value is None:
        return escape(w("none"))
    lines = [w.pp(value)]
    if low is not None and high is not None:
        lines.append(f"({w.pp(low)} … {w.pp(high)})")
    lines.append(w.days(days))
    return "<br>".join(escape(x) for x in lines)


def _silences(pic: SituationPicture, w: Words) -> str:
    head = (f'<h2>{escape(w("silences"))}</h2><p class="intro">'
            f'{escape(w("silences_intro", hours=w.number(pic.silent_hours)))}</p>')
    if not pic.silences:
        return f'<section id="silences">{head}<p>{escape(w("no_silences"))}</p></section>'
    rows = [[escape(s.serial), escape(s.site_name), escape(w.moment(s.start)),
             escape(w("ongoing") if s.ongoing else w.moment(s.end)), escape(w.number(s.hours))]
            for s in pic.silences]
    table = _table([(w("sign"), False), (w("site"), False), (w("from"), False), (w("to"), False),
                    (w("hours"), True)], rows)
    return f'<section id="silences">{head}{table}</section>'


def _tips(pic: SituationPicture, w: Words) -> str:
    head = f'<h2>{escape(w("tips"))}</h2>'
    if not pic.tips:
        return f'<section id="tips">{head}<p>{escape(w("no_tips"))}</p></section>'
    rows = [[escape(w.moment(t.received_at)), escape(t.place), escape(t.text), escape(w.status(t.status))]
            for t in pic.tips]
    table = _table([(w("received"), False), (w("place"), False), (w("tip"), False), (w("status"), False)], rows)
    return f'<section id="tips">{head}{table}</section>'


def _promise(pic: SituationPicture, w: Words, prefix: str) -> str:
    p = pic.promise
    head = f'<h2>{escape(w("promise"))}</h2>'
    if not p.sites:
        return f'<section id="promise">{head}<p>{escape(w("promise_none"))}</p></section>'
    intro = w("promise_intro", target=p.target_per_week, sites=", ".join(p.sites), met=p.weeks_met, n=len(p.weeks))
    chart = charts.bar_chart(p.weeks, p.target_per_week, prefix)
    return (f'<section id="promise">{head}<p class="intro">{escape(intro)}</p>'
            f'<p class="legend">{escape(w("controls_per_week"))}</p>{chart}</section>')
