"""Opening connections to the configured database, with errors that say what to do."""

from __future__ import annotations

import re

import psycopg
from psycopg.conninfo import conninfo_to_dict

from core.errors import Unavailable

from .settings import Settings

NO_JIT = "-c jit=off"
"""Session option of every connection the service and the commands open. PostgreSQL compiles a
query whose cost estimate passes jit_above_cost, which costs 0.1-1 s a query and pays off only for
long analytic scans; ours are index probes and running totals (a site page's overview version
query took 1.2 s with JIT, 20 ms without). Options in DATABASE_URL come after it, so
``options=-c jit=on`` there still wins."""

GENERIC_PLANS = "-c plan_cache_mode=force_generic_plan"
"""Session option beside :data:`NO_JIT`: a statement psycopg has prepared (one run five times on a
connection) is planned once, not at each execution. PostgreSQL's own choice (``auto``) kept
planning the long figure queries anew, as a custom plan's estimate always looked cheaper than the
generic one's: measured on a year of one site (20 sites x 52 weeks), ``figures_site_parts`` spent
2.2 ms planning and 0.9 ms executing at each call (3.6 ms; generic 0.6 ms) and the coverage parts
1.3 + 0.3 ms (generic 0.3 ms), so a year's statistics cost the database 7-8 ms of CPU instead of
3-4. Statements run once are planned for their values as before (unnamed statements are)."""

SESSION_OPTIONS = f"{NO_JIT} {GENERIC_PLANS}"


def session_kwargs(dsn: str) -> dict[str, object]:
    """Keyword arguments for ``psycopg.connect`` (and a pool's ``kwargs``) for ``dsn``: the connect
    timeout and :data:`SESSION_OPTIONS` before the address's own options."""
    own = conninfo_to_dict(dsn).get("options")
    return {"connect_timeout": 10, "options": f"{SESSION_OPTIONS} {own}" if own else SESSION_OPTIONS}


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached; the message names the address and the fix."""

    exit_code = 2  # the fix is in the configuration (DATABASE_URL, `fartkoll db up`), as for settings


def redact(dsn: str) -> str:
    """The address without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", dsn)


def connect(settings: Settings, *, autocommit: bool = False) -> psycopg.Connection:
    dsn = settings.database_dsn()
    try:
        return psycopg.connect(dsn, autocommit=autocommit, **session_kwargs(dsn))
    except psycopg.OperationalError as e:
        if settings.database_url:
            hint = "set DATABASE_URL correctly"
        elif "password" in str(e):
            from .localdb import password_file

            hint = (f"the local TimescaleDB needs the password in {password_file(settings.localdb)}: run "
                    "`fartkoll db up` as the user who owns it (it makes the file), or set DATABASE_URL")
        else:
            hint = "run `fartkoll db up` to start the local TimescaleDB, or set DATABASE_URL"
        raise DatabaseUnavailable(
            f"cannot reach the database at {redact(dsn)}: {redact(str(e).strip())}. Fix: {hint}.") from None


def psql_command(settings: Settings, sql_text: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The psql command line and its environment for the configured database.

    The password goes only into the child's environment (PGPASSWORD), never on its command line,
    where any user could read it in the process list.
    """
    import os
    import shutil

    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    exe = shutil.which("psql")
    if exe is None:
        raise DatabaseUnavailable("psql is not installed: `apt-get install postgresql-client` (Debian) "
                                  "or use a machine that has it")
    params = conninfo_to_dict(settings.database_dsn())
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password
    argv = [exe, make_conninfo(**params)]
    if sql_text is not None:
        argv += ["-v", "ON_ERROR_STOP=1", "-c", sql_text]
    return argv, env
