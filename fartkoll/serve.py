"""Run the HTTP API with uvicorn: bind first, say so once serving, finish requests on shutdown.

The listening socket is bound before the application starts, so a port that is taken is a
one-line error (exit code 2), not a traceback after start-up. "Serving" is printed only once
uvicorn has started (lifespan done, socket listening). On SIGTERM or Ctrl-C uvicorn stops
accepting, lets in-flight requests finish for up to ``api.shutdown_grace_s`` seconds, then
closes the pool.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from typing import Any, TextIO

import uvicorn

from core.errors import FartkollError

from .settings import Settings


class CannotListen(FartkollError):
    """The server cannot listen on that address."""

    exit_code = 2
    status = 503
    title = "Cannot listen"


def bind(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port``; :class:`CannotListen` if the address is taken or wrong."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as e:
        raise CannotListen(f"cannot listen on {host}:{port}: unknown address ({e.strerror}); "
                           "set --host or api.host to an address of this machine") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart despite TIME_WAIT
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        hint = ("another program is listening there: stop it or choose another --port (api.port)"
                if e.errno == 98 else "choose another --host/--port (api.host, api.port)")
        raise CannotListen(f"cannot listen on {host}:{port}: {e.strerror}; {hint}") from None
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, calling ``on_started`` once it is ready for requests."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._on_started()


def serve(settings: Settings, host: str | None = None, port: int | None = None, *,
          app: Any = None, out: TextIO | None = None) -> int:
    """Serve ``app`` (the Fartkoll API unless given) until SIGTERM/SIGINT; 0 after a clean stop."""
    from api import logs
    from api.app import create_app

    host = host or settings.api.host
    port = port or settings.api.port
    out = out or sys.stdout
    logs.configure(settings.api.log_format)
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(
        app if app is not None else create_app(settings),
        log_config=None,  # api.logs.configure did it
        access_log=False,  # api.logs.AccessLog writes one line per request, with its id
        timeout_graceful_shutdown=settings.api.shutdown_grace_s,
    )

    def started() -> None:
        print(f"Fartkoll is serving on http://{shown}:{bound_port}/  "
              "(health: /healthz, API documentation: /docs, metrics: /metrics)", file=out, flush=True)

    server = _Server(config, started)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0 if server.started else 1
