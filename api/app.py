"""The HTTP application: the lifespan owns the connection pool; routers do the rest."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from psycopg_pool import ConnectionPool

from fartkoll.settings import Settings

from . import problems
from .routes import health, setup, sites, tips


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        pool = ConnectionPool(settings.database_dsn(), min_size=1, max_size=10, open=False,
                              kwargs={"connect_timeout": 10})
        pool.open(wait=False)
        app.state.pool = pool
        app.state.settings = settings
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(title="Fartkoll", version="0.1.0", lifespan=lifespan)
    problems.install(app)
    app.include_router(health.router)
    app.include_router(sites.router, prefix="/api/v1")
    app.include_router(setup.router, prefix="/api/v1")
    app.include_router(tips.router, prefix="/api/v1")
    return app
