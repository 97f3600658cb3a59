"""`fartkoll serve`."""

from __future__ import annotations

import argparse
import sys

from core.errors import FartkollError

from ..settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the HTTP API and dashboards",
                       description="Serve the HTTP API until SIGTERM or Ctrl-C; in-flight requests get "
                                   "api.shutdown_grace_s seconds to finish. Prints a line once it is serving.")
    p.add_argument("--host", default=None, help="address to listen on (default: settings api.host)")
    p.add_argument("--port", type=int, default=None, help="port (default: settings api.port)")
    p.add_argument("--workers", type=int, default=None,
                   help="server processes sharing the port (default: one per core)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ..serve import serve

    try:
        if args.workers is not None and args.workers < 1:
            print("fartkoll serve: --workers must be at least 1", file=sys.stderr)
            return 2
        return serve(settings, host=args.host, port=args.port, workers=args.workers)
    except FartkollError as e:
        print(f"fartkoll serve: {e}", file=sys.stderr)
        return e.exit_code
