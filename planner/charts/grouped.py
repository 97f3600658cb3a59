"""Grouped bars: several series side by side in each category (display vs stealth per direction,
sites side by side). A None value draws no bar, never a zero one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from .frame import INK, MARK, Frame, H, axis_title, legend, legend_rows, nice_step, open_svg, x_labels, y_grid
from .lines import Line


def grouped_bar_chart(chart_id: str, labels: Sequence[str], series: Sequence[Line], *, title: str, desc: str,
                      unit: str, value_label: Callable[[float], str], y_max: float | None = None,
                      reference: float | None = None, reference_label: str = "") -> str:
    """For each label, one bar per series (its ``dash`` is ignored; bars differ by colour and
    order, and each carries its value as text above it so no reader depends on colour)."""
    if not labels or not series:
        return ""
    shown = [v for s in series for v in s.values if v is not None]
    top = y_max if y_max is not None else max(shown + [reference or 0, 0]) * 1.15
    step = nice_step(top or 1)
    y_top = y_max if y_max is not None else max(step, step * -(-top // step))
    frame = Frame(0, len(labels), y_top)
    keys = [(s.label, s.colour, "") for s in series]
    out = open_svg(chart_id, title, desc, H + 16 * legend_rows(keys) + 4)
    out += y_grid(frame, step, value_label)
    out.append(axis_title(unit))
    group = (frame.x(1) - frame.x(0)) * 0.8
    bw = group / len(series)
    for i, lab in enumerate(labels):
        left = frame.x(i + 0.5) - group / 2
        for k, s in enumerate(series):
            v = s.values[i]
            if v is None:
                continue
            x, y = left + k * bw, frame.y(v)
            out.append(f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(bw - 2, 1):.1f}" height="{frame.y(0) - y:.1f}" '
                       f'fill="{s.colour}"><title>{escape(lab)}, {escape(s.label)}: {escape(value_label(v))}</title></rect>')
            if bw >= 26:
                out.append(f'<text x="{x + bw / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" fill="{INK}" '
                           f'font-size="11">{escape(value_label(v))}</text>')
    if reference is not None:
        y = frame.y(reference)
        out.append(f'<line x1="{frame.x(0):.1f}" y1="{y:.1f}" x2="{frame.x(len(labels)):.1f}" y2="{y:.1f}" '
                   f'stroke="{MARK}" stroke-dasharray="6,4" stroke-width="1.5"/>')
        if reference_label:
            out.append(f'<text x="{frame.x(len(labels)) - 4:.1f}" y="{y - 4:.1f}" text-anchor="end" '
                       f'fill="{INK}">{escape(reference_label)}</text>')
    room = max(int((frame.x(1) - frame.x(0)) / 6.6), 3)
    out += x_labels([(frame.x(i + 0.5), lab if len(lab) <= room else lab[:room - 1] + "…")
                     for i, lab in enumerate(labels)])
    out += legend(keys, H + 12)
    out.append("</svg>")
    return "\n".join(out)
