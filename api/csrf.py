"""CSRF protection for cookie-authenticated requests: asgi-csrf's signed double-submit cookie.

Every unsafe request (not GET/HEAD/OPTIONS/TRACE) that carries cookies must repeat the value of
the ``csrftoken`` cookie in the ``X-CSRFToken`` header (JSON, scripts in pages) or the
``csrftoken`` form field (HTML forms). Requests with ``Authorization: Bearer`` (signs, scripts
with personal tokens) and requests without cookies need none: a browser always sends its
cookies, so only a request that carries none cannot be a forged browser request. The login
route is protected even without cookies (login CSRF), except for a JSON body from a client
with no cookies, which a browser cannot send cross-site without CORS.

The signing key lives in the database (``app_secrets``), so a token issued by one server
process is good at every other.

Safe requests, and the unsafe ones asgi-csrf would let through unchecked (no cookies, or a
Bearer token: the signs' uploads), pass asgi-csrf by: they are never refused, and most never
need a token, so :class:`SafeToken` makes (or reads back from the cookie) the token only when a page or
``/api/v1/me`` asks for it, with asgi-csrf's signer, cookie and ``Vary: Cookie`` (asgi-csrf
signed a new random token for every request, wanted or not).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from contextvars import ContextVar
from enum import Enum
from typing import Any

import anyio.to_thread
import psycopg
from asgi_csrf import DEFAULT_SIGNING_NAMESPACE, asgi_csrf, cookies_from_scope, make_secret
from fastapi import Request
from itsdangerous import BadSignature
from itsdangerous.url_safe import URLSafeSerializer
from psycopg_pool import ConnectionPool, PoolTimeout

from sql import QUERIES

from .problems import problem

COOKIE = "csrftoken"
HEADER = "x-csrftoken"
FORM_FIELD = "csrftoken"
SECRET_NAME = "csrf"  # noqa: S105 - the name of the key in app_secrets, not a secret
LOGIN_PATH = "/api/v1/sessions"
SAFE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_OUTER: ContextVar[dict[str, Any] | None] = ContextVar("fartkoll_csrf_outer_scope", default=None)
_PASSED = "fartkoll.csrf.passed"  # set in the outer scope once the check has let the request in
_ROUTED = ("route", "endpoint", "path_params", "fastapi")


def load_secret(pool: ConnectionPool) -> str:
    """The shared signing key, made on first use by whichever process comes first."""
    with pool.connection(timeout=10) as conn:
        conn.execute(QUERIES["secret_ensure"], {"name": SECRET_NAME, "value": secrets.token_bytes(32)})
        value = conn.execute(QUERIES["secret_get"], {"name": SECRET_NAME}).fetchone()[0]
        conn.commit()
    return bytes(value).hex()


def token(request: Request) -> str | None:
    """The CSRF token for this client (setting the cookie on the response if it has none yet)."""
    get: Callable[[], str] | None = request.scope.get("csrftoken")
    return get() if get is not None else None


def _skip(scope: dict[str, Any]) -> bool:
    headers = dict(scope.get("headers") or [])
    json_body = headers.get(b"content-type", b"").split(b";", 1)[0].strip() == b"application/json"
    return scope["path"] == LOGIN_PATH and b"cookie" not in headers and json_body


def _passes_unchecked(scope: dict[str, Any]) -> bool:
    """An unsafe request asgi-csrf lets through without a token (no cookies, outside the login
    route or a cookie-less JSON login; or ``Authorization: Bearer``): handed on as a safe one is,
    with a token made only if the response uses one, instead of asgi-csrf signing one for every
    upload a sign sends."""
    headers = dict(scope.get("headers") or [])
    if headers.get(b"authorization", b"").startswith(b"Bearer "):
        return True
    return not headers.get(b"cookie") and (scope["path"] != LOGIN_PATH or _skip(scope))


class _NonAscii(Enum):
    NON_ASCII_TOKEN = 1


async def _send_problem(send: Callable, status: int, title: str, detail: str) -> None:
    response = problem(status, title, detail)
    await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


async def _refused(scope: dict[str, Any], send: Callable, message_id: Any) -> None:
    await _send_problem(send, 403, "CSRF check failed",
                        f"a request with cookies must repeat the '{COOKIE}' cookie's value in the "
                        f"X-CSRFToken header or the '{FORM_FIELD}' form field ({message_id.name.lower()}); "
                        "GET /api/v1/me answers the token as csrf_token")


class SafeToken:
    """The CSRF token of a safe request, made on demand, and the headers its response then needs:
    what asgi-csrf does for GET/HEAD/OPTIONS/TRACE, without a token for responses that use none."""

    def __init__(self, scope: dict[str, Any], signer: URLSafeSerializer, secure: bool) -> None:
        self.scope = scope
        self.signer = signer
        self.secure = secure
        self.value: str | None = None
        self.new = False

    def __call__(self) -> str:
        if self.value is None:
            cookie = cookies_from_scope(self.scope).get(COOKIE)
            if cookie is not None:
                try:
                    self.signer.loads(cookie, DEFAULT_SIGNING_NAMESPACE)
                except BadSignature:
                    cookie = None
            self.new = cookie is None
            self.value = cookie if cookie is not None else self.signer.dumps(make_secret(16), DEFAULT_SIGNING_NAMESPACE)
        return self.value

    def headers(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """The response's headers with ``Vary: Cookie`` and, for a new token, its cookie."""
        out, vary = [], False
        for key, value in headers:
            if key == b"vary":
                vary = True
                bits = [v.strip() for v in value.split(b",")]
                if b"Cookie" not in bits:
                    value = b", ".join([*bits, b"Cookie"])
            out.append((key, value))
        if not vary:
            out.append((b"vary", b"Cookie"))
        if self.new:
            attrs = f"{COOKIE}={self.value}; Path=/; SameSite=Lax" + ("; Secure" if self.secure else "")
            out.append((b"set-cookie", attrs.encode()))
        return out


