"""Logs of the HTTP server: text or JSON lines, one access line per request, secrets redacted.

:func:`configure` installs one handler on the root logger (uvicorn's loggers propagate to it);
:class:`AccessLog` gives each request an id (the client's ``X-Request-ID`` if it is sane, else a
new one; echoed in the response) and logs ``method``, ``route`` (the template, never the raw path
or query), ``status``, ``duration_ms`` and ``request_id`` to the ``fartkoll.access`` logger.
Every line passes :func:`redact`, which blanks bearer tokens, ``fks_``/``fkp_`` tokens,
Authorization and Cookie header values, passwords and the password of a database URL, whatever
logger wrote them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from .metrics import route_template

ACCESS = logging.getLogger("fartkoll.access")
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("fartkoll_request_id", default=None)
REQUEST_FIELDS = ("request_id", "method", "route", "status", "duration_ms")
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_HANDLER_MARK = "_fartkoll_handler"

_SECRETS = [
    # a token of ours anywhere: fks_/fkp_ and its random part
    (re.compile(r"\b(fk[sp]_)[A-Za-z0-9_-]+"), r"\1[redacted]"),
    # "Authorization: Bearer x", "'authorization': 'x'", "cookie=x", "Set-Cookie: x"
    (re.compile(r"(?i)\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key)"
                r"(['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n]*"), r"\1\2[redacted]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    # password=x, "password": "x", secret / token fields
    (re.compile(r"(?i)\b(password|passwd|secret|token|csrf_token|session_id)(['\"]?\s*[:=]\s*['\"]?)[^\s'\",&;}]+"),
     r"\1\2[redacted]"),
    # postgresql://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s/]+@"), r"\1:[redacted]@"),
]


def redact(text: str) -> str:
    """``text`` with every secret it shows replaced by ``[redacted]``."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class _RequestIdFilter(logging.Filter):
    """Adds the id of the request being served to every record logged while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for field in REQUEST_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger: message [request id]``, for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id:
            text += f" [{request_id}]"
        return redact(text)


def configure(log_format: Literal["text", "json"] = "text", level: int | str = "INFO",
              stream: TextIO | None = None) -> logging.Handler:
    """Send all logging to ``stream`` (standard error) in ``log_format``; replaces the handler an
    earlier call installed and leaves other handlers alone."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn's own lines go through the root handler
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler


class AccessLog:
    """ASGI middleware: a request id for every HTTP request and one access line when it ends."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_ms = round((time.perf_counter() - start) * 1000, 2)
            route = route_template(scope)
            ACCESS.info("%s %s %d %.1f ms", scope["method"], route, status, duration_ms,
                        extra={"request_id": request_id, "method": scope["method"], "route": route,
                               "status": status, "duration_ms": duration_ms})
            REQUEST_ID.reset(token)


def _incoming_id(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_ID.fullmatch(text) else None
    return None
