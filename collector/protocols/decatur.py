"""Decatur SI-3 / SI-3C speed sensors: ``<D><speed>`` lines."""

from __future__ import annotations

import re

from collector.protocols.signed_text import DECIMAL, SignedSpeedParser


class DecaturParser(SignedSpeedParser):
    """Decatur SI-3/SI-3C: ``<D><speed>``, D ``+`` towards, ``-`` away, ``?`` unknown.

    Digit count is unsure, so any number of digits and optional tenths are read. Unit is a
    device setting: ``unit`` is required. Streaming ``reading``s unless ``per_vehicle=True``.
    """

    pattern = re.compile(r"(?P<sign>[+?-])?" + DECIMAL)
    shape = "<+|-|?><speed>, e.g. +45"
