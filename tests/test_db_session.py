"""Every connection the commands and the service open runs without JIT compilation (it cost up to
a second a query whose cost estimate crossed jit_above_cost) and plans a prepared statement once
(generic plans), while options given in DATABASE_URL still apply and come last."""

from __future__ import annotations

from urllib.parse import quote

from servers import running

from api.app import create_app
from fartkoll.db import connect, session_kwargs
from fartkoll.settings import Settings


def _show(conn, name: str) -> str:
    return conn.execute(f"SHOW {name}").fetchone()[0]


def test_commands_connect_without_jit_with_generic_plans_and_keep_the_addresss_own_options(db_url):
    with connect(Settings(database_url=db_url)) as conn:
        assert (_show(conn, "jit"), _show(conn, "plan_cache_mode")) == ("off", "force_generic_plan")
    sep = "&" if "?" in db_url else "?"
    own = f"{db_url}{sep}options={quote('-c work_mem=7MB')}"
    with connect(Settings(database_url=own)) as conn:
        assert (_show(conn, "jit"), _show(conn, "work_mem")) == ("off", "7MB")
    on = f"{db_url}{sep}options={quote('-c jit=on')}"
    with connect(Settings(database_url=on)) as conn:
        assert _show(conn, "jit") == "on"  # the address's own choice wins
    on = f"{db_url}{sep}options={quote('-c plan_cache_mode=auto')}"
    with connect(Settings(database_url=on)) as conn:
        assert _show(conn, "plan_cache_mode") == "auto"
    assert session_kwargs("host=x options='-c a=b'")["options"] == "-c jit=off -c plan_cache_mode=force_generic_plan -c a=b"


def test_the_services_pool_connects_without_jit_and_with_generic_plans(db_url):
    app = create_app(Settings(database_url=db_url))
    with running(app):
        with app.state.pool.connection() as conn:
            assert (_show(conn, "jit"), _show(conn, "plan_cache_mode")) == ("off", "force_generic_plan")
        group = app.state.group_commit
        conn = group._connect()
        try:
            assert (_show(conn, "jit"), _show(conn, "plan_cache_mode")) == ("off", "force_generic_plan")
        finally:
            conn.close()
