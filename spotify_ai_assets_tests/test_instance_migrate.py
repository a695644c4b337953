"""Concurrent first use of a fresh instance is safe (issue 22, item 5): every entry point migrates the instance
under a lock first (`python -m spotify_ai_assets.instance migrate`), so processes meeting a fresh instance at once
leave one schema version, not two heads, and later commands work. SQLite (the default dagster.yaml) and
PostgreSQL (deploy/dagster.prod.yaml, the advisory lock across machines)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from spotify_ai_assets_tests.deploy_fixtures import REPO, cli, dagster_home, pg_environ  # noqa: F401

ENTRY = [cli("python"), "-m", "spotify_ai_assets.instance", "migrate", "--quiet"]


def _at_once(commands: list[list[str]], env: dict[str, str], cwd: Path) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(c, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in commands]
    out = []
    for c, p in zip(commands, procs, strict=True):
        stdout, stderr = p.communicate(timeout=300)
        out.append(subprocess.CompletedProcess(c, p.returncode, stdout, stderr))
    return out


def test_the_readme_instance_migrated_by_four_processes_at_once_has_one_schema_head(tmp_path: Path) -> None:
    home = tmp_path / "repo"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())  # relative paths: run from the home
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    for done in _at_once([ENTRY] * 4, env, home):
        assert done.returncode == 0, done.stderr[-2000:]
    dbs = sorted(home.rglob("*.db"))
    assert len(dbs) == 3  # runs, the run index, schedules
    for db in dbs:
        with sqlite3.connect(db) as con:
            assert con.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1, db
    info = subprocess.run([cli("dagster"), "instance", "info"], env=env, cwd=home, capture_output=True, text=True,
                          timeout=120)
    assert info.returncode == 0, info.stderr[-2000:]
    with sqlite3.connect(home / ".dagster_home" / "storage" / "history" / "runs.db") as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_the_production_instance_migrated_by_three_processes_at_once_is_usable(pg_environ, tmp_path: Path) -> None:  # noqa: F811
    home = dagster_home(tmp_path / "prod_home")
    env = {**os.environ, **pg_environ, "DAGSTER_HOME": str(home)}
    for done in _at_once([ENTRY] * 3, env, REPO):
        assert done.returncode == 0, done.stderr[-2000:]
    import psycopg2

    con = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=pg_environ["DAGSTER_PG_DB"])
    try:
        with con.cursor() as cur:
            cur.execute("SELECT count(*) FROM alembic_version")
            assert cur.fetchone()[0] == 1
    finally:
        con.close()
    info = subprocess.run([cli("dagster"), "instance", "info"], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert info.returncode == 0, info.stderr[-2000:]


def test_migrate_sizes_the_spotify_pool_once_and_keeps_an_operators_size(pg_environ, tmp_path: Path) -> None:  # noqa: F811
    home = dagster_home(tmp_path / "prod_home")
    env = {**os.environ, **pg_environ, "DAGSTER_HOME": str(home)}

    def pool_limit() -> str:
        got = subprocess.run([cli("dagster"), "instance", "concurrency", "get", "spotify_api"], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=120)
        assert got.returncode == 0, got.stderr[-2000:]
        return got.stdout

    migrated = subprocess.run(ENTRY, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    assert '"spotify_api": 0 / 2 slots occupied' in pool_limit()
    subprocess.run([cli("dagster"), "instance", "concurrency", "set", "spotify_api", "3"], env=env, cwd=REPO,
                   check=True, capture_output=True, timeout=120)
    again = subprocess.run(ENTRY, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert '"spotify_api": 0 / 3 slots occupied' in pool_limit()
