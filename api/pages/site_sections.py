"""The site page's sections built from its :class:`~api.pages.site_data.SiteData`: each chart drawn
by the one chart module, with its text alternative, beside the rows of its data table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core import i18n
from planner.charts import SERIES, Line, bar_chart, distribution_chart, grouped_bar_chart, heatmap_chart, line_chart
from planner.compare import Side
from planner.profile import WEEKDAYS
from planner.siteoverview import MIN_PUBLIC_N
from planner.sitestats import GroupFigures

from .site_data import SiteData

BIN_KMH = 5
"""Width of the public speed-distribution bins (1 km/h bins would show single vehicles)."""
TARGET_WITHIN = 0.80
"""The national target: at least 80 % of traffic within the limit (drawn on the compliance chart)."""
DIRECTION_COLOUR = {"approaching": SERIES[0], "receding": SERIES[1], "unknown": SERIES[2]}
DISPLAY_DASH = {"display": "", "stealth": "7,4"}


@dataclass(frozen=True)
class Bin:
    lower: float
    count: int | None
    """None: fewer than 30 vehicles, withheld."""


def coarse_bins(g: GroupFigures, width: float = BIN_KMH) -> list[Bin]:
    """The 1 km/h histogram summed into ``width`` bins (edges at multiples of ``width``)."""
    sums: dict[float, int] = {}
    for lo, c in zip(g.histogram.lower_kmh, g.histogram.counts, strict=True):
        edge = (lo // width) * width
        sums[edge] = sums.get(edge, 0) + c
    if not sums:
        return []
    edges = [min(sums) + k * width for k in range(int((max(sums) - min(sums)) / width) + 1)]
    return [Bin(e, None if 0 < sums.get(e, 0) < MIN_PUBLIC_N else sums.get(e, 0)) for e in edges]


def line_label(t: Callable[..., str], direction: str, display: str | None) -> str:
    return t("profile_label", direction=t("direction_" + direction),
             display=t("display_" + display) if display else t("display_unknown"))


def _limit_text(kmh: float | None, lang: i18n.Lang) -> str:
    """A limit in km/h as people read it: 40, or 48,28 for one posted in mph."""
    if kmh is None:
        return "–"
    return i18n.number(kmh, lang, 0 if kmh == round(kmh) else 2)


def groups_section(d: SiteData, t: Callable[..., str], lang: i18n.Lang) -> list[dict[str, Any]]:
    groups = []
    for k, g in enumerate(d.figures.groups):
        enough = g.n >= MIN_PUBLIC_N
        bins = coarse_bins(g) if enough else []
        label = t("group_label", direction=t("direction_" + g.direction), display=t("display_" + g.display),
                  limit=_limit_text(g.limit_kmh, lang))
        chart = distribution_chart(
            f"dist-{k}", [b.lower for b in bins], BIN_KMH, [b.count for b in bins],
            title=t("chart_distribution_title", group=label),
            desc=t("chart_distribution_desc", n=g.n, limit=g.limit_kmh,
                   threshold=i18n.number(g.threshold_kmh, lang, 0), v85=i18n.number(g.v85_kmh, lang)),
            unit=t("unit_vehicles"), limit_kmh=g.limit_kmh, threshold_kmh=g.threshold_kmh,
            limit_label=t("limit_at", limit=g.limit_kmh),
            threshold_label=t("threshold_at", threshold=i18n.number(g.threshold_kmh, lang, 0)),
            count_label=lambda v: i18n.number(v, lang, 0)) if bins else ""
        groups.append({"g": g, "enough": enough, "label": label, "bins": bins, "chart": chart, "width": BIN_KMH})
    return groups


def main_limit(d: SiteData) -> float | None:
    """The limit most of the period's vehicles were measured against."""
    limited = [g for g in d.figures.groups if g.limit_kmh is not None]
    return max(limited, key=lambda g: g.n).limit_kmh if limited else None


