"""Run the HTTP API with uvicorn: bind first, say so once serving, finish requests on shutdown.

The listening socket is bound before the application starts, so a port that is taken is a
one-line error (exit code 2), not a traceback after start-up. "Serving" is printed only once
uvicorn has started (lifespan done, socket listening). On SIGTERM or Ctrl-C uvicorn stops
accepting, lets in-flight requests finish for up to ``api.shutdown_grace_s`` seconds, then
closes the pool.

With several cores it serves from one process per core (``workers``), all accepting on the one
socket bound here, as a deployment would: one process is held to one core by the interpreter's
lock (measured with ``fartkoll bench api`` on a quiet 2-core machine: 2 processes gave 1.6 x the
uploads/s of one; on a machine busy with other work, less or nothing). The first process supervises: it says "serving" once every worker has started, passes
SIGTERM/Ctrl-C on to them, and starts a new worker in place of one that dies; a worker dies with
it, even when it is killed with SIGKILL.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
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


def default_workers() -> int:
    """Server processes by default: one per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def serve(settings: Settings, host: str | None = None, port: int | None = None, *,
          app: Any = None, out: TextIO | None = None, workers: int | None = None) -> int:
    """Serve ``app`` (the Fartkoll API unless given) until SIGTERM/SIGINT; 0 after a clean stop.

    ``workers``: server processes (default: one per core; a given ``app`` is served by this
    process alone)."""
    from api import logs

    host = host or settings.api.host
    port = port or settings.api.port
    out = out or sys.stdout
    workers = 1 if app is not None else (workers or default_workers())
    logs.configure(settings.api.log_format)
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host

    def started() -> None:
        print(f"Fartkoll is serving on http://{shown}:{bound_port}/  "
              "(health: /healthz, API documentation: /docs, metrics: /metrics)", file=out, flush=True)

    try:
        if workers > 1:
            return _supervise(settings, sock, workers, started)
        return 0 if _run(settings, sock, started, app) else 1
    finally:
        sock.close()


def _run(settings: Settings, sock: socket.socket, on_started: Callable[[], None], app: Any = None) -> bool:
    """Serve on ``sock`` in this process until SIGTERM/SIGINT; whether it had started."""
    from api.app import create_app

    config = uvicorn.Config(
        app if app is not None else create_app(settings),
        log_config=None,  # api.logs.configure did it
        access_log=False,  # api.middleware.Edge writes one line per request, with its id
        timeout_graceful_shutdown=settings.api.shutdown_grace_s,
    )
    server = _Server(config, on_started)
    server.run(sockets=[sock])
    return server.started


def _worker(settings: Settings, sock: socket.socket, ready: Any) -> None:
    """One server process of several (started by :func:`_supervise`)."""
    from api import logs

    _die_with_parent()
    os.setpgrp()  # Ctrl-C reaches the supervisor only, which passes it on once
    logs.configure(settings.api.log_format)
    started = _run(settings, sock, lambda: ready.put(os.getpid()))
    sys.exit(0 if started else 1)


def _die_with_parent() -> None:
    """Have the kernel send SIGKILL to this process when its parent dies (Linux; elsewhere nothing)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _supervise(settings: Settings, sock: socket.socket, workers: int, on_started: Callable[[], None]) -> int:
    """Run ``workers`` server processes on ``sock`` until SIGTERM/SIGINT; 0 after a clean stop."""
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    stopping = False

    def start() -> multiprocessing.process.BaseProcess:
        proc = context.Process(target=_worker, args=(settings, sock, ready), name="fartkoll-serve-worker")
        proc.start()
        return proc

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGTERM)

    procs: list[multiprocessing.process.BaseProcess] = []
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    procs.extend(start() for _ in range(workers))
    try:
        waiting = workers
        while waiting and not stopping:
            try:
                ready.get(timeout=0.5)
                waiting -= 1
            except queue.Empty:  # see whether a worker gave up starting
                if any(not p.is_alive() for p in procs):
                    stop(signal.SIGTERM, None)
                    for p in procs:
                        p.join(settings.api.shutdown_grace_s + 5)
                    return 1
        if not stopping:
            on_started()
        while not stopping:
            wait([p.sentinel for p in procs], timeout=1.0)
            for i, p in enumerate(procs):
                if not p.is_alive() and not stopping:
                    print(f"fartkoll serve: worker {p.pid} exited with {p.exitcode}; starting another",
                          file=sys.stderr, flush=True)
                    procs[i] = start()
        for p in procs:
            p.join(settings.api.shutdown_grace_s + 5)
            if p.is_alive():
                p.kill()
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
