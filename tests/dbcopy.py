"""Databases for tests on one server: URLs, copies from templates, drops."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict


def url_of(server_url: str, dbname: str) -> str:
    """The same server's postgresql:// URL with another database (what DATABASE_URL accepts)."""
    p = conninfo_to_dict(server_url)
    auth = quote(p.get("user", "postgres"), safe="") + (":" + quote(p["password"], safe="") if p.get("password") else "")
    return f"postgresql://{auth}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{quote(dbname, safe='')}"


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_database(server_url: str, name: str, template: str | None = None) -> None:
    """A new database, empty or copied from ``template`` (retrying while the template still has
    a closing session: TimescaleDB's scheduler connects to databases that allow it)."""
    drop_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as admin:
        if template is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return
        stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        for _ in range(50):
            try:
                admin.execute(stmt)
                return
            except psycopg.errors.ObjectInUse:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (template,))
                time.sleep(0.1)
    raise RuntimeError(f"template database {template} stayed busy for 5 s")


def seal_template(server_url: str, name: str) -> None:
    """Close a database to connections so it can serve as a template, ending its sessions."""
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))


DROPS_AT_ONCE = 16


class Copies:
    """Fresh copies of one sealed template for one process, each made one test ahead in one
    background thread and dropped behind in another, so a test neither waits for its copy to be
    made nor for the last one to be dropped (a drop waits for a checkpoint; up to DROPS_AT_ONCE
    drops run together and share it), and a made copy never waits behind the drops. A copy handed out is exactly what a copy made on demand would
    be: the template is closed to connections and never changes. A failed create raises in
    ``take``; a failed drop raises in ``close``."""

    def __init__(self, server_url: str, template: str, prefix: str) -> None:
        self.server_url, self.template, self.prefix = server_url, template, prefix
        self._count = itertools.count()
        self._creates = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"create-{prefix}")
        # each DROP DATABASE waits for a checkpoint (~1-3 s here); drops waiting together share one,
        # so a backlog of copies is dropped at once rather than one checkpoint after another
        self._dropper = ThreadPoolExecutor(max_workers=DROPS_AT_ONCE, thread_name_prefix=f"drop-{prefix}")
        self._next: Future[str] | None = None
        self._drops: list[Future[None]] = []

    def _create(self, name: str) -> str:
        create_database(self.server_url, name, self.template)
        return name

    def take(self) -> str:
        """Name of a fresh copy, now the caller's; the next one is started at once."""
        name = self._next.result() if self._next is not None else self._create(f"{self.prefix}_{next(self._count)}")
        self._next = self._creates.submit(self._create, f"{self.prefix}_{next(self._count)}")
        return name

    def drop(self, name: str) -> None:
        """Drop a copy taken from here, in the background."""
        self._drops.append(self._dropper.submit(drop_database, self.server_url, name))

    def close(self) -> None:
        """Drop the copy made ahead (or cancel it if not yet begun), wait for every drop and raise
        the first one that failed."""
        if self._next is not None and not self._next.cancel():
            self._drops.append(self._dropper.submit(drop_database, self.server_url, self._next.result()))
        self._next = None
        self._creates.shutdown(wait=True)
        self._dropper.shutdown(wait=True)
        for f in self._drops:
            f.result()
