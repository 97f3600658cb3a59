"""Bars over categories (hours of the day, weeks), gaps left empty, with an optional reference line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from .frame import INK, MARK, PALETTE, Frame, axis_title, nice_step, open_svg, x_labels, y_grid


def bar_chart(chart_id: str, labels: Sequence[str], values: Sequence[float | None], *, title: str, desc: str,
              unit: str, value_label: Callable[[float], str], reference: float | None = None,
              reference_label: str = "", label_every: int = 1, colour: str = PALETTE[0],
              colours: Sequence[str] | None = None, show_values: bool = False, min_step: float = 0.0) -> str:
    """One bar per label; a None value (no data, or withheld) draws no bar, never a zero one.
    ``reference`` (e.g. the speed limit) is a dashed line across the chart. ``colours`` gives each
    bar its own colour (else ``colour``); ``show_values`` writes each value above its bar;
    ``min_step`` keeps the grid from finer steps (1 for counts)."""
    if not labels:
        return ""
    top = max([v for v in values if v is not None] + [reference or 0, 0])
    step = max(nice_step(top * 1.08 or 1), min_step)
    y_max = max(step, step * -(-top * 1.08 // step))
    frame = Frame(0, len(labels), y_max)
    out = open_svg(chart_id, title, desc)
    out += y_grid(frame, step, value_label)
    out.append(axis_title(unit))
    bw = (frame.x(1) - frame.x(0)) * 0.7
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        if v is None:
            continue
        x = frame.x(i + 0.5) - bw / 2
        y = frame.y(v)
        fill = colours[i] if colours is not None else colour
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{frame.y(0) - y:.1f}" fill="{fill}">'
                   f'<title>{escape(lab)}: {escape(value_label(v))}</title></rect>')
        if show_values:
            out.append(f'<text x="{x + bw / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" fill="{INK}">'
                       f'{escape(value_label(v))}</text>')
    out += x_labels([(frame.x(i + 0.5), lab) for i, lab in enumerate(labels) if i % label_every == 0])
    if reference is not None:
        y = frame.y(reference)
        out.append(f'<line x1="{frame.x(0):.1f}" y1="{y:.1f}" x2="{frame.x(len(labels)):.1f}" y2="{y:.1f}" '
                   f'stroke="{MARK}" stroke-dasharray="6,4" stroke-width="1.5"/>')
        if reference_label:
            out.append(f'<text x="{frame.x(len(labels)) - 4:.1f}" y="{y - 4:.1f}" text-anchor="end" '
                       f'fill="{INK}">{escape(reference_label)}</text>')
    out.append("</svg>")
    return "\n".join(out)