def profiles_section(d: SiteData, t: Callable[..., str], lang: i18n.Lang) -> list[dict[str, Any]]:
    limit = main_limit(d)
    out = []
    for k, p in enumerate(d.profiles):
        label = line_label(t, p.direction, p.display)
        shown = [h for h in p.hours if h.mean_kmh is not None]
        peak = max(shown, key=lambda h: h.mean_kmh) if shown else None
        chart = bar_chart(
            f"prof-{k}", [f"{h.hour:02d}" for h in p.hours], [h.mean_kmh for h in p.hours],
            title=t("chart_profile_title", group=label),
            desc=t("chart_profile_desc", hours=len(shown), peak_hour=f"{peak.hour:02d}" if peak else "–",
                   peak=i18n.number(peak.mean_kmh if peak else None, lang)),
            unit=t("unit_mean_kmh"), value_label=lambda v: i18n.number(v, lang, 0), reference=limit,
            reference_label=t("limit_at", limit=limit) if limit else "", label_every=3) if shown else ""
        out.append({"p": p, "label": label, "chart": chart})
    return out


def heatmaps_section(d: SiteData, t: Callable[..., str], lang: i18n.Lang) -> list[dict[str, Any]]:
    """V85 in each local hour of the week, banded against the main limit: under it, then 5 km/h steps."""
    limit = main_limit(d)
    if limit is None:
        return []
    uppers = [limit, limit + 5, limit + 10, limit + 15]
    num = lambda v: i18n.number(v, lang, 0)  # noqa: E731
    labels = [t("heat_under", v=num(limit))] + [t("heat_range", low=num(a), high=num(b))
                                                 for a, b in zip(uppers, uppers[1:], strict=False)]
    labels.append(t("heat_from", v=num(uppers[-1])))
    days = [t("weekday_" + w) for w in WEEKDAYS]
    out = []
    for k, line in enumerate(d.week_profile.lines):
        label = line_label(t, line.direction, line.display)
        grid = [line.cells[w * 24:(w + 1) * 24] for w in range(7)]
        values = [[c.v85_kmh for c in row] for row in grid]
        shown = [c for c in line.cells if c.v85_kmh is not None]
        over = sum(1 for c in shown if c.v85_kmh > limit)
        top = max(shown, key=lambda c: c.v85_kmh) if shown else None
        chart = heatmap_chart(
            f"heat-{k}", days, [f"{h:02d}" for h in range(24)], values, [[c.withheld for c in row] for row in grid],
            title=t("chart_heat_title", group=label),
            desc=t("chart_heat_desc", cells=len(shown), over=over, limit=num(limit),
                   top=t("weekday_" + top.weekday) + f" {top.hour:02d}" if top else "–",
                   v85=i18n.number(top.v85_kmh if top else None, lang)),
            uppers=uppers, band_labels=labels, withheld_label=t("withheld_cell", n=MIN_PUBLIC_N),
            none_label=t("no_data"))
        out.append({"line": line, "label": label, "chart": chart, "days": days, "grid": grid})
    return out


