"""Connected users' refresh tokens and their recently-played cursors, keyed by Spotify user id.

The key must be the user's Spotify id (what `GET /me` answers), so a playlist's owner can be matched to the
connected user who can read it: `python -m spotify_ai_assets.connect` stores it so. Tokens are wrapped in
`Secret`, whose repr and str are masked, so a token can't reach a log line, run metadata or an exception message
by accident. Cursors only ever move forward (max), so concurrent partitions can't move one back.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class ConnectedUser:
    user_id: str
    refresh_token: Secret
    cursor_ms: int | None = None


@dataclass(frozen=True)
class StoredUser:
    """A user on file as an operator sees it (no token): `status` is `active` or `expired` (must reconnect)."""

    user_id: str
    status: str
    cursor_ms: int | None
    updated_at: str | None


class TokenStore(Protocol):
    def connected_users(self) -> list[ConnectedUser]: ...
    def expired_user_ids(self) -> list[str]: ...
    def add_user(self, user_id: str, refresh_token: str) -> None: ...
    def update_refresh_token(self, user_id: str, refresh_token: str) -> None: ...
    def advance_cursor(self, user_id: str, played_at_ms: int) -> None: ...
    def mark_expired(self, user_id: str) -> None: ...
    def all_user_ids(self) -> list[str]: ...
    def users(self) -> list[StoredUser]: ...
    def remove_user(self, user_id: str) -> bool: ...


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class FileTokenStore:
    """A JSON file (mode 0600), locked for each read-modify-write."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @contextmanager
    def _locked(self) -> Iterator[dict]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = json.loads(self.path.read_text()) if self.path.exists() else {"users": {}}
            yield data
            tmp = self.path.with_suffix(".tmp")
            # Created 0600 from the first byte: written first and chmod-ed later, it would be readable in between.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps(data, indent=2, sort_keys=True))
            os.chmod(tmp, 0o600)  # an existing tmp file keeps its old mode through O_CREAT
            tmp.replace(self.path)

    def connected_users(self) -> list[ConnectedUser]:
        if not self.path.exists():
            return []
        users = json.loads(self.path.read_text())["users"]
        return [ConnectedUser(uid, Secret(u["refresh_token"]), u.get("cursor_ms"))
                for uid, u in sorted(users.items()) if u.get("status", "active") == "active"]

    def expired_user_ids(self) -> list[str]:
        if not self.path.exists():
            return []
        users = json.loads(self.path.read_text())["users"]
        return sorted(uid for uid, u in users.items() if u.get("status") == "expired")

    def add_user(self, user_id: str, refresh_token: str) -> None:
        """Connect (or reconnect) a user: a new token, active again; a reconnected user keeps their cursor."""
        with self._locked() as data:
            cursor = (data["users"].get(user_id) or {}).get("cursor_ms")
            data["users"][user_id] = {"refresh_token": refresh_token, "status": "active", "cursor_ms": cursor,
                                      "updated_at": _now()}

    def update_refresh_token(self, user_id: str, refresh_token: str) -> None:
        """Keep a rotated refresh token (Spotify may answer a refresh with a new one)."""
        with self._locked() as data:
            user = data["users"].get(user_id)
            if user is not None:
                user["refresh_token"] = refresh_token
                user["updated_at"] = _now()

    def users(self) -> list[StoredUser]:
        if not self.path.exists():
            return []
        users = json.loads(self.path.read_text())["users"]
        return [StoredUser(uid, u.get("status", "active"), u.get("cursor_ms"), u.get("updated_at"))
                for uid, u in sorted(users.items())]

    def advance_cursor(self, user_id: str, played_at_ms: int) -> None:
        with self._locked() as data:
            user = data["users"].get(user_id)
            if user is not None:
                user["cursor_ms"] = max(user.get("cursor_ms") or 0, played_at_ms)

    def mark_expired(self, user_id: str) -> None:
        with self._locked() as data:
            if user_id in data["users"]:
                data["users"][user_id]["status"] = "expired"
                data["users"][user_id]["updated_at"] = _now()

    def all_user_ids(self) -> list[str]:
        """Every user on file, whatever their status (what a GDPR erasure must be able to find)."""
        if not self.path.exists():
            return []
        return sorted(json.loads(self.path.read_text())["users"])

    def remove_user(self, user_id: str) -> bool:
        """Forget the user and their token (GDPR erasure); True when they were on file."""
        with self._locked() as data:
            return data["users"].pop(user_id, None) is not None


