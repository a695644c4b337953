"""Connected users' tokens: a local file by default, a PostgreSQL table (real server) in prod."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg2
import pytest

from spotify_ai_assets.core.kernel.tokens import FileTokenStore, PostgresTokenStore, Secret, TokenStore


@pytest.fixture
def pg_store(postgres_dsn: str) -> Iterator[PostgresTokenStore]:
    schema = f"test_tokens_{uuid.uuid4().hex[:8]}"
    yield PostgresTokenStore(postgres_dsn, schema)
    con = psycopg2.connect(postgres_dsn)
    with con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    con.close()


@pytest.fixture(params=["file", "postgres"])
def store(request, tmp_path) -> TokenStore:
    if request.param == "file":
        return FileTokenStore(tmp_path / "tokens.json")
    return request.getfixturevalue("pg_store")


def test_users_cursors_and_expiry_round_trip(store: TokenStore):
    store.add_user("alice", "rt-alice")
    store.add_user("bob", "rt-bob")
    assert [u.user_id for u in store.connected_users()] == ["alice", "bob"]
    assert store.connected_users()[0].refresh_token.reveal() == "rt-alice"
    store.advance_cursor("alice", 2_000)
    store.advance_cursor("alice", 1_000)  # a late partition must not move the cursor back
    assert {u.user_id: u.cursor_ms for u in store.connected_users()} == {"alice": 2_000, "bob": None}
    store.mark_expired("bob")
    assert [u.user_id for u in store.connected_users()] == ["alice"]
    assert store.expired_user_ids() == ["bob"]
    store.add_user("bob", "rt-bob-2")  # reconnecting re-activates
    assert store.expired_user_ids() == []


def test_tokens_never_print():
    secret = Secret("rt-very-secret")
    assert "very-secret" not in repr(secret) and "very-secret" not in str(secret) and "very-secret" not in f"{secret}"


def test_the_token_file_is_private(tmp_path):
    store = FileTokenStore(tmp_path / "tokens.json")
    store.add_user("alice", "rt-alice")
    assert (tmp_path / "tokens.json").stat().st_mode & 0o077 == 0


def test_each_environment_keeps_tokens_in_its_own_schema(postgres_dsn):
    a, b = (PostgresTokenStore(postgres_dsn, f"test_env_{uuid.uuid4().hex[:8]}") for _ in range(2))
    try:
        a.add_user("alice", "rt-a")
        assert b.connected_users() == []
    finally:
        con = psycopg2.connect(postgres_dsn)
        with con, con.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {a.schema} CASCADE; DROP SCHEMA IF EXISTS {b.schema} CASCADE")
        con.close()


def test_schema_names_are_validated():
    with pytest.raises(ValueError, match="identifier"):
        PostgresTokenStore("postgresql://x", "tokens; DROP TABLE users")
