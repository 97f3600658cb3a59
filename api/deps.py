"""Request-scoped dependencies: a pooled connection, the settings, and who is asking.

Every route names its access rule with one of the ``Annotated`` aliases below (``Public``,
``Viewer``, ``Officer``, ``Technician``, ``Admin``, ``AnyUser``, ``Sign``). Each alias's
dependency carries an ``access_rule`` attribute; a test walks the app's route table and fails
on a route without one (tests/test_access_matrix.py).

Routes are plain ``def`` on the synchronous pool (FastAPI runs them in its thread pool). The
connection is not autocommit: a route that writes commits (``conn.commit()``); when the request
ends the connection's transaction is committed if the route returned and rolled back if it
raised (psycopg's connection context), and the connection goes back to the pool.

Each sync dependency is a hop to a worker thread and back, which costs more than most of what a
cheap route does; so the settings are an ``async`` dependency (no I/O), and ``Conn`` is a
:class:`Lease` that takes its pooled connection in the worker thread that first uses it (the
access rule's, or the route's) instead of a thread of its own: a request makes three hops (rule,
route, return of the connection) instead of five.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from core.errors import Forbidden, Unauthenticated
from fartkoll.settings import Settings

from . import auth
from .principal import RANK, Principal, SignPrincipal


class Lease:
    """A pooled connection taken on first use: it stands for ``psycopg.Connection`` (attributes
    and methods are the connection's) and is taken in the thread that first touches it."""

    __slots__ = ("_pool", "_conn", "_context")

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._conn: psycopg.Connection | None = None
        self._context: Any = None

    def _take(self) -> psycopg.Connection:
        if self._conn is None:
            context = self._pool.connection()
            self._conn = context.__enter__()
            self._context = context
        return self._conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._take(), name)

    @property
    def taken(self) -> bool:
        return self._conn is not None

    def give_back(self, error: BaseException | None = None) -> None:
        """Commit (``error`` None) or roll back, and return the connection to the pool."""
        context, self._context, self._conn = self._context, None, None
        if error is None:
            context.__exit__(None, None, None)
        else:
            context.__exit__(type(error), error, error.__traceback__)


async def _conn(request: Request) -> AsyncIterator[psycopg.Connection]:
    lease = Lease(request.app.state.pool)
    try:
        yield lease  # type: ignore[misc]
    except BaseException as e:
        if lease.taken:
            await run_in_threadpool(lease.give_back, e)
        raise
    if lease.taken:
        await run_in_threadpool(lease.give_back)


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


Conn = Annotated[psycopg.Connection, Depends(_conn)]
AppSettings = Annotated[Settings, Depends(_settings)]


def _who(request: Request, conn: Conn) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is None:
        cached = auth.principal(request, conn)
        request.state.principal = cached
    return cached


def _rule(name: str, allowed: tuple[str, ...] | None) -> Callable[..., Principal]:
    """A dependency admitting the roles in ``allowed`` (None: anyone, anonymous included)."""

    def dependency(request: Request, conn: Conn) -> Principal:
        who = _who(request, conn)
        if allowed is None:
            return who
        if who.anonymous:
            raise Unauthenticated("log in (or send a personal API token) to see this")
        if who.role not in allowed:
            raise Forbidden(f"the {who.role} role may not do this; it needs one of: {', '.join(allowed)}")
        return who

    dependency.access_rule = name  # type: ignore[attr-defined]
    dependency.__name__ = f"require_{name}"
    return dependency


def _sign(request: Request, conn: Conn) -> SignPrincipal:
    return auth.sign_principal(request, conn)


_sign.access_rule = "sign"  # type: ignore[attr-defined]


def _open() -> None:
    """Operations endpoints that answer without asking who (and without a database connection)."""


_open.access_rule = "public"  # type: ignore[attr-defined]

# Roles allowed by each rule (admin may do everything a person can).
RULES: dict[str, tuple[str, ...] | None] = {
    "public": None,
    "user": ("viewer", "officer", "technician", "admin"),
    "viewer": ("viewer", "officer", "technician", "admin"),
    "officer": ("officer", "admin"),
    "technician": ("technician", "admin"),
    "admin": ("admin",),
}

Public = Annotated[Principal, Depends(_rule("public", RULES["public"]))]
AnyUser = Annotated[Principal, Depends(_rule("user", RULES["user"]))]
Viewer = Annotated[Principal, Depends(_rule("viewer", RULES["viewer"]))]
Officer = Annotated[Principal, Depends(_rule("officer", RULES["officer"]))]
Technician = Annotated[Principal, Depends(_rule("technician", RULES["technician"]))]
Admin = Annotated[Principal, Depends(_rule("admin", RULES["admin"]))]
Sign = Annotated[SignPrincipal, Depends(_sign)]
Open = Annotated[None, Depends(_open)]

__all__ = ["RANK", "Admin", "AnyUser", "AppSettings", "Conn", "Officer", "Open", "Public", "Sign", "Technician", "Viewer"]
