"""Liveness with a real database round trip."""

from __future__ import annotations

from typing import Literal

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg.rows import dict_row
from psycopg_pool import PoolTimeout
from pydantic import BaseModel

from sql import QUERIES

from ..deps import Open

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    """Whether the server can reach its database (and which TimescaleDB it has)."""

    status: Literal["ok", "degraded"]
    database: str
    timescaledb: str | None = None


@router.get("/healthz", response_model=Health,
            responses={503: {"model": Health, "description": "The database cannot be reached"}})
def healthz(request: Request, _: Open) -> Health | JSONResponse:
    try:
        with request.app.state.pool.connection(timeout=5) as conn:
            row = conn.cursor(row_factory=dict_row).execute(QUERIES["health"]).fetchone()
    except (psycopg.Error, PoolTimeout) as e:  # a database that cannot be reached is reported, not raised
        down = Health(status="degraded", database=f"unreachable: {type(e).__name__}")
        return JSONResponse(down.model_dump(), status_code=503)
    return Health(status="ok", database="ok", timescaledb=row["extversion"] if row else None)
