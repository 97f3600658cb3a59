"""The common frame of the charts: size, axes, grid, colours (the look of the situation picture)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b7950b")
W, H = 640, 230
LEFT, RIGHT, TOP, BOTTOM = 46, 12, 14, 30
GRID, INK, MARK = "#ddd", "#555", "#222"

# Share of vehicles over the limit → colour: a sequential, colour-blind-safe scale (viridis stops,
# light to dark), every step readable by lightness alone. (upper bound, colour), the last open.
SHARE_BANDS: tuple[tuple[float, str], ...] = (
    (0.10, "#fde725"), (0.25, "#5ec962"), (0.40, "#21918c"), (0.60, "#3b528b"), (math.inf, "#440154"))
NO_DATA = "#bdbdbd"
# Lines and grouped bars: the Okabe–Ito colours, told apart with every common colour-vision
# deficiency; display (solid) and stealth (dashed) lines differ by their stroke too.
SERIES = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")


def share_colour(share: float | None) -> str:
    """The colour of a share over the limit (0..1) on the map and in its legend; grey for none."""
    if share is None:
        return NO_DATA
    return next(colour for upper, colour in SHARE_BANDS if share < upper)


def nice_step(y_max: float) -> float:
    """A grid step giving 3 to 6 lines up to ``y_max``: 1, 2 or 5 × 10ⁿ."""
    if y_max <= 0:
        return 1.0
    raw = y_max / 5
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


@dataclass(frozen=True)
class Frame:
    """A plot area mapping x in [x0, x1] and y in [0, y_max] to the SVG's coordinates."""

    x0: float
    x1: float
    y_max: float

    def x(self, v: float) -> float:
        return LEFT + (W - LEFT - RIGHT) * (v - self.x0) / (self.x1 - self.x0)

    def y(self, v: float) -> float:
        return TOP + (H - TOP - BOTTOM) * (1 - v / self.y_max)


def open_svg(chart_id: str, title: str, desc: str, height: int = H) -> list[str]:
    """The ``<svg>`` start with its accessible name (title) and description (the text alternative)."""
    cid = escape(chart_id)
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="100%" role="img" '
            f'class="chart" aria-labelledby="{cid}-t {cid}-d" font-family="sans-serif" font-size="12">',
            f'<title id="{cid}-t">{escape(title)}</title>', f'<desc id="{cid}-d">{escape(desc)}</desc>']


def y_grid(frame: Frame, step: float, label: Callable[[float], str]) -> list[str]:
    out = []
    k = 0
    while k * step <= frame.y_max + 1e-9:
        v = k * step
        y = frame.y(v)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">{escape(label(v))}</text>')
        k += 1
    return out


def x_labels(positions: Sequence[tuple[float, str]]) -> list[str]:
    return [f'<text x="{x:.1f}" y="{H - 10}" text-anchor="middle" fill="{INK}">{escape(text)}</text>'
            for x, text in positions]


def legend(items: Sequence[tuple[str, str, str]], y: float) -> list[str]:
    """A row of (label, colour, dash) keys at ``y``, wrapping onto a new row when full."""
    out, x = [], float(LEFT)
    for label, colour, dash in items:
        width = 34 + 6.6 * len(label)
        if x + width > W - RIGHT and x > LEFT:
            x, y = float(LEFT), y + 16
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 24:.1f}" y2="{y - 4:.1f}" stroke="{colour}" '
                   f'stroke-width="3"{dash_attr}/>')
        out.append(f'<text x="{x + 28:.1f}" y="{y:.1f}" fill="{INK}">{escape(label)}</text>')
        x += width
    return out


def legend_rows(items: Sequence[tuple[str, str, str]]) -> int:
    """How many rows :func:`legend` needs for ``items``."""
    rows, x = 1, float(LEFT)
    for label, _, _ in items:
        width = 34 + 6.6 * len(label)
        if x + width > W - RIGHT and x > LEFT:
            rows, x = rows + 1, float(LEFT)
        x += width
    return rows


def axis_title(text: str) -> str:
    """The y axis's unit, top left."""
    return f'<text x="{LEFT}" y="{TOP - 3}" fill="{INK}" font-size="11">{escape(text)}</text>'
