"""Admission of uploads: no more uploads past this point than the pool has connections.

``Sign`` resolves a pooled connection in FastAPI's thread pool (40 threads). With more
concurrent uploads than that, every thread could sit waiting for one of the pool's connections
while the requests holding them wait for a thread to run their next step in: nothing moves until
the pool times out (measured: 50 concurrent uploads, all answered 500 after 30 s). Uploads are
therefore admitted on the event loop, fewer at a time than the pool has connections, so an
admitted upload finds a connection at once and holds a thread only while it runs; the rest wait
without holding either.

The passes and CSV uploads are not admitted here: they take no pooled connection (the sign comes
from :mod:`.upload_sign`, the group commit has connections of its own), so any number of them may
wait for a group at once, and the groups grow with the load. The binned and heartbeat uploads,
which write on a pooled connection, are.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from fartkoll.settings import IngestSettings

UPLOADS = IngestSettings().uploads_at_once  # the default (measured: 64 gave no more passes/s than 36)
OTHER_ROUTES = 8    # pooled connections kept for every other route


def make_room(app: FastAPI) -> None:
    """Grow the app's pool so that the admitted uploads and the other routes fit at once."""
    pool, uploads = app.state.pool, app.state.settings.api.ingest.uploads_at_once
    if pool.max_size < uploads + OTHER_ROUTES:
        pool.resize(pool.min_size, uploads + OTHER_ROUTES)


async def admitted(request: Request) -> AsyncIterator[None]:
    slots: asyncio.Semaphore | None = getattr(request.app.state, "ingest_slots", None)
    if slots is None:
        uploads = request.app.state.settings.api.ingest.uploads_at_once
        room = max(1, min(uploads, request.app.state.pool.max_size - OTHER_ROUTES))
        slots = request.app.state.ingest_slots = asyncio.Semaphore(room)
    async with slots:
        yield


Admitted = Annotated[None, Depends(admitted)]
