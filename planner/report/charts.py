"""Small inline SVG charts for the situation picture (no scripts, print-safe colours)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from .model import PromiseWeek, SiteTrend

PALETTE = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b7950b")
W, H = 640, 230
LEFT, RIGHT, TOP, BOTTOM = 46, 12, 12, 28


def _nice_max(v: float, step: float) -> float:
    return max(step, math.ceil(v / step) * step)


def _frame(y_max: float, y_step: float, labels: Sequence[str], y_label: Callable[[float], str]) -> list[str]:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" '
           f'role="img" class="chart" font-family="sans-serif" font-size="11">']
    ph = H - TOP - BOTTOM
    k = 0
    while k * y_step <= y_max + 1e-9:
        v = k * y_step
        y = TOP + ph * (1 - v / y_max)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#ddd" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{escape(y_label(v))}</text>')
        k += 1
    for i, lab in enumerate(labels):
        out.append(f'<text x="{_x(i, len(labels)):.1f}" y="{H - 8}" text-anchor="middle" fill="#555">{escape(lab)}</text>')
    return out


def _x(i: int, n: int) -> float:
    pw = W - LEFT - RIGHT
    return LEFT + pw * (i + 0.5) / n


def _y(v: float, y_max: float) -> float:
    return TOP + (H - TOP - BOTTOM) * (1 - v / y_max)


def limit_changes(trends: Sequence[SiteTrend]) -> list[tuple[int, int, int, int]]:
    """(trend index, week index, old limit, new limit) wherever a site's limit differs from its
    previous week's (weeks without a known limit are skipped over)."""
    out = []
    for k, t in enumerate(trends):
        prev = None
        for i, p in enumerate(t.points):
            if p.limit_kmh is None:
                continue
            if prev is not None and p.limit_kmh != prev:
                out.append((k, i, prev, p.limit_kmh))
            prev = p.limit_kmh
    return out


def trend_chart(trends: Sequence[SiteTrend], percent: Callable[[float], str], week_prefix: str = "v",
                change_label: Callable[[str, int, int], str] | None = None) -> str:
    """Share over the limit per week, one line per site; hollow points where the sign showed speeds;
    a dashed vertical line in the site's colour where its limit changed (``change_label`` names it)."""
    if not trends or not trends[0].points:
        return ""
    weeks = [p.week.split("-W")[-1] for p in trends[0].points]
    values = [p.share_over_limit for t in trends for p in t.points if p.share_over_limit is not None]
    y_max = _nice_max(max(values, default=0.1) * 1.05, 0.1)
    out = _frame(y_max, 0.1 if y_max <= 0.6 else 0.2, [f"{week_prefix}{w}" for w in weeks], percent)
    for k, t in enumerate(trends):
        colour = PALETTE[k % len(PALETTE)]
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, p in enumerate(t.points):
            if p.share_over_limit is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{_x(i, len(weeks)):.1f},{_y(p.share_over_limit, y_max):.1f}")
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                out.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, p in enumerate(t.points):
            if p.share_over_limit is None:
                continue
            fill = "#fff" if p.display == "display" else colour
            out.append(f'<circle cx="{_x(i, len(weeks)):.1f}" cy="{_y(p.share_over_limit, y_max):.1f}" r="4" '
                       f'fill="{fill}" stroke="{colour}" stroke-width="2"><title>{escape(t.site_name)} {escape(p.week)}: '
                       f'{escape(percent(p.share_over_limit))}</title></circle>')
    n = len(weeks)
    for j, (k, i, old, new) in enumerate(limit_changes(trends)):
        colour = PALETTE[k % len(PALETTE)]
        x = (_x(i - 1, n) + _x(i, n)) / 2
        label = change_label(trends[k].site_name, old, new) if change_label else f"{old} → {new} km/h"
        out.append(f'<g class="limit-change"><line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{H - BOTTOM}" '
                   f'stroke="{colour}" stroke-dasharray="3,3" stroke-width="1.5"/>'
                   f'<text x="{x + 3:.1f}" y="{TOP + 10 + 12 * j}" fill="{colour}" font-size="10">'
                   f'{escape(label)}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def legend(trends: Sequence[SiteTrend]) -> str:
    items = [f'<span class="key"><span class="swatch" style="background:{PALETTE[k % len(PALETTE)]}"></span>'
             f'{escape(t.site_name)}</span>' for k, t in enumerate(trends)]
    return f'<p class="legend">{" ".join(items)}</p>'


def bar_chart(weeks: Sequence[PromiseWeek], target: int, week_prefix: str = "v") -> str:
    """Controls per week at complaint sites, with the promised minimum as a dashed line."""
    if not weeks:
        return ""
    top = max([w.controls for w in weeks] + [target])
    y_max = float(max(2, top + 1))
    step = 1.0 if y_max <= 6 else float(math.ceil(y_max / 6))
    out = _frame(y_max, step, [f"{week_prefix}{w.week.split('-W')[-1]}" for w in weeks], lambda v: f"{v:.0f}")
    bw = (W - LEFT - RIGHT) / len(weeks) * 0.55
    for i, w in enumerate(weeks):
        x = _x(i, len(weeks)) - bw / 2
        y = _y(w.controls, y_max)
        colour = "#2e8b57" if w.controls >= target else "#c0392b"
        h = max(_y(0, y_max) - y, 0)
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}" fill="{colour}">'
                   f'<title>{escape(w.week)}: {w.controls}</title></rect>')
        out.append(f'<text x="{x + bw / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{w.controls}</text>')
    ty = _y(target, y_max)
    out.append(f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{W - RIGHT}" y2="{ty:.1f}" stroke="#333" '
               f'stroke-dasharray="5,4" stroke-width="1.5"/>')
    out.append("</svg>")
    return "\n".join(out)