def trend_section(d: SiteData, t: Callable[..., str], lang: i18n.Lang) -> dict[str, Any]:
    """Two line charts (V85, share within the limit) per week, one line per direction × display
    mode, the limit changes marked; the table lists every point."""
    tr = d.trend
    index = {w: i for i, w in enumerate(tr.weeks)}
    labels = [f"{w.isocalendar().week:02d}" for w in tr.weeks]
    v85_lines, within_lines, rows = [], [], []
    for line in tr.lines:
        label = line_label(t, line.direction, line.display)
        v85: list[float | None] = [None] * len(tr.weeks)
        within: list[float | None] = [None] * len(tr.weeks)
        for p in line.points:
            i = index[p.week]
            v85[i] = p.v85_kmh if v85[i] is None else v85[i]  # a week split by a limit change: the first part
            within[i] = p.within_limit_share if within[i] is None else within[i]
            rows.append((label, p))
        colour, dash = DIRECTION_COLOUR[line.direction], DISPLAY_DASH.get(line.display, "")
        v85_lines.append(Line(label, v85, colour, dash))
        within_lines.append(Line(label, [None if v is None else 100 * v for v in within], colour, dash))
    marks = []
    for c in tr.limit_changes:
        monday = c.at.toordinal() - c.at.weekday()
        pos = index.get(c.at.fromordinal(monday))
        if pos is not None:
            marks.append((pos + c.at.weekday() / 7, t("limit_change_mark", before=c.before_kmh, after=c.after_kmh)))
    weeks = t("trend_weeks", first=tr.weeks[0].isoformat(), last=tr.weeks[-1].isoformat()) if tr.weeks else ""
    changes = "; ".join(t("limit_change_text", at=c.at.isoformat(), before=c.before_kmh, after=c.after_kmh)
                        for c in tr.limit_changes) or t("no_limit_change")
    every = 1 if len(labels) <= 13 else 2
    v85_chart = line_chart(
        "trend-v85", labels, v85_lines, title=t("chart_trend_v85_title"),
        desc=t("chart_trend_desc", weeks=weeks, lines=len(v85_lines), changes=changes), unit=t("unit_v85_kmh"),
        value_label=lambda v: i18n.number(v, lang, 0), marks=marks, label_every=every)
    within_chart = line_chart(
        "trend-within", labels, within_lines, title=t("chart_trend_within_title"),
        desc=t("chart_trend_desc", weeks=weeks, lines=len(within_lines), changes=changes),
        unit=t("unit_within_pct"), value_label=lambda v: i18n.number(v, lang, 0) + " %", y_max=100,
        marks=marks, reference=100 * TARGET_WITHIN,
        reference_label=t("target_within", pct=i18n.percent(TARGET_WITHIN, lang)), label_every=every)
    return {"v85_chart": v85_chart, "within_chart": within_chart, "rows": rows, "changes": tr.limit_changes,
            "weeks": weeks}


def display_section(d: SiteData, t: Callable[..., str], lang: i18n.Lang) -> dict[str, Any]:
    """Share over the limit with the sign showing speeds vs hidden, per direction and limit."""
    dc = d.display
    keys = sorted({(s.direction, s.limit_kmh) for s in dc.display + dc.stealth}, key=lambda k: (k[0], k[1] or 0))

    def side(sides: list[Side], key) -> Side | None:
        return next((s for s in sides if (s.direction, s.limit_kmh) == key), None)

    pairs = [(key, side(dc.display, key), side(dc.stealth, key)) for key in keys]
    labels = [t("display_pair_label", direction=t("direction_" + k[0]), limit=k[1]) for k, _, _ in pairs]

    def share(s: Side | None) -> float | None:
        return None if s is None or s.over_limit_share is None else 100 * s.over_limit_share

    both = [(lab, a, b) for lab, (_, a, b) in zip(labels, pairs, strict=True) if share(a) is not None and share(b) is not None]
    summary = "; ".join(t("display_pair_text", group=lab, shown=i18n.percent(a.over_limit_share, lang),
                          hidden=i18n.percent(b.over_limit_share, lang)) for lab, a, b in both) or t("display_nothing")
    chart = grouped_bar_chart(
        "display", labels, [Line(t("display_display"), [share(a) for _, a, _ in pairs], SERIES[0]),
                            Line(t("display_stealth"), [share(b) for _, _, b in pairs], SERIES[4])],
        title=t("chart_display_title"), desc=t("chart_display_desc", summary=summary), unit=t("unit_over_pct"),
        value_label=lambda v: i18n.number(v, lang, 0) + " %") if both else ""
    return {"chart": chart, "pairs": list(zip(labels, pairs, strict=True)), "summary": summary}


__all__ = ["BIN_KMH", "Bin", "coarse_bins", "display_section", "groups_section", "heatmaps_section",
           "profiles_section", "trend_section"]
