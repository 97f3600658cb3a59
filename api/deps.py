"""Request-scoped dependencies: a pooled connection and the settings."""

from __future__ import annotations

from typing import Annotated, AsyncIterator

from fastapi import Depends, Request
from psycopg import AsyncConnection

from fartkoll.settings import Settings


async def _conn(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.pool.connection() as conn:
        yield conn


def _settings(request: Request) -> Settings:
    return request.app.state.settings


Conn = Annotated[AsyncConnection, Depends(_conn)]
AppSettings = Annotated[Settings, Depends(_settings)]
