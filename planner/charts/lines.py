"""Lines over ordered categories (weeks), gaps left open, with labelled vertical marks (a change
of the legal limit) and an optional horizontal reference (a target share)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from .frame import INK, MARK, Frame, H, axis_title, legend, legend_rows, nice_step, open_svg, x_labels, y_grid


@dataclass(frozen=True)
class Line:
    label: str
    values: Sequence[float | None]
    """One value per category; None leaves a gap (no data, or withheld)."""
    colour: str
    dash: str = ""
    """SVG stroke-dasharray ("" solid)."""


def line_chart(chart_id: str, labels: Sequence[str], lines: Sequence[Line], *, title: str, desc: str, unit: str,
               value_label: Callable[[float], str], y_max: float | None = None,
               marks: Sequence[tuple[float, str]] = (), reference: float | None = None, reference_label: str = "",
               label_every: int = 1) -> str:
    """One polyline per :class:`Line` (a point alone is drawn as a dot); ``marks`` are (category
    position, label) vertical dashed lines, e.g. 3.0 = the start of the fourth category."""
    if not labels or not lines:
        return ""
    shown = [v for line in lines for v in line.values if v is not None]
    top = y_max if y_max is not None else max(shown + [reference or 0, 0]) * 1.1
    step = nice_step(top or 1)
    y_top = y_max if y_max is not None else max(step, step * -(-top // step))
    frame = Frame(0, len(labels), y_top)
    keys = [(line.label, line.colour, line.dash) for line in lines]
    height = H + 16 * legend_rows(keys) + 4
    out = open_svg(chart_id, title, desc, height)
    out += y_grid(frame, step, value_label)
    out.append(axis_title(unit))
    if reference is not None:
        y = frame.y(reference)
        out.append(f'<line x1="{frame.x(0):.1f}" y1="{y:.1f}" x2="{frame.x(len(labels)):.1f}" y2="{y:.1f}" '
                   f'stroke="{MARK}" stroke-dasharray="2,3" stroke-width="1.5"/>')
        if reference_label:
            out.append(f'<text x="{frame.x(0) + 4:.1f}" y="{y - 4:.1f}" fill="{INK}">{escape(reference_label)}</text>')
    for pos, text in marks:
        x = frame.x(pos)
        out.append(f'<line x1="{x:.1f}" y1="{frame.y(y_top):.1f}" x2="{x:.1f}" y2="{frame.y(0):.1f}" '
                   f'stroke="{MARK}" stroke-width="2" stroke-dasharray="6,3"/>')
        out.append(f'<text x="{x + 4:.1f}" y="{frame.y(y_top) + 12:.1f}" fill="{MARK}" font-weight="bold">'
                   f'{escape(text)}</text>')
    for line in lines:
        runs: list[list[tuple[float, float]]] = [[]]
        for i, v in enumerate(line.values):
            if v is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((frame.x(i + 0.5), frame.y(v)))
        dash_attr = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        for run in runs:
            if len(run) > 1:
                pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                out.append(f'<polyline points="{pts}" fill="none" stroke="{line.colour}" stroke-width="2.5"'
                           f'{dash_attr}/>')
        for i, v in enumerate(line.values):
            if v is not None:
                out.append(f'<circle cx="{frame.x(i + 0.5):.1f}" cy="{frame.y(v):.1f}" r="3.5" fill="{line.colour}">'
                           f'<title>{escape(line.label)}, {escape(labels[i])}: {escape(value_label(v))}</title>'
                           f'</circle>')
    out += x_labels([(frame.x(i + 0.5), lab) for i, lab in enumerate(labels) if i % label_every == 0])
    out += legend(keys, H + 12)
    out.append("</svg>")
    return "\n".join(out)
