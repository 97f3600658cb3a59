"""Run the HTTP API with uvicorn."""

from __future__ import annotations

import uvicorn

from .settings import Settings


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    from api.app import create_app

    host = host or settings.api.host
    port = port or settings.api.port
    print(f"Fartkoll is serving on http://{host}:{port}/  (health: /healthz, sites: /api/v1/sites)", flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    return 0
