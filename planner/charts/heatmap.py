"""The hour × weekday heatmap: one cell per local hour of the week, coloured by banded value, with
withheld cells hatched and cells without data left blank, and its legend drawn in the chart."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from .frame import GRID, INK, LEFT, RIGHT, W, open_svg

ROW_H, TOP_PAD = 24, 18
# a sequential, colour-blind-safe scale (viridis, light to dark): bands read by lightness alone
HEAT = ("#fde725", "#7ad151", "#22a884", "#2a788e", "#414487", "#440154")


def band_of(value: float, uppers: Sequence[float]) -> int:
    """Index of the first band whose upper bound exceeds ``value`` (the last band is open)."""
    return next((i for i, u in enumerate(uppers) if value < u), len(uppers))


def heatmap_chart(chart_id: str, rows: Sequence[str], cols: Sequence[str], values: Sequence[Sequence[float | None]],
                  withheld: Sequence[Sequence[bool]], *, title: str, desc: str, uppers: Sequence[float],
                  band_labels: Sequence[str], withheld_label: str, none_label: str, label_every: int = 3) -> str:
    """``values[r][c]`` in band ``band_of(v, uppers)`` (``len(uppers) + 1`` bands, at most 6),
    each band labelled in the legend by ``band_labels``."""
    if not rows or not cols:
        return ""
    colours = HEAT[:len(uppers) + 1]
    cw = (W - LEFT - RIGHT) / len(cols)
    grid_h = ROW_H * len(rows)
    legend_y = TOP_PAD + grid_h + 24
    keys_text = [*band_labels[:len(colours)], withheld_label, none_label]
    rows_needed, x = 1, float(LEFT)
    for label in keys_text:
        width = 26 + 6.6 * len(label)
        if x + width > W - RIGHT and x > LEFT:
            rows_needed, x = rows_needed + 1, float(LEFT)
        x += width
    height = legend_y + 18 * rows_needed
    out = open_svg(chart_id, title, desc, height)
    out.append('<defs><pattern id="' + escape(chart_id) + '-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
               'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
               '<line x1="0" y1="0" x2="0" y2="6" stroke="#777" stroke-width="2"/></pattern></defs>')
    hatch = f"url(#{escape(chart_id)}-hatch)"
    for c, lab in enumerate(cols):
        if c % label_every == 0:
            out.append(f'<text x="{LEFT + (c + 0.5) * cw:.1f}" y="{TOP_PAD - 5}" text-anchor="middle" '
                       f'fill="{INK}">{escape(lab)}</text>')
    paths: dict[str, list[str]] = {}
    for r, row_label in enumerate(rows):
        y = TOP_PAD + r * ROW_H
        out.append(f'<text x="{LEFT - 6}" y="{y + ROW_H / 2 + 4:.1f}" text-anchor="end" fill="{INK}">'
                   f'{escape(row_label)}</text>')
        for c in range(len(cols)):
            v, hidden = values[r][c], withheld[r][c]
            fill = hatch if hidden else "#fff" if v is None else colours[band_of(v, uppers)]
            paths.setdefault(fill, []).append(f"M{LEFT + c * cw:.1f} {y}h{cw:.1f}v{ROW_H}h-{cw:.1f}z")
    # one path per colour keeps the chart small (168 cells a line); the table beside it has each value
    for fill, cells in paths.items():
        out.append(f'<path d="{"".join(cells)}" fill="{fill}" stroke="{GRID}"/>')
    keys = [(colours[i], band_labels[i]) for i in range(len(colours))] + [(hatch, withheld_label), ("#fff", none_label)]
    x, y = float(LEFT), float(legend_y)
    for fill, label in keys:
        width = 26 + 6.6 * len(label)
        if x + width > W - RIGHT and x > LEFT:
            x, y = float(LEFT), y + 18
        out.append(f'<rect x="{x:.1f}" y="{y - 11:.1f}" width="14" height="14" fill="{fill}" stroke="#555"/>')
        out.append(f'<text x="{x + 19:.1f}" y="{y:.1f}" fill="{INK}">{escape(label)}</text>')
        x += width
    out.append("</svg>")
    return "\n".join(out)


__all__ = ["HEAT", "band_of", "heatmap_chart"]
