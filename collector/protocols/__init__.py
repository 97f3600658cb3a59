"""Wire-format parsers for radar speed sensors and signs, and the registry naming them.

Every parser is built with its configuration and then fed byte chunks::

    parser = make_parser("ops-plain", unit="mps")
    readings = parser.feed(chunk, received_at)   # never raises on any bytes
    readings += parser.flush(received_at)        # at end of input

See the protocol notes (``protocols.md``) for the formats and ``collector.grouping`` for turning streaming
readings into vehicles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from collector.protocols.decatur import DecaturParser
from collector.protocols.display import DisplayContractParser
from collector.protocols.hikvision import (
    HikvisionMode0Parser,
    HikvisionMode1Parser,
    HikvisionMode2Parser,
)
from collector.protocols.hlk import HlkParser
from collector.protocols.houston import HoustonParser
from collector.protocols.icoms import IcomsParser
from collector.protocols.mph import MphParser
from collector.protocols.ops import OpsParser
from collector.protocols.pattern import PatternParser
from collector.protocols.stalker import StalkerAParser, StalkerSParser
from collector.reading import Reading


class Parser(Protocol):
    """What every protocol parser offers."""

    name: str

    def feed(self, data: bytes, received_at: datetime) -> list[Reading]: ...

    def flush(self, received_at: datetime) -> list[Reading]: ...


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    """A registered protocol: how to build its parser and a one-line description."""

    name: str
    factory: Callable[..., Parser]
    summary: str
    binary: bool = False


def _spec(name: str, cls: Callable[..., Parser], summary: str, binary: bool = False) -> ProtocolSpec:
    return ProtocolSpec(name, partial(cls, name), summary, binary)


PROTOCOLS: dict[str, ProtocolSpec] = {
    s.name: s
    for s in (
        _spec("ops-plain", OpsParser, "OmniPreSense OPS24x plain numbers (default m/s); also reads its JSON lines"),
        _spec("ops-json", OpsParser, "OmniPreSense OPS24x JSON (OJ), replies, ON vehicles, OC objects, @O bins"),
        _spec("hlk-ld2415h", HlkParser, "Hi-Link HLK-LD2415H 'V+045.2' km/h"),
        _spec("houston-dr500", HoustonParser, "Houston Radar DR500/SS300/SS400 'nnn' or '+nnn' (unit required)"),
        _spec("stalker-a", StalkerAParser, "Stalker 'A' format ' 80.1' (unit required)"),
        _spec("stalker-s", StalkerSParser, "Stalker 'S' format, 19-byte frames (unit required)"),
        _spec("decatur-si3", DecaturParser, "Decatur SI-3 '<+|-|?><speed>' (unit required)"),
        _spec("icoms-tma296", IcomsParser, "ICOMS TMA-296 message types 1, 2, 3, 4, 6"),
        _spec("mph-binary", MphParser, "MPH Industries 7-byte binary frames (unit required)", True),
        _spec("hikvision-0", HikvisionMode0Parser, "Hikvision mode 0: one speed byte, km/h", True),
        _spec("hikvision-1", HikvisionMode1Parser, "Hikvision mode 1: F9/F8/F7 + speed byte", True),
        _spec("hikvision-2", HikvisionMode2Parser, "Hikvision mode 2: ASCII '+125'"),
        _spec("display-contract", DisplayContractParser, "Generic display: 3 ASCII digits + CR (unit required)"),
        _spec("regex", PatternParser, "Any sign: pattern= with named groups speed, direction, time"),
    )
}


def known_protocol(name: str) -> ProtocolSpec:
    """The protocol named ``name``; ``ValueError`` listing the known names for any other.

    The one list of names: ``collector run``, ``decode``, ``simulate`` and ``fartkoll sign add``
    take these and no others.
    """
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(
            f"protocol {name!r} is not known: use one of {', '.join(PROTOCOLS)}"
        ) from None


def make_parser(name: str, /, **options: Any) -> Parser:
    """A new parser for protocol ``name``, configured by ``options`` (``unit=``, ...).

    Raises ``ValueError`` for an unknown name (listing the known ones) or a bad option.
    """
    spec = known_protocol(name)
    try:
        return spec.factory(**options)
    except TypeError as exc:
        raise ValueError(f"protocol {name!r}: bad option ({exc})") from None


__all__ = ["PROTOCOLS", "Parser", "ProtocolSpec", "known_protocol", "make_parser"]
