"""`fartkoll serve`."""

from __future__ import annotations

import argparse

from ..settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the HTTP API and dashboards")
    p.add_argument("--host", default=None, help="address to listen on (default: settings api.host)")
    p.add_argument("--port", type=int, default=None, help="port (default: settings api.port)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ..serve import serve

    return serve(settings, host=args.host, port=args.port)
