"""Who uploads: the sign behind an upload token, without a database round trip per upload.

A token seen once is kept in memory (by its SHA-256 hash) with its sign. The group commit checks
every token of a group in the group's own transaction before it writes (one statement for the
group, :data:`CHECK_QUERY`), so a token revoked in any process stops working for every upload
that reaches a group after the revocation committed, and is dropped from the memory. A token the
memory does not hold is looked up as ``deps.Sign`` does (same answers, same messages).
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from collector.tokens import SIGN_PREFIX, hash_token

from .. import auth
from ..principal import SignPrincipal

CHECK_QUERY = "ingest_live_sign_tokens"
REVOKED = "the sign token is unknown or revoked: issue a new one with `fartkoll token issue SIGN`"


class KnownTokens:
    """Sign principals by token hash; bounded (cleared when full: a look-up refills it)."""

    def __init__(self, max_size: int = 100_000) -> None:
        self._by_hash: dict[bytes, SignPrincipal] = {}
        self._max = max_size
        self._lock = threading.Lock()

    def get(self, token_hash: bytes) -> SignPrincipal | None:
        return self._by_hash.get(token_hash)

    def put(self, token_hash: bytes, who: SignPrincipal) -> None:
        with self._lock:
            if len(self._by_hash) >= self._max:
                self._by_hash.clear()
            self._by_hash[token_hash] = who

    def forget(self, token_hash: bytes) -> None:
        with self._lock:
            self._by_hash.pop(token_hash, None)


def _look_up(request: Request) -> SignPrincipal:
    with request.app.state.pool.connection() as conn:
        return auth.sign_principal(request, conn)


async def upload_sign(request: Request) -> SignPrincipal:
    """The sign of the request's upload token (401 without a live one); its hash in
    ``request.state.token_hash`` for the group commit's check."""
    token = auth.bearer(request)
    if token is None or not token.startswith(SIGN_PREFIX + "_"):
        return await run_in_threadpool(_look_up, request)  # the look-up's own 401 and message
    token_hash = hash_token(token)
    known: KnownTokens = request.app.state.known_sign_tokens
    who = known.get(token_hash)
    if who is None:
        who = await run_in_threadpool(_look_up, request)
        known.put(token_hash, who)
    request.state.token_hash = token_hash
    return who


upload_sign.access_rule = "sign"  # type: ignore[attr-defined]

UploadSign = Annotated[SignPrincipal, Depends(upload_sign)]
