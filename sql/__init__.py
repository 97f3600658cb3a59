"""Schema migrations and named queries, shipped as package data.

Queries live in ``sql/queries/*.sql`` under ``-- name: query_name`` headers followed by a
one-line ``-- description``; code calls ``QUERIES["query_name"]``. Placeholders are psycopg's
``%(param)s``.
"""

from __future__ import annotations

import re
from importlib import resources

_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.M)


def _load() -> dict[str, str]:
    queries: dict[str, str] = {}
    for f in sorted(resources.files(__package__).joinpath("queries").iterdir(), key=lambda p: p.name):
        if not f.name.endswith(".sql"):
            continue
        parts = _HEADER.split(f.read_text())
        for name, body in zip(parts[1::2], parts[2::2], strict=False):
            if name in queries:
                raise RuntimeError(f"query {name!r} is defined twice (second time in sql/queries/{f.name})")
            queries[name] = body.strip()
    return queries


class _Queries(dict[str, str]):
    def __missing__(self, key: str) -> str:
        raise KeyError(f"no query named {key!r} in sql/queries/*.sql")


QUERIES: dict[str, str] = _Queries(_load())
