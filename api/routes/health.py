"""Liveness with a real database round trip."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from sql import QUERIES

from ..deps import Open

router = APIRouter()


@router.get("/healthz")
def healthz(request: Request, _: Open) -> JSONResponse:
    try:
        with request.app.state.pool.connection(timeout=5) as conn:
            row = conn.execute(QUERIES["health"]).fetchone()
    except (psycopg.Error, PoolTimeout) as e:  # a database that cannot be reached is reported, not raised
        return JSONResponse({"status": "degraded", "database": f"unreachable: {type(e).__name__}"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "timescaledb": row[0] if row else None})
