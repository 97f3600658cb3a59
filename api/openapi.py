"""The OpenAPI schema says what the API really answers: errors are RFC 9457 problem details.

FastAPI documents a 422 of its own shape (``HTTPValidationError``, ``application/json``) that
:mod:`api.problems` never sends. :func:`install` replaces it, on every operation, with the
``Problem`` schema under ``application/problem+json`` and adds it as the ``default`` response,
so the 401/403/404/409/413/429/503 that any route may answer are documented as well.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .problems import MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; errors lists bad records.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["record", "field", "value", "reason"],
                "properties": {
                    "record": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                    "field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "value": {},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}
_REF = {"$ref": "#/components/schemas/Problem"}
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_PROBLEM = {"content": {MEDIA_TYPE: {"schema": _REF}}}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` document problem-details errors on every operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            app.openapi_schema = with_problems(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with FastAPI's validation-error responses replaced by problem details."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path in schema.get("paths", {}).values():
        for method, operation in path.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "Invalid input", **_PROBLEM}
            responses.setdefault("default", {"description": "Problem details", **_PROBLEM})
    return schema
