"""The query kernel's connections: cheap cursors on one shared in-memory database that stay private to their caller."""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa
import pytest

from spotify_ai_assets.core.kernel.query import connect, sql_to_arrow


def test_connections_do_not_see_each_others_tables_views_or_settings() -> None:
    a, b = connect(), connect()
    try:
        a.register("t", pa.table({"x": [1, 2]}))
        a.execute("CREATE TEMP VIEW v AS SELECT 1 AS one")
        a.execute("SET TimeZone = 'America/New_York'")
        for name in ("t", "v"):
            with pytest.raises(duckdb.CatalogException):
                b.sql(f"SELECT * FROM {name}").fetchall()
        assert b.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
        assert a.execute("SELECT count(*) FROM t").fetchone() == (2,)
    finally:
        a.close()
        b.close()


def test_database_wide_settings_get_a_database_of_their_own() -> None:
    shared = connect()
    own = connect(threads=1)
    try:
        default_threads = shared.execute("SELECT current_setting('threads')").fetchone()
        assert own.execute("SELECT current_setting('threads')").fetchone() == (1,)
        assert connect().execute("SELECT current_setting('threads')").fetchone() == default_threads
    finally:
        shared.close()
        own.close()


def test_concurrent_callers_get_their_own_answers() -> None:
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(20):
                out = sql_to_arrow("SELECT sum(x) AS s FROM t", {"t": pa.table({"x": [i] * (i + 1)})})
                results.setdefault(i, []).append(out["s"][0].as_py())
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert {i: set(v) for i, v in results.items()} == {i: {i * (i + 1)} for i in range(8)}
