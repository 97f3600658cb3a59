"""The speed distribution: vehicles per speed bin, with the limit and the threshold marked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from .frame import INK, PALETTE, Frame, axis_title, nice_step, open_svg, x_labels, y_grid

LIMIT_COLOUR, THRESHOLD_COLOUR = "#222", PALETTE[1]


def distribution_chart(chart_id: str, lower_kmh: Sequence[float], width_kmh: float, counts: Sequence[int | None], *,
                       title: str, desc: str, unit: str, limit_kmh: float, threshold_kmh: float | None,
                       limit_label: str, threshold_label: str, count_label: Callable[[float], str]) -> str:
    """A histogram over [lower, lower + width) bins; bins with a None count (withheld) draw no bar.
    The limit is a solid vertical line, the threshold a dashed red one, each labelled."""
    if not lower_kmh:
        return ""
    x0 = min(lower_kmh[0], limit_kmh) - width_kmh
    x1 = max(lower_kmh[-1] + width_kmh, (threshold_kmh or limit_kmh)) + width_kmh
    top = max([c for c in counts if c is not None] + [1])
    step = nice_step(top * 1.1)
    y_max = step * -(-top * 1.1 // step)
    frame = Frame(x0, x1, y_max)
    out = open_svg(chart_id, title, desc)
    out += y_grid(frame, step, count_label)
    out.append(axis_title(unit))
    for lo, c in zip(lower_kmh, counts, strict=True):
        if c is None or c == 0:
            continue
        x, y = frame.x(lo), frame.y(c)
        w = max(frame.x(lo + width_kmh) - x - 1, 0.5)
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{frame.y(0) - y:.1f}" fill="{PALETTE[0]}">'
                   f'<title>{lo:g}–{lo + width_kmh:g} km/h: {escape(count_label(c))}</title></rect>')
    tick = nice_step((x1 - x0) / 1.6)
    first = tick * -(-x0 // tick)
    ticks = []
    v = first
    while v <= x1:
        ticks.append((frame.x(v), f"{v:g}"))
        v += tick
    out += x_labels(ticks)
    for value, label, colour, dash, anchor_dx in ((limit_kmh, limit_label, LIMIT_COLOUR, "", -4),
                                                  (threshold_kmh, threshold_label, THRESHOLD_COLOUR, "6,4", 4)):
        if value is None:
            continue
        x = frame.x(value)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{x:.1f}" y1="{frame.y(y_max):.1f}" x2="{x:.1f}" y2="{frame.y(0):.1f}" '
                   f'stroke="{colour}" stroke-width="2"{dash_attr}/>')
        anchor = "end" if anchor_dx < 0 else "start"
        out.append(f'<text x="{x + anchor_dx:.1f}" y="{frame.y(y_max) + 12:.1f}" text-anchor="{anchor}" '
                   f'fill="{INK if colour == LIMIT_COLOUR else colour}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)
