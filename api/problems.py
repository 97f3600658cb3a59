"""The one translation of errors into HTTP: RFC 9457 problem details.

:class:`core.errors.FartkollError` (and its subclasses) answer with their ``status`` and
``title``, the message as ``detail``, and bad records as ``errors``; FastAPI's own request
validation errors answer 422 in the same shape, naming each field and value.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import FartkollError

MEDIA_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(FartkollError)
    async def _domain(request: Request, exc: FartkollError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(exc.status, exc.title, str(exc), exc.errors, headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        return problem(exc.status_code, title, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ()) if p != "body"]
            record = next((p for p in loc if p.isdigit()), None)
            errors.append({"record": int(record) if record is not None else None,
                           "field": ".".join(p for p in loc if not p.isdigit()) or None,
                           "value": _jsonable(e.get("input")), "reason": e.get("msg", "")})
        return problem(422, "Invalid input", f"{len(errors)} field(s) are invalid", errors)


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v][:20]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in list(v.items())[:20]}
    return repr(v)[:200]
