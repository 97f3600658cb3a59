"""Admission of uploads: no more uploads past this point than the pool has connections.

``Sign`` resolves a pooled connection in FastAPI's thread pool (40 threads). With more
concurrent uploads than that, every thread could sit waiting for one of the pool's connections
while the requests holding them wait for a thread to run their next step in: nothing moves until
the pool times out (measured: 50 concurrent uploads, all answered 500 after 30 s). Uploads are
therefore admitted on the event loop, at most as many at a time as the pool has connections, so
an admitted upload finds a connection and a thread; the rest wait without holding either.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request


async def admitted(request: Request) -> AsyncIterator[None]:
    slots: asyncio.Semaphore | None = getattr(request.app.state, "ingest_slots", None)
    if slots is None:
        slots = request.app.state.ingest_slots = asyncio.Semaphore(max(1, request.app.state.pool.max_size - 1))
    async with slots:
        yield


Admitted = Annotated[None, Depends(admitted)]
