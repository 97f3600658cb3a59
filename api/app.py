"""The HTTP application: the lifespan owns the connection pool; routers do the rest.

Middleware (outermost first): :class:`api.middleware.Edge` (request id, security headers,
latency metric, access line; it answers the sign uploads of ``POST /api/v1/ingest/passes`` itself,
ahead of routing), then the CSRF check. ``/docs`` is Swagger UI from the package's own files (api.routes.ops);
``/redoc`` is off, as ReDoc is not vendored.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from psycopg_pool import ConnectionPool

from fartkoll.db import session_kwargs
from fartkoll.settings import Settings

from . import openapi, passwords, problems
from .csrf import CsrfMiddleware
from .middleware import Edge
from .pages import admin as admin_pages
from .pages import citizen as citizen_pages
from .pages import compare as compare_page
from .pages import login as login_pages
from .pages import officer as officer_pages
from .pages import officer_controls, officer_plans, render, site_controls, site_csv
from .pages import plan as plan_pages
from .pages import public as public_pages
from .pages import staff as staff_pages
from .pages import technician as technician_pages
from .routes import (
    audit,
    auth,
    controls,
    exports,
    figures,
    fleet,
    health,
    ingest,
    live,
    measures,
    officer,
    ops,
    plans,
    setup,
    sites,
    tips,
    users,
)


def create_app(settings: Settings) -> FastAPI:
    passwords.configure(**settings.api.passwords.model_dump())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        dsn = settings.database_dsn()
        pool = ConnectionPool(dsn, min_size=1, max_size=10, open=False, kwargs=session_kwargs(dsn), name="api")
        pool.open(wait=False)
        app.state.pool = pool
        app.state.settings = settings
        render.compile_templates()
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(title="Fartkoll", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    problems.install(app)
    openapi.install(app)
    app.add_middleware(CsrfMiddleware, secure=settings.api.https)  # innermost: refusals are logged and counted
    shortcuts: dict = {}  # filled once the routes exist (below)
    app.add_middleware(Edge, tiles_url=settings.web.tiles_url, shortcuts=shortcuts)  # outermost: every line has the request id

    app.include_router(ops.router(settings.api))
    app.include_router(health.router)
    app.include_router(sites.router, prefix="/api/v1")
    app.include_router(auth.router, prefix="/api/v1")
    app.include_router(users.router, prefix="/api/v1")
    app.include_router(audit.router, prefix="/api/v1")
    app.include_router(ingest.router, prefix="/api/v1")
    app.include_router(setup.router, prefix="/api/v1")
    app.include_router(tips.router, prefix="/api/v1")
    app.include_router(plans.router, prefix="/api/v1")
    app.include_router(controls.router, prefix="/api/v1")
    app.include_router(officer.router, prefix="/api/v1")
    app.include_router(figures.router, prefix="/api/v1")
    app.include_router(exports.router, prefix="/api/v1")
    app.include_router(fleet.router, prefix="/api/v1")
    app.include_router(measures.router, prefix="/api/v1")
    app.include_router(public_pages.router)
    app.include_router(plan_pages.router)
    app.include_router(site_csv.router)
    app.include_router(site_controls.router)
    app.include_router(compare_page.router)
    app.include_router(citizen_pages.router)
    app.include_router(login_pages.router)
    app.include_router(staff_pages.router)
    app.include_router(live.router, prefix="/api/v1")
    app.include_router(technician_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(officer_pages.router)
    app.include_router(officer_plans.router)
    app.include_router(officer_controls.router)
    shortcuts[("POST", ingest.PASSES_PATH)] = ingest.passes_shortcut(app)
    return app
