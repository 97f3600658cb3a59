"""The one middleware around every HTTP request: request id, security headers, latency metric
and access line, in a single wrapper of the call and of ``send``.

Each request gets an id (the client's ``X-Request-ID`` if it is sane, else a new one; echoed in
the response and set in :data:`api.logs.REQUEST_ID` for every line logged meanwhile). Each
response without its own Content-Security-Policy gets the policy (:mod:`api.csp`) and
``X-Content-Type-Options: nosniff``. When the request ends, its duration is observed in
:data:`api.metrics.REQUEST_SECONDS` by method, route template and status class, and one line
goes to the ``fartkoll.access`` logger (:mod:`api.logs`).

``shortcuts`` maps (method, path) to an ASGI application that answers that exact request instead
of the application behind (the sign uploads, :func:`api.routes.ingest.passes_shortcut`); it gets
the same id, headers, metric and access line.

One pure ASGI middleware rather than three: each layer of its own wrapped the call and every
``send`` in another coroutine and looked at the same start message (the fixed cost of a request
is what limits the cheapest routes).
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from . import csp, logs, metrics

_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_CSP = b"content-security-policy"
_NOSNIFF = (b"x-content-type-options", b"nosniff")


def incoming_id(scope: dict[str, Any]) -> str | None:
    """The client's ``X-Request-ID`` when it is 1–64 characters of ``[A-Za-z0-9._:-]``."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_ID.fullmatch(text) else None
    return None


class Edge:
    """ASGI middleware: request id, CSP and nosniff headers, latency metric, access line."""

    def __init__(self, app: Any, *, tiles_url: str | None = None,
                 shortcuts: dict[tuple[str, str], Any] | None = None) -> None:
        self.app = app
        self.shortcuts = shortcuts if shortcuts is not None else {}
        self.strict = csp.policy(tiles_url).encode()
        self.docs = csp.policy(tiles_url, inline_script=True).encode()
        self._observers: dict[tuple[str, str, str], Any] = {}

    def _observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, f"{status // 100}xx")
        child = self._observers.get(key)
        if child is None:  # prometheus-client's labels() takes a lock and builds a tuple each call
            child = self._observers[key] = metrics.REQUEST_SECONDS.labels(*key)
        child.observe(seconds)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_id(scope) or os.urandom(16).hex()
        token = logs.REQUEST_ID.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        policy = self.docs if scope["path"] in csp.INLINE_SCRIPT_PATHS else self.strict
        status = 500  # what the client gets if the application raises before answering
        start = time.perf_counter()

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers") or ())
                if not any(k.lower() == _CSP for k, _ in headers):
                    headers.append((_CSP, policy))
                    headers.append(_NOSNIFF)
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        app = self.shortcuts.get((scope["method"], scope["path"]), self.app) if self.shortcuts else self.app
        try:
            await app(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - start
            route = metrics.route_template(scope)
            method = scope["method"]
            self._observe(method, route, status, seconds)
            logs.access(method, route, status, seconds * 1000, request_id)
            logs.REQUEST_ID.reset(token)
