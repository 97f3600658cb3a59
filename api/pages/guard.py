"""Pages behind a login: errors answered as a page, not as problem JSON.

Routes of a router made with ``route_class=PageRoute`` that fail with a domain error (no login,
the wrong role, another municipality's object, a refused change) answer with the same status as
the JSON API would, as an HTML page in the reader's language that says what to do: log in,
go back, or ask an admin. The access rules themselves are the usual aliases of :mod:`api.deps`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from core.errors import FartkollError

from .. import csrf
from .render import render

ERROR_TEMPLATE = "technician/problem.html"


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except FartkollError as e:
                return problem_page(request, e)

        return page_handler


def problem_page(request: Request, error: FartkollError) -> Response:
    who = getattr(request.state, "principal", None)
    return render(request, ERROR_TEMPLATE, status=error.status, status_code=error.status, detail=str(error),
                  who=who, csrf_token=csrf.token(request) or "")


def page(request: Request, template: str, *, who: Any, status: int = 200, **context: Any) -> Response:
    """A logged-in page: the template with the person and the form token. Forms' values
    (``form``, ``site_form``) read as '' where not given."""
    for name in ("form", "site_form"):
        if name in context:
            context[name] = defaultdict(str, context[name] or {})
    return render(request, template, status=status, who=who, csrf_token=csrf.token(request) or "", **context)
