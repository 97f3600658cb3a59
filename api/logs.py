"""Logs of the HTTP server: text or JSON lines, one access line per request, secrets redacted.

:func:`configure` installs one handler on the root logger (uvicorn's loggers propagate to it);
:func:`access` logs each request's ``method``, ``route`` (the template, never the raw path or
query), ``status``, ``duration_ms`` and ``request_id`` (given by :class:`api.middleware.Edge`) to
the ``fartkoll.access`` logger.
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
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

ACCESS = logging.getLogger("fartkoll.access")
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("fartkoll_request_id", default=None)
REQUEST_FIELDS = ("request_id", "method", "route", "status", "duration_ms")
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


def access(method: str, route: str, status: int, duration_ms: float, request_id: str) -> None:
    """The access line of one request (written by :class:`api.middleware.Edge`)."""
    if ACCESS.isEnabledFor(logging.INFO):
        duration_ms = round(duration_ms, 2)
        ACCESS.info("%s %s %d %.1f ms", method, route, status, duration_ms,
                    extra={"request_id": request_id, "method": method, "route": route,
                           "status": status, "duration_ms": duration_ms})
