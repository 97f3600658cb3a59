"""The hot path of ``POST /ingest/passes``: a body that is plainly valid, decoded without pydantic.

msgspec decodes the body into plain structs (in C), and a few checks per pass (the time's text,
the direction's name, finite numbers) confirm what the pydantic model (:class:`PassBatch`) would
accept. Whenever this decoder cannot vouch for a body it answers ``None`` and the route
validates the body with pydantic, which gives the answer for it, errors and all: a body is
accepted here only if pydantic accepts it with the same values, so the accept/reject decisions
and the error messages stay pydantic's (``tests/test_ingest_fast_decode.py`` compares the two). Measured on the benchmark's bodies
(100 passes, best of 30 rounds on a busy machine): ~100 µs per body against pydantic's 180-250 µs.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import NamedTuple

import msgspec

from .models import DIRECTION


class _Pass(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    time: str
    speed_kmh: float
    key: uuid.UUID
    direction: str = "unknown"
    length_m: float | None = None


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    batch_id: uuid.UUID
    sign: str
    passes: list[_Pass]


class Decoded(NamedTuple):
    """An upload as validated: its passes have the fields of ``models.PassIn`` except ``time``,
    which ``times`` holds as datetimes."""

    batch_id: uuid.UUID
    sign: str
    passes: list[_Pass]
    times: list[datetime]


_DECODER = msgspec.json.Decoder(_Batch)
# RFC 3339 with a 'T', seconds, at most 6 fractional digits and an offset: a text that both
# pydantic and datetime.fromisoformat read as the same instant (fromisoformat refuses the values
# out of range, e.g. month 13, hour 24 or a 30 February). A time's shape is its text with every
# digit as 0; any other shape goes to pydantic.
_DIGITS = bytes.maketrans(b"0123456789", b"0000000000")
_SHAPES = frozenset(f"0000-00-00T00:00:00{fraction}{offset}".encode()
                    for fraction in ["", *("." + "0" * n for n in range(1, 7))]
                    for offset in ("Z", "+00:00", "-00:00"))
_NAMES = frozenset(DIRECTION)


def decode(body: bytes) -> Decoded | None:
    """The upload in ``body`` if it is plainly valid, else None (let pydantic decide).

    The checks run over whole columns in C loops: per pass in Python they cost four times the
    decoding itself (measured)."""
    try:
        batch = _DECODER.decode(body)
    except msgspec.DecodeError:  # msgspec.ValidationError is a DecodeError
        return None
    passes = batch.passes
    if not passes:
        return Decoded(batch.batch_id, batch.sign, passes, [])
    texts = [p.time for p in passes]
    try:
        shapes = "\n".join(texts).encode("ascii").translate(_DIGITS).split(b"\n")
    except UnicodeEncodeError:
        return None
    if (len(shapes) != len(texts) or not _SHAPES.issuperset(shapes)
            or not _NAMES.issuperset([p.direction for p in passes])
            or not all(map(math.isfinite, [p.speed_kmh for p in passes]))
            or not all(map(math.isfinite, [p.length_m for p in passes if p.length_m is not None]))):
        return None
    try:
        times = list(map(datetime.fromisoformat, texts))
    except ValueError:  # a day that does not exist (2026-02-30)
        return None
    return Decoded(batch.batch_id, batch.sign, passes, times)
