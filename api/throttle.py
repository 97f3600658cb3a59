"""Login throttling: failed logins counted in the database per account and per client address
over a sliding window, so every server process sees the same counts.

Checked before the password is: once an account (or an address) has used up its failures,
even the right password is refused until the oldest failure leaves the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import dict_row

from core.errors import TooManyRequests
from sql import QUERIES


class LoginThrottled(TooManyRequests):
    """Too many failed logins: wait and try again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds; sent as the Retry-After header


@dataclass(frozen=True)
class Limits:
    window: timedelta = timedelta(minutes=15)
    per_account: int = 5
    per_address: int = 20


LIMITS = Limits()


def check(conn: psycopg.Connection, email: str, address: str, *, now: datetime, limits: Limits = LIMITS) -> None:
    """Raise :class:`LoginThrottled` when the account or the address has no attempts left."""
    row = conn.cursor(row_factory=dict_row).execute(QUERIES["login_failures_count"], {
        "email": email, "address": address, "now": now, "window": limits.window}).fetchone()
    blocked = []
    if row["account_failures"] >= limits.per_account:
        blocked.append(("account", row["account_oldest"], limits.per_account))
    if row["address_failures"] >= limits.per_address:
        blocked.append(("address", row["address_oldest"], limits.per_address))
    if not blocked:
        return
    what, oldest, limit = max(blocked, key=lambda b: b[1])
    wait = max(1, math.ceil((oldest + limits.window - now).total_seconds()))
    minutes = int(limits.window.total_seconds() // 60)
    subject = "this account" if what == "account" else "this client address"
    raise LoginThrottled(f"{limit} failed logins for {subject} within {minutes} minutes: "
                         f"try again in {wait} s", retry_after=wait)


def failed(conn: psycopg.Connection, email: str, address: str, *, now: datetime, limits: Limits = LIMITS) -> None:
    """Count one failed login (and forget failures that have left the window)."""
    conn.execute(QUERIES["login_failures_prune"], {"now": now, "window": limits.window})
    conn.execute(QUERIES["login_failure_insert"], {"now": now, "email": email, "address": address})


def succeeded(conn: psycopg.Connection, email: str) -> None:
    """A successful login clears the account's failures."""
    conn.execute(QUERIES["login_failures_clear"], {"email": email})
