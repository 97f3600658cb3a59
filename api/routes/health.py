"""Liveness with a real database round trip."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sql import QUERIES

router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    try:
        async with asyncio.timeout(5):
            async with request.app.state.pool.connection() as conn:
                row = await (await conn.execute(QUERIES["health"])).fetchone()
    except Exception as e:  # any failure to reach the database is reported, not raised
        return JSONResponse({"status": "degraded", "database": f"unreachable: {type(e).__name__}"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "timescaledb": row[0] if row else None})
