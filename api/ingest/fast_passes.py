"""The hot path of ``POST /ingest/passes``: a body that is plainly valid, decoded without pydantic.

msgspec decodes the body into plain structs (in C), and a few checks per pass (the time's text,
the direction's name, finite numbers) confirm what the pydantic model (:class:`PassBatch`) would
accept. Whenever this decoder cannot vouch for a body it answers ``None`` and the route
validates the body with pydantic, which gives the answer for it, errors and all: a body is
accepted here only if pydantic accepts it with the same values, so the accept/reject decisions
and the error messages are pydantic's by construction. Measured on the benchmark's bodies
(100 passes): 0.12 ms per body against pydantic's 0.55 ms.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import datetime
from typing import NamedTuple

import msgspec

from .models import DIRECTION


class _Pass(msgspec.Struct, forbid_unknown_fields=True):
    time: str
    speed_kmh: float
    key: uuid.UUID
    direction: str = "unknown"
    length_m: float | None = None


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    batch_id: uuid.UUID
    sign: str
    passes: list[_Pass]


class PassRecord(NamedTuple):
    """One pass of an upload, as validated (the fields of ``models.PassIn``)."""

    time: datetime
    speed_kmh: float
    direction: str
    length_m: float | None
    key: uuid.UUID


class Decoded(NamedTuple):
    batch_id: uuid.UUID
    sign: str
    passes: list[PassRecord]


_DECODER = msgspec.json.Decoder(_Batch)
# RFC 3339 with a 'T', seconds, at most 6 fractional digits and an offset: a text that both
# pydantic and datetime.fromisoformat read as the same instant. Anything else goes to pydantic.
_TIME = re.compile(r"\d{4}-[01]\d-[0-3]\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)")
_isfinite = math.isfinite


def decode(body: bytes) -> Decoded | None:
    """The upload in ``body`` if it is plainly valid, else None (let pydantic decide)."""
    try:
        batch = _DECODER.decode(body)
    except msgspec.DecodeError:  # msgspec.ValidationError is a DecodeError
        return None
    out = []
    match, parse_time = _TIME.fullmatch, datetime.fromisoformat
    for p in batch.passes:
        speed, length = p.speed_kmh, p.length_m
        if (match(p.time) is None or p.direction not in DIRECTION or not _isfinite(speed)
                or (length is not None and not _isfinite(length))):
            return None
        try:
            t = parse_time(p.time)
        except ValueError:  # a day that does not exist (2026-02-30)
            return None
        out.append(PassRecord(t, speed, p.direction, length, p.key))
    return Decoded(batch.batch_id, batch.sign, out)
