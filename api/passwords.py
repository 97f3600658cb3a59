"""Password hashing with argon2id (argon2-cffi): hash, verify, and the length rule."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; this bounds the work a login request can ask for

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def configure(*, time_cost: int, memory_kib: int, parallelism: int) -> None:
    """Hash and check with these argon2id parameters from now on (the settings' ``api.passwords``,
    applied by the entry points); a hash made with weaker ones is renewed at the next login."""
    global _hasher
    params = (time_cost, memory_kib, parallelism)
    if params != (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism):
        _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        _dummy.cache_clear()


@cache
def _dummy() -> str:
    """Verified against when no account matches, so an unknown e-mail costs what a wrong password does."""
    return _hasher.hash("not a password of anyone")


def check_rule(password: str, *, field: str = "password") -> None:
    """Refuse a password that is too short or too long (the value itself is never echoed)."""
    if len(password) < MIN_LENGTH or len(password) > MAX_LENGTH:
        raise InvalidInput(
            f"a password must have {MIN_LENGTH} to {MAX_LENGTH} characters; this one has {len(password)}",
            errors=[{"record": None, "field": field, "value": f"<{len(password)} characters>",
                     "reason": f"needs {MIN_LENGTH}..{MAX_LENGTH} characters"}])


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string) to store for ``password``."""
    check_rule(password)
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; an account without a password matches nothing."""
    if len(password) > MAX_LENGTH:
        return False
    if stored is None:
        try:
            _hasher.verify(_dummy(), password)
        except VerifyMismatchError:
            pass  # the dummy only spends the same time
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with weaker parameters than today's (rehash at login)."""
    return _hasher.check_needs_rehash(stored)
