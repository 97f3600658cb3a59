"""The one translation catalogue of pages, reports and calendars (Swedish by default, English on
request).

The catalogue is every ``core/i18n/*.json`` file, one per area (pages, report, plan, …); each maps
a key to its Swedish and English text, and a key may be defined in one file only. ``{name}``
fields are filled with :meth:`str.format`. The language of a request is ``?lang=`` if given, else the
``fartkoll_lang`` cookie, else Swedish.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from typing import Literal

Lang = Literal["sv", "en"]
LANGS: tuple[Lang, ...] = ("sv", "en")
DEFAULT: Lang = "sv"
COOKIE = "fartkoll_lang"


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Key → {"sv": text, "en": text}, read once from the package's catalogue files."""
    words: dict[str, dict[str, str]] = {}
    folder = resources.files("core").joinpath("i18n")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        part = json.loads(entry.read_text(encoding="utf-8"))
        for key, texts in part.items():
            if key in words:
                raise ValueError(f"catalogue key {key!r} is defined twice (again in {entry.name})")
            if set(texts) != set(LANGS):
                raise ValueError(f"catalogue key {key!r} in {entry.name} needs exactly {LANGS}, has {sorted(texts)}")
            words[key] = texts
    return words


def language(query: str | None, cookie: str | None) -> Lang:
    """The page language: a known ``?lang=`` value, else a known cookie value, else Swedish."""
    for v in (query, cookie):
        if v in LANGS:
            return v  # type: ignore[return-value]
    return DEFAULT


def translator(lang: Lang) -> Callable[..., str]:
    """``t(key, **fields)``: the key's text in ``lang``. An unknown key is a KeyError (a test
    renders every page, so a missing entry fails there, not in front of a reader)."""
    words: Mapping[str, Mapping[str, str]] = catalogue()

    def t(key: str, **fields: object) -> str:
        text = words[key][lang]
        return text.format(**fields) if fields else text

    return t


def number(x: float | None, lang: Lang, digits: int = 1) -> str:
    """A number as the reader writes it (decimal comma in Swedish); an en dash for None."""
    if x is None:
        return "–"
    s = f"{x:,.{digits}f}".replace(",", "\u202f")
    return s.replace(".", ",") if lang == "sv" else s


def percent(x: float | None, lang: Lang, digits: int = 0) -> str:
    """A share 0..1 as a percentage: "12 %" (sv) or "12%" (en)."""
    if x is None:
        return "–"
    return number(100 * x, lang, digits) + ("\u00a0%" if lang == "sv" else "%")
