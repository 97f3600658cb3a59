"""Server-side SVG charts, drawn once for the pages and the printed reports alike.

Every chart is a self-contained ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (its text
alternative), print-safe colours and no script; the page or report puts the data table beside it.
"""

from .bars import bar_chart
from .distribution import distribution_chart
from .frame import PALETTE, SERIES, SHARE_BANDS, share_colour
from .grouped import grouped_bar_chart
from .heatmap import HEAT, heatmap_chart
from .lines import Line, line_chart
from .trend import Line as TrendLine
from .trend import limit_changes, line_colour, trend_chart

__all__ = ["HEAT", "PALETTE", "SERIES", "SHARE_BANDS", "Line", "TrendLine", "bar_chart", "distribution_chart",
           "grouped_bar_chart", "heatmap_chart", "limit_changes", "line_chart", "line_colour", "share_colour",
           "trend_chart"]
