"""Schema migrations and named queries, shipped as package data.

Queries live in ``sql/queries/*.sql`` under ``-- name: query_name`` headers followed by a
one-line ``-- description``; code calls ``QUERIES["query_name"]``. Placeholders are psycopg's
``%(param)s``.

A query is kept as its statement alone: comment lines and indentation are for the reader of the
file and are dropped at load (no query has a string literal that spans lines, which a test
checks). psycopg caches the conversion of a query's placeholders only for a text of at most 4,096
characters (``MAX_CACHED_STATEMENT_LENGTH``) and converts a longer one anew at every execution;
the longest query with its comments has 5,421, without them 3,832 (the per-site statistics'
parts: 0.08 ms of conversion at each execution, measured).
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
            queries[name] = statement(body)
    return queries


def statement(body: str) -> str:
    """The query text without its comment lines, blank lines and indentation."""
    lines = (line.strip() for line in body.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("--"))


class _Queries(dict[str, str]):
    def __missing__(self, key: str) -> str:
        raise KeyError(f"no query named {key!r} in sql/queries/*.sql")


QUERIES: dict[str, str] = _Queries(_load())
