"""Operations: ``/metrics`` (Prometheus), ``/docs`` (Swagger UI served from the package) and
``/static/...`` (the package's static files, vendored front-end code among them).

Nothing here loads from another origin: Swagger UI's script, style and icon are the files in
``api/static/vendor/swagger-ui/`` (see its NOTICE for the version), and its validator badge,
which would call validator.swagger.io, is switched off.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, swagger_ui_default_parameters
from fastapi.responses import FileResponse, HTMLResponse, Response

from core.errors import NotFound
from fartkoll.settings import ApiSettings

from .. import metrics
from ..deps import Admin, Open

STATIC = (Path(__file__).resolve().parent.parent / "static").resolve()
SWAGGER = "/static/vendor/swagger-ui"
_METRICS_DOC = {200: {"content": {metrics.CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}},
                      "description": "Prometheus text exposition format"}}


def router(settings: ApiSettings) -> APIRouter:
    """The operations routes; ``/metrics`` is open or for admins as ``settings.metrics_public`` says."""
    r = APIRouter(tags=["operations"])
    metrics_route = _metrics_open if settings.metrics_public else _metrics_admin
    r.add_api_route("/metrics", metrics_route, methods=["GET"], response_class=Response,
                    responses=_METRICS_DOC, summary="Prometheus metrics", operation_id="metrics")
    r.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    r.add_api_route("/static/{path:path}", static, methods=["GET", "HEAD"], include_in_schema=False)
    return r


def _metrics(request: Request) -> Response:
    return Response(metrics.exposition(getattr(request.app.state, "pool", None)), media_type=metrics.CONTENT_TYPE)


def _metrics_open(request: Request, _: Open) -> Response:
    return _metrics(request)


def _metrics_admin(request: Request, _: Admin) -> Response:
    return _metrics(request)


def docs(request: Request, _: Open) -> HTMLResponse:
    """Swagger UI for the app's OpenAPI schema, from our own static files."""
    app = request.app
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=root + app.openapi_url,
        title=f"{app.title} API",
        swagger_js_url=f"{root}{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{root}{SWAGGER}/favicon-32x32.png",
        swagger_ui_parameters={**swagger_ui_default_parameters, "validatorUrl": None},
    )


def static(path: str, _: Open) -> FileResponse:
    """A file under ``api/static`` (cached for a day); nothing outside it, whatever the path says."""
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file():
        raise NotFound(f"no static file {path!r}")
    return FileResponse(target, headers={"Cache-Control": "public, max-age=86400"})
