"""GDPR erasure in the token store: a file store and a real PostgreSQL schema forget the user and their token."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg2
import pytest

from spotify_ai_assets.core.kernel.tokens import FileTokenStore, PostgresTokenStore, TokenStore


@pytest.fixture(params=["file", "postgres"])
def store(request, tmp_path) -> Iterator[TokenStore]:
    if request.param == "file":
        yield FileTokenStore(tmp_path / "tokens.json")
        return
    dsn = request.getfixturevalue("postgres_dsn")
    schema = f"test_erasure_{uuid.uuid4().hex[:8]}"
    yield PostgresTokenStore(dsn, schema)
    con = psycopg2.connect(dsn)
    with con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    con.close()


def test_remove_user_forgets_active_and_expired_users(store: TokenStore):
    store.add_user("alice", "rt-alice")
    store.add_user("bob", "rt-bob")
    store.mark_expired("bob")
    assert store.all_user_ids() == ["alice", "bob"]
    assert store.remove_user("bob") is True
    assert store.remove_user("bob") is False  # a second erasure finds nothing and says so
    assert store.all_user_ids() == ["alice"]
    assert store.expired_user_ids() == []
    assert [u.user_id for u in store.connected_users()] == ["alice"]
