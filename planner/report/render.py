"""The situation picture as one HTML document from the template ``report/situation.html``: A4 print
layout, its style inline (or linked, where a page's policy forbids inline style), its charts as
inline SVG from ``planner.charts``, every text from the catalogue ``core/i18n`` (``report.json``).

Pure: ``render_html(picture, lang)`` returns a string; nothing is read from the clock or the
database. Jinja2 escapes every text from the database.
"""

from __future__ import annotations

from core import i18n, templating
from core.errors import InvalidInput
from planner import printing
from planner.charts import PALETTE, TrendLine, bar_chart, trend_chart

from .model import SituationPicture

QUALITY_BITS = (1, 2, 4, 8, 16, 32, 64)
"""planner.quality.Quality bits with a warning in the catalogue (``report_q1`` …)."""
STATUSES = ("new", "linked", "closed")
MET, MISSED = "#2e8b57", "#c0392b"


def _language(lang: str) -> i18n.Lang:
    if lang not in i18n.LANGS:
        raise InvalidInput(f"language {lang!r} is not available; choose one of {', '.join(i18n.LANGS)}",
                           errors=[{"record": None, "field": "lang", "value": lang,
                                    "reason": f"one of {', '.join(i18n.LANGS)}"}])
    return lang  # type: ignore[return-value]


def _trend_svg(pic: SituationPicture, lang: i18n.Lang) -> str:
    t = i18n.translator(lang)
    if not pic.trends or not pic.trends[0].points:
        return ""
    prefix = t("report_week_prefix")
    labels = [prefix + p.week.split("-W")[-1] for p in pic.trends[0].points]
    lines = [TrendLine(tr.site_name, [p.share_over_limit for p in tr.points], [p.display == "display" for p in tr.points],
                  [p.limit_kmh for p in tr.points]) for tr in pic.trends]
    return trend_chart("trend", labels, lines, title=t("report_chart_trend_title"),
                       desc=t("report_chart_trend_desc", sites=", ".join(tr.site_name for tr in pic.trends)),
                       unit=t("report_chart_trend_unit"),
                       value_label=lambda v: i18n.percent(v, lang),
                       change_label=lambda site, old, new: t("report_limit_change", site=site, old=old, new=new))


def _promise_svg(pic: SituationPicture, lang: i18n.Lang) -> str:
    t = i18n.translator(lang)
    p = pic.promise
    if not p.weeks:
        return ""
    prefix = t("report_week_prefix")
    return bar_chart("promise", [prefix + w.week.split("-W")[-1] for w in p.weeks], [w.controls for w in p.weeks],
                     title=t("report_chart_promise_title"),
                     desc=t("report_chart_promise_desc", met=p.weeks_met, n=len(p.weeks), target=p.target_per_week),
                     unit=t("report_controls_per_week"), value_label=lambda v: i18n.number(v, lang, 0),
                     reference=p.target_per_week, colours=[MET if w.controls >= p.target_per_week else MISSED
                                                           for w in p.weeks],
                     show_values=True, min_step=1.0)


def render_html(pic: SituationPicture, lang: str = "sv", threshold_over_kmh: float = 6.0,
                stylesheet: str | None = None) -> str:
    """The whole document in Swedish ('sv') or English ('en'); ``stylesheet``: link this URL instead
    of putting the style inline."""
    lng = _language(lang)
    t = i18n.translator(lng)
    words = i18n.catalogue()
    return templating.render(
        printing.environment(), "report/situation.html", lng, pic.week.time_zone,
        pic=pic, threshold_over_kmh=threshold_over_kmh, stylesheet=stylesheet, palette=PALETTE,
        trend_chart=_trend_svg(pic, lng), promise_chart=_promise_svg(pic, lng),
        quality=lambda flags: [t(f"report_q{bit}") for bit in QUALITY_BITS if flags & bit],
        status=lambda s: t(f"report_status_{s}") if f"report_status_{s}" in words else s)


def stylesheet_css() -> str:
    """The report's style sheet on its own (for a page that links it)."""
    return printing.environment().get_template("report/situation.css").render(palette=PALETTE)
