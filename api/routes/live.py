"""A sign's live readings: ``GET /api/v1/signs/{id}/live``.

Asked for ``text/event-stream`` (as ``EventSource`` does) it answers server-sent events: first a
``status`` event (the sign, its site and last heartbeat), then a ``passes`` event for every upload
of the sign as soon as it has committed (from any server process: PostgreSQL NOTIFY, see
:mod:`api.live`), a fresh ``status`` every :data:`STATUS_EVERY_S` seconds (which keeps the stream
alive through proxies), and ``missed`` when the client fell too far behind. The stream ends after
:data:`STREAM_MAX_S` (or ``?seconds=``); ``EventSource`` reconnects by itself. Asked for anything else it answers
the same view as JSON: the status and the newest passes.

The access check takes a pooled connection only for the check itself, so an open stream does
not hold one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

import anyio.to_thread
import psycopg
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import StreamingResponse

from core.errors import Forbidden, Unauthenticated
from fartkoll.db import session_kwargs

from .. import auth, scope
from ..deps import RULES
from ..live.hub import Hub
from ..live.readings import LiveView, live_view, sign_status
from ..principal import Principal

STATUS_EVERY_S = 15.0
STREAM_MAX_S = 30 * 60.0
RETRY_MS = 3000


@asynccontextmanager
async def lifespan(app: FastAPI):
    dsn = app.state.settings.database_dsn()
    app.state.live_hub = Hub(lambda: psycopg.connect(dsn, **session_kwargs(dsn)))
    try:
        yield
    finally:
        app.state.live_hub.close()


router = APIRouter(tags=["live"], lifespan=lifespan)


def _technician_of_sign(request: Request, sign_id: int) -> Principal:
    """A technician (or admin) who manages the sign; the pooled connection goes back at once."""
    with request.app.state.pool.connection() as conn:
        who = auth.principal(request, conn)
        if who.anonymous:
            raise Unauthenticated("log in (or send a personal API token) to see this")
        if who.role not in RULES["technician"]:
            raise Forbidden(f"the {who.role} role may not do this; it needs one of: {', '.join(RULES['technician'])}")
        scope.require_sign(conn, who, sign_id)
    return who


_technician_of_sign.access_rule = "technician"  # type: ignore[attr-defined]
SignTechnician = Annotated[Principal, Depends(_technician_of_sign)]


def _view(request: Request, sign_id: int) -> LiveView:
    with request.app.state.pool.connection() as conn:
        return live_view(conn, sign_id, now=datetime.now(UTC),
                         default_time_zone=request.app.state.settings.default_time_zone)


def _status_json(request: Request, sign_id: int) -> str:
    with request.app.state.pool.connection() as conn:
        return sign_status(conn, sign_id, now=datetime.now(UTC),
                           default_time_zone=request.app.state.settings.default_time_zone).model_dump_json()


def event(name: str, data: str) -> bytes:
    """One server-sent event (``data`` is one line of JSON)."""
    return f"event: {name}\ndata: {data}\n\n".encode()


async def stream(request: Request, sign_id: int, seconds: float = STREAM_MAX_S) -> AsyncIterator[bytes]:
    hub: Hub = request.app.state.live_hub
    sub = hub.subscribe(sign_id)
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        yield event("status", await anyio.to_thread.run_sync(_status_json, request, sign_id))
        end = time.monotonic() + seconds
        next_status = time.monotonic() + STATUS_EVERY_S
        while time.monotonic() < end:
            try:
                message = await asyncio.wait_for(sub.queue.get(), max(0.0, next_status - time.monotonic()))
            except TimeoutError:
                yield event("status", await anyio.to_thread.run_sync(_status_json, request, sign_id))
                next_status = time.monotonic() + STATUS_EVERY_S
                continue
            yield event("passes", json.dumps(message, separators=(",", ":")))
            if sub.missed:
                yield event("missed", json.dumps({"n": sub.missed}))
                sub.missed = 0
    finally:
        hub.unsubscribe(sub)


@router.get("/signs/{sign_id}/live", response_model=LiveView,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "JSON (the view now), or server-sent events when asked for text/event-stream"}})
async def sign_live(sign_id: int, request: Request, who: SignTechnician,
                    seconds: Annotated[float | None, Query(gt=0, le=STREAM_MAX_S, description=(
                        "end the event stream after this many seconds (default: 30 minutes)"))] = None):
    """The sign's live readings: events as they are stored, or the newest passes as JSON."""
    if "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(stream(request, sign_id, seconds or STREAM_MAX_S), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    return await anyio.to_thread.run_sync(_view, request, sign_id)
