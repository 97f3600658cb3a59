"""Databases for tests on one server: URLs, copies from templates, drops."""

from __future__ import annotations

import time
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
