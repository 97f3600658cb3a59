"""A site page's gathered figures kept per server process until what they rest on changes.

The key is the site and one cheap row of what its figures depend on (its rollups' count and
sums, their limits, its signs' coverage, its limit history, the site row and the newest data hour
of any site: ``pages_site_version``); any write that changes a figure changes that row, so a
cached page is never stale, only the first request after a change computes. The follow-up of
past controls also rests on the comparison sites: its key adds the controls shown, so late data
at a comparison site alone (older than the newest hour) shows once the next hour of data arrives.
The map's sites overview is kept the same way under one row of what it rests on for every site
(each site's last 8 days of rollups and coverage, its limits, signs, binned counts and place,
and the hour now: ``pages_overview_version``). A few dozen pages fit; the least recently used
goes first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import psycopg

from planner.dbsettings import query_settings
from sql import QUERIES

MAX_ENTRIES = 128


class PageCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, conn: psycopg.Connection, site_id: int, compute: Callable[[], Any], *extra: object) -> Any:
        """``compute()``'s value for the site's current data version and ``extra`` (computed at most
        once per version)."""
        version = conn.execute(QUERIES["pages_site_version"], {"site_id": site_id}).fetchone()
        return self.kept((site_id, tuple(version), *extra), compute)

    def overview(self, conn: psycopg.Connection, compute: Callable[[], Any], *extra: object) -> Any:
        """``compute()``'s value for the current version of what the sites overview rests on
        (``pages_overview_version``) and ``extra``."""
        with query_settings(conn, jit="off"):  # compiling it would cost far more than its index probes
            version = conn.execute(QUERIES["pages_overview_version"]).fetchone()
        return self.kept(("overview", tuple(version), *extra), compute)

    def kept(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """The value kept under ``key``, else ``compute()``'s, kept."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
        value = compute()
        with self._lock:
            self.misses += 1
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value


def page_cache(state: Any) -> PageCache:
    """The application's cache (``app.state.site_pages``), made on first use."""
    cache = getattr(state, "site_pages", None)
    if cache is None:
        cache = state.site_pages = PageCache()
    return cache
