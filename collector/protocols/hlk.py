"""Hi-Link HLK-LD2415H radar module (inside many cheap signs): ``V+045.2`` lines."""

from __future__ import annotations

import re

from collector.protocols.signed_text import DECIMAL, SignedSpeedParser


class HlkParser(SignedSpeedParser):
    """Hi-Link HLK-LD2415H: ``V+045.2`` km/h, ``+`` approaching, streaming (up to 22/s)."""

    pattern = re.compile(r"V(?P<sign>[+-])?" + DECIMAL)
    shape = "V<sign><speed>, e.g. V+045.2"
    default_unit = "kmh"
