"""Houston Radar DR500 / SS300 / SS400 speed output: ``nnn`` or signed ``+nnn``."""

from __future__ import annotations

import re

from collector.protocols.signed_text import DECIMAL, SignedSpeedParser


class HoustonParser(SignedSpeedParser):
    """Houston Radar DR500/SS300/SS400: ``nnn`` or ``+nnn``/``-nnn``; idle ``000``/``?000``.

    The unit (mph or km/h) is a device setting: ``unit`` is required. Which sign means
    approaching is not documented: ``plus_means`` defaults to approaching. The radar streams
    the current target speed, so lines are ``reading``s unless ``per_vehicle=True``.
    """

    pattern = re.compile(r"(?P<sign>[+?-])?" + DECIMAL)
    shape = "nnn, +nnn, -nnn or ?nnn"
