"""Pseudonyms: analytics tables hold a keyed hash of each user id (`user_key`), never the id itself.

The key is the deployment's privacy salt (SPOTIFY_AI_ERASURE_SALT; an EnvVar outside the sandbox). The same hash
names erased users in the erasure log, so an erasure, and its re-application after a restore, finds a user's
pseudonymous rows without ever storing the raw id. Only ingestion and the GDPR path see raw ids. A serving system
that needs a user's rows computes the same hash: sha256 of salt, NUL, user id, in hex.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

from spotify_ai_assets.core.kernel.query import Relation, sql_to_arrow

KEY_COLUMN = "user_key"


def pseudonym(salt: str, user_id: str) -> str:
    return hashlib.sha256(f"{salt}\x00{user_id}".encode()).hexdigest()


def pseudonymize(table: Relation, salt: str, column: str = "user_id") -> pa.Table:
    """`table` with `column` replaced, in place, by `user_key` = pseudonym(salt, value)."""
    if not salt:
        raise ValueError("no privacy salt: set SPOTIFY_AI_ERASURE_SALT")
    import pyarrow.compute as pc

    if not isinstance(table, pa.Table):
        table = sql_to_arrow("SELECT * FROM t", {"t": table})
    # A day holds millions of plays by far fewer users: hash each distinct id once, then index into the hashes.
    ids = pc.dictionary_encode(table[column].combine_chunks())
    keys = pa.array([None if u is None else pseudonym(salt, u) for u in ids.dictionary.to_pylist()], pa.string())
    hashed = pc.take(keys, ids.indices)
    i = table.schema.get_field_index(column)
    return table.set_column(i, pa.field(KEY_COLUMN, pa.string(), table.schema.field(i).nullable), hashed)


def user_label(salt: str, user_id: str) -> str:
    """How the Dagster instance names a user (metadata, log lines, alerts, errors): `user:` and the first 16 hex
    digits of their `user_key`, never the Spotify user id. `python -m spotify_ai_assets.connect list` shows both."""
    return f"user:{pseudonym(salt, user_id)[:16]}"
