"""Weekly lines: one line per site over the same weeks, hollow points where a week's figure comes
from another display mode, and a dashed mark wherever a site's speed limit changed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from .frame import PALETTE, Frame, axis_title, open_svg, x_labels, y_grid


@dataclass(frozen=True)
class Line:
    """One site's weekly values (None: no figure that week, the line breaks)."""

    name: str
    values: Sequence[float | None]
    hollow: Sequence[bool]
    """Drawn as an open point (the sign showed drivers their speed)."""
    limits: Sequence[int | None]
    """The speed limit in force at each week's end (None: unknown)."""


def limit_changes(lines: Sequence[Line]) -> list[tuple[int, int, int, int]]:
    """(line index, week index, old limit, new limit) wherever a line's limit differs from its
    previous known one (weeks without a known limit are skipped over)."""
    out = []
    for k, line in enumerate(lines):
        prev = None
        for i, limit in enumerate(line.limits):
            if limit is None:
                continue
            if prev is not None and limit != prev:
                out.append((k, i, prev, limit))
            prev = limit
    return out


def line_colour(k: int) -> str:
    """The colour of the k-th line, as the legend shows it."""
    return PALETTE[k % len(PALETTE)]


def trend_chart(chart_id: str, labels: Sequence[str], lines: Sequence[Line], *, title: str, desc: str, unit: str,
                value_label: Callable[[float], str], change_label: Callable[[str, int, int], str]) -> str:
    """Values 0..1 per week label, one line per site; a dashed vertical line in the site's colour
    where its limit changed, named by ``change_label(site, old, new)``."""
    if not labels or not lines:
        return ""
    values = [v for line in lines for v in line.values if v is not None]
    top = max(values, default=0.1) * 1.05
    y_max = max(0.1, -(-top // 0.1) * 0.1)
    frame = Frame(0, len(labels), y_max)
    out = open_svg(chart_id, title, desc)
    out += y_grid(frame, 0.1 if y_max <= 0.6 else 0.2, value_label)
    out.append(axis_title(unit))
    out += x_labels([(frame.x(i + 0.5), lab) for i, lab in enumerate(labels)])
    for k, line in enumerate(lines):
        colour = line_colour(k)
        segment: list[str] = []
        for i, v in enumerate([*line.values, None]):
            if v is None:
                if len(segment) > 1:
                    out.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{colour}" stroke-width="2"/>')
                segment = []
                continue
            segment.append(f"{frame.x(i + 0.5):.1f},{frame.y(v):.1f}")
        for i, (v, hollow) in enumerate(zip(line.values, line.hollow, strict=True)):
            if v is None:
                continue
            out.append(f'<circle cx="{frame.x(i + 0.5):.1f}" cy="{frame.y(v):.1f}" r="4" '
                       f'fill="{"#fff" if hollow else colour}" stroke="{colour}" stroke-width="2">'
                       f'<title>{escape(line.name)} {escape(labels[i])}: {escape(value_label(v))}</title></circle>')
    for j, (k, i, old, new) in enumerate(limit_changes(lines)):
        colour = line_colour(k)
        x = frame.x(i)
        out.append(f'<g class="limit-change"><line x1="{x:.1f}" y1="{frame.y(y_max):.1f}" x2="{x:.1f}" '
                   f'y2="{frame.y(0):.1f}" stroke="{colour}" stroke-dasharray="3,3" stroke-width="1.5"/>'
                   f'<text x="{x + 3:.1f}" y="{frame.y(y_max) + 10 + 12 * j:.1f}" fill="{colour}" font-size="10">'
                   f'{escape(change_label(lines[k].name, old, new))}</text></g>')
    out.append("</svg>")
    return "\n".join(out)
