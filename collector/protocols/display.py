"""The generic speed-display contract: three ASCII digits and ``\\r``."""

from __future__ import annotations

import re

from collector.protocols.signed_text import SignedSpeedParser


class DisplayContractParser(SignedSpeedParser):
    """Generic display contract: three ASCII digits then ``\\r``; a zero every 2 s when idle.

    Carries whatever unit the display shows: ``unit`` is required. No direction.
    """

    pattern = re.compile(r"(?P<sign>) *(?P<speed>\d{1,3})")
    shape = "three ASCII digits, e.g. 045"
