"""The one error root. Every domain error derives from :class:`FartkollError`, which carries
the CLI's exit code and the HTTP status; each boundary translates it once (the CLI prints the
message and exits with ``exit_code``; the API answers RFC 9457 problem details with ``status``).

The class docstring is the default message. ``errors`` lists bad records as
``{record, field, value, reason}`` dicts where the error is about input records.
"""

from __future__ import annotations

from typing import Any


class FartkollError(Exception):
    """Something went wrong."""

    exit_code: int = 1
    status: int = 500
    title: str = "Internal error"

    def __init__(self, message: str | None = None, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        self.errors = errors or []

    @property
    def message(self) -> str:
        return str(self)


class InvalidInput(FartkollError):
    """The input is not valid."""

    exit_code = 2
    status = 422
    title = "Invalid input"


class NotFound(FartkollError):
    """No such object."""

    exit_code = 3
    status = 404
    title = "Not found"


class Conflict(FartkollError):
    """The request conflicts with what is stored."""

    exit_code = 4
    status = 409
    title = "Conflict"


class Unauthenticated(FartkollError):
    """Log in or give a valid token."""

    exit_code = 5
    status = 401
    title = "Authentication required"


class Forbidden(FartkollError):
    """Your role does not allow this."""

    exit_code = 5
    status = 403
    title = "Forbidden"


class TooLarge(FartkollError):
    """The request is too large."""

    exit_code = 2
    status = 413
    title = "Payload too large"


class TooManyRequests(FartkollError):
    """Too many attempts: wait and try again."""

    exit_code = 6
    status = 429
    title = "Too many requests"


class Unavailable(FartkollError):
    """A service this needs is unavailable: try again later."""

    exit_code = 7
    status = 503
    title = "Service unavailable"
