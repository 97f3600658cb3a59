"""Bearer tokens for signs and people: random, shown once, stored only as a SHA-256 hash.

A token is ``<prefix>_<43 url-safe characters>`` (256 random bits): ``fks`` for a sign's upload
token, ``fkp`` for a person's API token. The prefix lets a leaked token be recognised by secret
scanners and tells the server which table to look in; it is not a secret. SHA-256 suffices for
256-bit random tokens (no dictionary to guess from); passwords use argon2 instead.
"""

from __future__ import annotations

import hashlib
import secrets

SIGN_PREFIX = "fks"
PERSONAL_PREFIX = "fkp"


def new_token(prefix: str) -> str:
    """A fresh random token with ``prefix``."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> bytes:
    """What is stored in ``api_tokens.token_hash`` for ``token``."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