class PostgresTokenStore:
    """A table `<schema>.spotify_tokens` in PostgreSQL; each environment/branch has its own schema."""

    def __init__(self, dsn: str, schema: str):
        if not _SCHEMA_RE.match(schema):
            raise ValueError(f"schema {schema!r} is not a plain lower-case SQL identifier")
        self.dsn = dsn
        self.schema = schema
        self._created = False

    @contextmanager
    def _cursor(self) -> Iterator[object]:
        import psycopg2  # deferred: only prod and branch deployments need the driver loaded

        con = psycopg2.connect(self.dsn, connect_timeout=10)
        try:
            with con, con.cursor() as cur:
                # Once per store object: DDL on every call takes locks that serialize concurrent steps.
                if not self._created:
                    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                    cur.execute(f"""CREATE TABLE IF NOT EXISTS {self.schema}.spotify_tokens (
                        user_id TEXT PRIMARY KEY, refresh_token TEXT NOT NULL,
                        status TEXT NOT NULL DEFAULT 'active', cursor_ms BIGINT,
                        updated_at TIMESTAMPTZ NOT NULL DEFAULT now())""")
                yield cur
            self._created = True
        finally:
            con.close()

    def connected_users(self) -> list[ConnectedUser]:
        with self._cursor() as cur:
            cur.execute(f"SELECT user_id, refresh_token, cursor_ms FROM {self.schema}.spotify_tokens "  # type: ignore[attr-defined]
                        "WHERE status = 'active' ORDER BY user_id")
            return [ConnectedUser(u, Secret(t), c) for u, t, c in cur.fetchall()]  # type: ignore[attr-defined]

    def expired_user_ids(self) -> list[str]:
        with self._cursor() as cur:
            cur.execute(f"SELECT user_id FROM {self.schema}.spotify_tokens WHERE status = 'expired' "  # type: ignore[attr-defined]
                        "ORDER BY user_id")
            return [u for (u,) in cur.fetchall()]  # type: ignore[attr-defined]

    def add_user(self, user_id: str, refresh_token: str) -> None:
        with self._cursor() as cur:
            cur.execute(f"""INSERT INTO {self.schema}.spotify_tokens (user_id, refresh_token) VALUES (%s, %s)
                ON CONFLICT (user_id) DO UPDATE SET refresh_token = EXCLUDED.refresh_token, status = 'active',
                updated_at = now()""", (user_id, refresh_token))  # type: ignore[attr-defined]

    def update_refresh_token(self, user_id: str, refresh_token: str) -> None:
        with self._cursor() as cur:
            cur.execute(f"UPDATE {self.schema}.spotify_tokens SET refresh_token = %s, updated_at = now() "  # type: ignore[attr-defined]
                        "WHERE user_id = %s", (refresh_token, user_id))

    def users(self) -> list[StoredUser]:
        with self._cursor() as cur:
            cur.execute(f"SELECT user_id, status, cursor_ms, updated_at FROM {self.schema}.spotify_tokens "  # type: ignore[attr-defined]
                        "ORDER BY user_id")
            return [StoredUser(u, s, c, t.isoformat(timespec="seconds") if t else None)
                    for u, s, c, t in cur.fetchall()]  # type: ignore[attr-defined]

    def advance_cursor(self, user_id: str, played_at_ms: int) -> None:
        with self._cursor() as cur:
            cur.execute(f"""UPDATE {self.schema}.spotify_tokens SET cursor_ms = GREATEST(COALESCE(cursor_ms, 0), %s),
                updated_at = now() WHERE user_id = %s""", (played_at_ms, user_id))  # type: ignore[attr-defined]

    def mark_expired(self, user_id: str) -> None:
        with self._cursor() as cur:
            cur.execute(f"UPDATE {self.schema}.spotify_tokens SET status = 'expired', updated_at = now() "  # type: ignore[attr-defined]
                        "WHERE user_id = %s", (user_id,))

    def all_user_ids(self) -> list[str]:
        with self._cursor() as cur:
            cur.execute(f"SELECT user_id FROM {self.schema}.spotify_tokens ORDER BY user_id")  # type: ignore[attr-defined]
            return [u for (u,) in cur.fetchall()]  # type: ignore[attr-defined]

    def remove_user(self, user_id: str) -> bool:
        with self._cursor() as cur:
            cur.execute(f"DELETE FROM {self.schema}.spotify_tokens WHERE user_id = %s", (user_id,))  # type: ignore[attr-defined]
            return cur.rowcount > 0  # type: ignore[attr-defined]
