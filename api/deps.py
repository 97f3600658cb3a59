"""Request-scoped dependencies: a pooled connection, the settings, and who is asking.

Every route names its access rule with one of the ``Annotated`` aliases below (``Public``,
``Viewer``, ``Officer``, ``Technician``, ``Admin``, ``AnyUser``, ``Sign``). Each alias's
dependency carries an ``access_rule`` attribute; a test walks the app's route table and fails
on a route without one (tests/test_access_matrix.py).

Routes are plain ``def`` on the synchronous pool (FastAPI runs them in its thread pool). The
connection is not autocommit: a route that writes commits (``conn.commit()``); anything left
uncommitted is rolled back when the connection returns to the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request

from core.errors import Forbidden, Unauthenticated
from fartkoll.settings import Settings

from . import auth
from .principal import RANK, Principal, SignPrincipal


def _conn(request: Request) -> Iterator[psycopg.Connection]:
    with request.app.state.pool.connection() as conn:
        yield conn


def _settings(request: Request) -> Settings:
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
