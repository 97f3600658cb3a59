"""Server-side SVG charts, drawn once for the pages and the printed reports alike.

Every chart is a self-contained ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (its text
alternative), print-safe colours and no script; the page or report puts the data table beside it.
"""

from .bars import bar_chart
from .distribution import distribution_chart
from .frame import PALETTE, SHARE_BANDS, share_colour
from .trend import Line, limit_changes, line_colour, trend_chart

__all__ = ["PALETTE", "SHARE_BANDS", "Line", "bar_chart", "distribution_chart", "limit_changes", "line_colour",
           "share_colour", "trend_chart"]
