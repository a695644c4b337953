"""Prepare the Dagster instance before anything uses it: `python -m spotify_ai_assets.instance migrate`.

Dagster creates an instance's tables the first time a process opens it. Two processes meeting a fresh instance at
once (the README's first command and the daemon, two runs, several machines at first start) both create them and
both stamp the schema version: SQLite's `alembic_version` then holds two heads and every later command fails, and on
PostgreSQL the loser dies. So every entry point (the README's commands, `.ci/run`, the daemon's start, the
deployment's first start) runs this first: it takes a lock, opens the instance (creating it if new) and migrates it
(`dagster instance migrate`), then lets go. Concurrent callers wait their turn; the later ones find it ready.

The lock is a file lock in DAGSTER_HOME (processes on one machine) and, for a PostgreSQL instance, a PostgreSQL
advisory lock on the instance's database (machines sharing it). Every wait is bounded (`--timeout`).

It then sizes the pools that should not have dagster.yaml's `default_limit` (POOL_SLOTS), as
`dagster instance concurrency set` would, but only a pool still on the default: a size an operator set stays.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

LOCK_FILE = ".spotify_ai_instance.lock"
# spotify_api: two slots, one per daily run the run queue lets call the API at once (tag limit 2 in dagster.yaml),
# so two days' API steps go side by side instead of one waiting on the other's slot (a blocked step looks again only
# every 1-15 s); the app's request rate stays bounded by two crawlers, and 429s are handled by the gateway.
POOL_SLOTS = {"spotify_api": 2}


class InstanceLockTimeout(TimeoutError):
    pass


def _home() -> Path:
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise SystemExit("DAGSTER_HOME is not set: it names the folder holding dagster.yaml (the README uses $PWD)")
    return Path(home).absolute()


@contextlib.contextmanager
def _file_lock(path: Path, timeout_s: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise InstanceLockTimeout(f"another process held {path} for more than {timeout_s:.0f} s") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _resolve(value: Any) -> Any:
    """A dagster.yaml value: `{env: NAME}` is read from the environment, as Dagster does."""
    if isinstance(value, dict) and set(value) == {"env"}:
        return os.environ.get(value["env"], "")
    return value


def postgres_params(config: dict) -> dict[str, Any] | None:
    """Connection parameters of a PostgreSQL instance's storage (None for any other storage)."""
    storage = (config or {}).get("storage") or {}
    pg = storage.get("postgres") if isinstance(storage, dict) else None
    if not pg:
        return None
    if pg.get("postgres_url"):
        url = str(_resolve(pg["postgres_url"])).replace("postgresql+psycopg2://", "postgresql://")
        return {"dsn": url}
    db = {k: _resolve(v) for k, v in (pg.get("postgres_db") or {}).items()}
    return {"host": db.get("hostname"), "port": int(db.get("port") or 5432), "dbname": db.get("db_name"),
            "user": db.get("username"), "password": db.get("password") or None}


@contextlib.contextmanager
def _postgres_lock(params: dict[str, Any], timeout_s: float) -> Iterator[None]:
    import psycopg2

    conn = psycopg2.connect(connect_timeout=max(1, int(timeout_s)), **params)
    conn.autocommit = True
    key = int.from_bytes(hashlib.sha256(b"spotify_ai_assets instance migrate").digest()[:8], "big", signed=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SET lock_timeout = %s", (f"{int(timeout_s * 1000)}ms",))
            cur.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (key,))
    finally:
        conn.close()


@contextlib.contextmanager
def instance_lock(home: Path, timeout_s: float = 300) -> Iterator[None]:
    config = yaml.safe_load((home / "dagster.yaml").read_text()) if (home / "dagster.yaml").exists() else {}
    params = postgres_params(config or {})
    with _file_lock(home / LOCK_FILE, timeout_s):
        if params is None:
            yield
        else:
            with _postgres_lock(params, timeout_s):
                yield


def migrate(timeout_s: float = 300, echo: bool = True) -> None:
    """Create (when new) and migrate the instance of DAGSTER_HOME, one process at a time."""
    import dagster as dg

    home = _home()
    # Some of Dagster's data migrations print progress themselves, whatever print function they are given.
    quiet = contextlib.nullcontext() if echo else contextlib.redirect_stdout(io.StringIO())
    with instance_lock(home, timeout_s), dg.DagsterInstance.get() as instance, quiet:
        instance.upgrade(print if echo else None)
        for pool, slots in size_pools(instance, POOL_SLOTS).items():
            if echo:
                print(f"pool {pool}: {slots} slots")


def size_pools(instance: Any, slots: dict[str, int]) -> dict[str, int]:
    """Give each pool still on the instance's default limit its size; returns the pools it sized."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    sized = {}
    for pool, count in slots.items():
        if storage.get_concurrency_info(pool).using_default_limit:
            storage.set_concurrency_slots(pool, count)
            sized[pool] = count
    return sized


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spotify_ai_assets.instance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("migrate", help="create and migrate the instance of DAGSTER_HOME under a lock")
    m.add_argument("--timeout", type=float, default=300, help="seconds to wait for another process's lock")
    m.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        migrate(args.timeout, echo=not args.quiet)
    except InstanceLockTimeout as exc:
        print(f"instance migrate: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
