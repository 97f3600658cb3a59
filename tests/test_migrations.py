import psycopg
import pytest

from sql.migrate import migrate, migrations


def test_migrations_apply_to_empty_database_and_rerun_is_noop(empty_db_url):
    names = [m.name for m in migrations()]
    with psycopg.connect(empty_db_url) as conn:
        assert migrate(conn) == names
        assert migrate(conn) == []
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == list(range(1, len(names) + 1))
        hyper = {r[0] for r in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")}
        assert "readings" in hyper
        lic = conn.execute("SHOW timescaledb.license").fetchone()[0]
        assert lic in ("apache", "timescale")


def test_a_failing_migration_leaves_no_record(empty_db_url, monkeypatch):
    from sql import migrate as m

    good = m.migrations()
    bad = m.Migration(len(good) + 1, f"{len(good) + 1:04d}_broken.sql", "CREATE TABLE ok_table (x int); SELECT * FROM no_such_table;")
    monkeypatch.setattr(m, "migrations", lambda: good + [bad])
    with psycopg.connect(empty_db_url) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            m.migrate(conn)
        conn.rollback()
        versions = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        assert bad.version not in versions and len(versions) == len(good)
        assert conn.execute("SELECT to_regclass('ok_table')").fetchone()[0] is None


def test_named_queries_load_and_unknown_name_is_explained():
    from sql import QUERIES

    assert "readings_store" in QUERIES
    with pytest.raises(KeyError, match="no query named 'nope'"):
        QUERIES["nope"]


def test_named_queries_are_kept_without_comments_and_short_enough_for_psycopgs_cache():
    from psycopg import _queries

    from sql import QUERIES, statement

    assert statement("-- what it does\n  SELECT 1  -- one\n\n    FROM t  \n-- end") == "SELECT 1  -- one\nFROM t"
    for name, text in QUERIES.items():
        assert not any(line.startswith("--") or line != line.strip() or not line for line in text.splitlines()), name
        # a literal across lines would lose its line starts: none may have an odd number of quotes
        assert all(line.split("--")[0].replace("''", "").count("'") % 2 == 0 for line in text.splitlines()), name
        assert len(text) <= _queries.MAX_CACHED_STATEMENT_LENGTH, (name, len(text))
