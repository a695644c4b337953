"""A planted secret never lands in run config, logs, metadata, exceptions or the lake."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets.defs.ingestion.catalog import spotify_catalog
from spotify_ai_assets.defs.ingestion.playlists import playlist_snapshots
from spotify_ai_assets.emulator import SpotifyEmulator

from .conftest import CLOCK, DAY, POSTGRES_DSN, require_service

SECRET = f"planted-secret-{uuid.uuid4().hex}"
WRONG = f"wrong-planted-secret-{uuid.uuid4().hex}"


def _files_containing(root: Path, needle: str) -> list[str]:
    """Every file under `root` (SQLite event logs, compute logs, Parquet, HTML, JSON) whose bytes hold `needle`."""
    raw = needle.encode()
    return [str(p) for p in root.rglob("*") if p.is_file() and raw in p.read_bytes()]


@pytest.fixture
def branch_environ(tmp_path: Path, world, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    require_service("127.0.0.1", 5432, "PostgreSQL")
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(yaml.safe_dump(world.watchlist()))
    branch = f"secrets-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", "sandbox-client")
    monkeypatch.setenv("SPOTIFY_AI_TOKEN_DB", POSTGRES_DSN)
    monkeypatch.setenv("SPOTIFY_AI_ERASURE_SALT", f"salt-{uuid.uuid4().hex}")
    environ = {"SPOTIFY_AI_ENV": "branch", "SPOTIFY_AI_BRANCH": branch, "SPOTIFY_AI_HOME": str(tmp_path / "home"),
               "SPOTIFY_AI_LAKE": str(tmp_path / "lake"), "SPOTIFY_AI_TOKEN_DB": POSTGRES_DSN,
               "SPOTIFY_AI_WATCHLIST": str(watchlist), "SPOTIFY_AI_LANDING": str(tmp_path / "landing")}
    yield environ
    import psycopg2

    from spotify_ai_assets.settings import Settings

    con = psycopg2.connect(POSTGRES_DSN)
    with con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {Settings.from_environ(environ).token_store_schema} CASCADE")
    con.close()


def test_a_planted_secret_appears_nowhere_after_runs(branch_environ, world, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with SpotifyEmulator(world, clock=CLOCK, client_secret=SECRET) as emulator:
        resources = build_defs({**branch_environ, "SPOTIFY_API_URL": emulator.api_url,
                                "SPOTIFY_ACCOUNTS_URL": emulator.accounts_url}).resources
        (tmp_path / "dagster_home").mkdir()
        with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
            monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", SECRET)
            good = dg.materialize([spotify_catalog, playlist_snapshots], partition_key=DAY.isoformat(),
                                  resources=resources, instance=instance)
            assert good.success  # the secret was used: the emulator accepts no other
            monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", WRONG)
            bad = dg.materialize([spotify_catalog], partition_key=DAY.isoformat(), resources=resources,
                                 instance=instance, raise_on_error=False)
            assert not bad.success
            failure = bad.get_run_failure_event()
            errors = [str(e.event_specific_data) for e in bad.all_events if e.is_step_failure] + [str(failure)]
            runs = [instance.get_run_by_id(r.run_id) for r in (good, bad)]
            logs = [entry.to_json() for r in (good, bad) for entry in instance.all_logs(r.run_id)]
    assert "invalid_client" in " ".join(errors), errors  # it failed for the credentials, and said so
    for secret in (SECRET, WRONG):
        assert not any(secret in str(run.run_config) or secret in str(run.tags) for run in runs)
        assert not any(secret in line for line in logs)
        assert not any(secret in e for e in errors)
        assert _files_containing(tmp_path / "dagster_home", secret) == []  # event log DB, compute logs
        assert _files_containing(tmp_path / "lake", secret) == []
        assert _files_containing(tmp_path / "home", secret) == []
    # The search covered real output: the lake's tables and the instance's stored runs and event logs.
    assert list((tmp_path / "lake").rglob("*.parquet"))
    assert _files_containing(tmp_path / "dagster_home", good.run_id)