async def _safe(app: Any, signer: URLSafeSerializer, secure: bool, scope: dict[str, Any], receive: Callable,
                send: Callable) -> None:
    """A safe request: the application with an on-demand token (``scope["csrftoken"]``)."""
    wanted = scope["csrftoken"] = SafeToken(scope, signer, secure)

    async def send_token(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and wanted.value is not None:
            message = {**message, "headers": wanted.headers(list(message.get("headers") or ()))}
        await send(message)

    await app(scope, receive, send_token)


# operations endpoints: no forms, no cookies, and they must answer while the database is down
UNGUARDED = frozenset({"/healthz", "/metrics"})


class CsrfMiddleware:
    """asgi-csrf around the application, built at the first request once the pool is open."""

    def __init__(self, app: Any, *, secure: bool) -> None:
        self.app = app
        self.secure = secure
        self._protected: Any = None
        self._signer: URLSafeSerializer | None = None
        self._lock = asyncio.Lock()

    async def _build(self, scope: dict[str, Any]) -> Any:
        async with self._lock:
            if self._protected is None:
                secret = await anyio.to_thread.run_sync(load_secret, scope["app"].state.pool)
                self._signer = URLSafeSerializer(secret)  # asgi-csrf's own signer, for safe requests
                self._protected = asgi_csrf(
                    self._inner, cookie_name=COOKIE, http_header=HEADER, signing_secret=secret,
                    always_protect={LOGIN_PATH}, skip_if_scope=_skip, cookie_secure=self.secure,
                    cookie_samesite="Lax", send_csrf_failed=_refused)
        return self._protected

    async def _inner(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        """The application, called with asgi-csrf's copy of the scope; what routing records in
        that copy (the matched route, for metrics and the access log outside) is copied back."""
        outer = _OUTER.get()
        if outer is not None:
            outer[_PASSED] = True
        try:
            await self.app(scope, receive, send)
        finally:
            if outer is not None:
                for key in _ROUTED:
                    if key in scope:
                        outer[key] = scope[key]

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope.get("path") in UNGUARDED:
            await self.app(scope, receive, send)
            return
        protected = self._protected
        if protected is None:
            try:
                protected = await self._build(scope)
            except (psycopg.Error, PoolTimeout):
                # no database, no shared key: safe requests go on (e.g. /healthz says so), others wait
                if scope["method"] in SAFE:
                    await self.app(scope, receive, send)
                else:
                    await _send_problem(send, 503, "Service unavailable",
                                        "the database is unreachable, so the CSRF check cannot run: try again later")
                return
        if scope["method"] in SAFE or _passes_unchecked(scope):
            await _safe(self.app, self._signer, self.secure, scope, receive, send)
            return
        reset = _OUTER.set(scope)
        try:
            await protected(scope, receive, send)
        except TypeError:
            # asgi-csrf compares with secrets.compare_digest, which raises TypeError for a
            # non-ASCII token: that is a token that does not match. Raised by the application
            # itself (past the check), it is a bug and goes on up.
            if scope.pop(_PASSED, False):
                raise
            await _refused(scope, send, _NonAscii.NON_ASCII_TOKEN)
        finally:
            _OUTER.reset(reset)
