"""Reading an upload: the body's size is bounded before it is read, and a body that does not
parse answers 422 naming the record index, the field and the value."""

from __future__ import annotations

import math
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, TypeAdapter, ValidationError

from core.errors import InvalidInput, TooLarge
from fartkoll.settings import IngestSettings

MAX_BODY_BYTES = IngestSettings().max_body_bytes   # the defaults (~50,000 JSON passes); the
MAX_RECORDS = IngestSettings().max_records         # settings' api.ingest values are in force

M = TypeVar("M", bound=BaseModel)
_ADAPTERS: dict[type, TypeAdapter] = {}


def limits(request: Request) -> IngestSettings:
    """The upload limits in force (the settings' ``api.ingest``)."""
    return request.app.state.settings.api.ingest


async def limited_body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``api.ingest.max_body_bytes``
    (from Content-Length before reading anything, else while streaming)."""
    max_bytes = limits(request).max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidInput(f"Content-Length {declared!r} is not a number") from None
        if size > max_bytes:
            raise TooLarge(f"the body has {size:,} bytes; an upload may have at most {max_bytes:,}: "
                           "send smaller batches")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"the body exceeds {max_bytes:,} bytes: send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)


RawBody = Annotated[bytes, Depends(limited_body)]


def parse(model: type[M], body: bytes, records: str | None, max_records: int = MAX_RECORDS) -> M:
    """``body`` as JSON of ``model``; 422 naming each bad record (index in ``records``), field and
    value; 413 for more than ``max_records`` records."""
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    try:
        parsed = adapter.validate_json(body)
    except ValidationError as e:
        raise InvalidInput(f"{e.error_count()} problem(s) in the body", errors=validation_errors(e, records)) from None
    n = len(getattr(parsed, records)) if records else 0
    if n > max_records:
        raise TooLarge(f"the batch has {n:,} {records}; a batch may have at most {max_records:,}: send smaller batches")
    return parsed


def validation_errors(e: ValidationError, records: str | None, limit: int = 100) -> list[dict[str, Any]]:
    """pydantic's errors as ``{record, field, value, reason}``."""
    out = []
    for err in e.errors(include_url=False)[:limit]:
        loc = list(err.get("loc", ()))
        record = None
        if len(loc) >= 2 and loc[0] == records and isinstance(loc[1], int):
            record, loc = loc[1], loc[2:]
        out.append({"record": record, "field": ".".join(str(p) for p in loc) or None,
                    "value": jsonable(err.get("input")), "reason": err.get("msg", "")})
    return out


def jsonable(v: Any) -> Any:
    """A value as it can appear in a JSON answer (a short text for anything else)."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in list(v.items())[:20]}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v[:20]]
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)[:200]
