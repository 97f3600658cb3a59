"""The one translation of errors into HTTP: RFC 9457 problem details.

:class:`core.errors.FartkollError` (and its subclasses) answer with their ``status`` and
``title``, the message as ``detail``, and bad records as ``errors``; FastAPI's own request
validation errors answer 422 in the same shape, naming each field and value. A whole number that
the database cannot hold (its ids and counts are 32-bit) answers as what it is: in the path, an id
that no object can have (404); in the query, an invalid value (422), named with its field.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import FartkollError

MEDIA_TYPE = "application/problem+json"
_SECRET_KEY = re.compile(r"password|token|secret", re.IGNORECASE)  # never echoed back in an error


def problem(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def domain_problem(exc: FartkollError) -> JSONResponse:
    """The problem answer of one of our errors (its status, title, message and records)."""
    headers = dict(getattr(exc, "headers", None) or {})   # e.g. Retry-After of a rate limit
    retry_after = getattr(exc, "retry_after", None)  # seconds, e.g. a throttled login
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return problem(exc.status, exc.title, str(exc), exc.errors, headers or None)


INT4_MAX = 2**31 - 1


def _outside_int4(value: Any) -> bool:
    try:
        return not -INT4_MAX - 1 <= int(str(value)) <= INT4_MAX
    except ValueError:
        return False


def install(app: FastAPI) -> None:
    @app.exception_handler(psycopg.errors.NumericValueOutOfRange)
    async def _out_of_range(request: Request, exc: psycopg.errors.NumericValueOutOfRange) -> JSONResponse:
        path = [(k, v) for k, v in request.path_params.items() if _outside_int4(v)]
        if path:
            name, value = path[0]
            return problem(404, "Not found", f"no {name.removesuffix('_id')} {value}: ids are at most {INT4_MAX}")
        query = [(k, v) for k, v in request.query_params.multi_items() if _outside_int4(v)]
        if query:
            return problem(422, "Invalid input", f"{len(query)} field(s) are invalid",
                           [{"record": None, "field": k, "value": v,
                             "reason": f"outside the whole numbers the database holds (at most {INT4_MAX})"}
                            for k, v in query])
        raise exc  # not the request's numbers: a fault, answered 500 and logged


    @app.exception_handler(FartkollError)
    async def _domain(request: Request, exc: FartkollError) -> JSONResponse:
        return domain_problem(exc)

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
            field = ".".join(p for p in loc if not p.isdigit()) or None
            value = "<hidden>" if field and _SECRET_KEY.search(field) else _jsonable(e.get("input"))
            errors.append({"record": int(record) if record is not None else None,
                           "field": field, "value": value, "reason": e.get("msg", "")})
        return problem(422, "Invalid input", f"{len(errors)} field(s) are invalid", errors)


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v][:20]
    if isinstance(v, dict):
        return {str(k): "<hidden>" if _SECRET_KEY.search(str(k)) else _jsonable(x)
                for k, x in list(v.items())[:20]}
    return repr(v)[:200]
