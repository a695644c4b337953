"""Long rate limits: a 429 whose Retry-After is beyond what a step may wait (3600 s, or a day for QUOTA_EXCEEDED)
ends the run at once with nothing materialized, naming the endpoint and when it may resume; and
spotify_rate_limit_retry_sensor runs the partition again once that time has passed, not before."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests
import yaml

from spotify_ai_assets.core.ingestion.rate_limits import RESUME_AT, StoppedRun, due_retries, parse_iso
from spotify_ai_assets.defs.ingestion.rate_limit_retry import spotify_rate_limit_retry_sensor
from spotify_ai_assets.emulator import Fault, SpotifyEmulator

from .conftest import POSTGRES_DSN, end_process, require_service
from .spotify_prod import daily_job, prod_resources, watchlist
from .test_spotify_faults import CLOCK, DAY, assets

REPO = Path(__file__).resolve().parents[1]
QUOTA = {"error": {"status": 429, "message": "API rate limit exceeded", "reason": "QUOTA_EXCEEDED"}}


def step_failures(instance: dg.DagsterInstance, run_id: str) -> dict[str, dg.EventLogEntry]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    return {r.event_log_entry.step_key: r.event_log_entry for r in records}


def resume_of(entry: dg.EventLogEntry) -> dt.datetime:
    metadata = entry.dagster_event.step_failure_data.user_failure_data.metadata
    return parse_iso(metadata[RESUME_AT].value)


def test_a_quota_429_ends_the_daily_run_at_once_with_nothing_materialized(tmp_path, world):
    with SpotifyEmulator(world, clock=CLOCK) as emulator, dg.instance_for_test() as instance:
        emulator.inject(Fault("429", retry_after=86_400, times=-1, body=QUOTA))
        started = time.monotonic()
        result = daily_job(prod_resources(tmp_path, emulator, world, exports=False)).execute_in_process(
            partition_key=DAY.isoformat(), instance=instance, raise_on_error=False)
        took = time.monotonic() - started
        assert not result.success and took < 60
        assert result.get_asset_materialization_events() == []
        failures = step_failures(instance, result.run_id)
        assert set(failures) == {"spotify_catalog", "playlist_snapshots", "recently_played"}
        now = dt.datetime.now(dt.UTC)
        for step, entry in failures.items():
            message = entry.dagster_event.step_failure_data.user_failure_data.description
            resume = resume_of(entry)
            assert now + dt.timedelta(hours=23) < resume <= now + dt.timedelta(days=1), step
            assert "QUOTA_EXCEEDED" in message and f"may resume at {resume:%Y-%m-%dT%H:%M:%SZ}" in message
            assert "Spotify rate limit on GET /" in message
        # Not before the window: the sensor waits, saying until when.
        tick = spotify_rate_limit_retry_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(tick, dg.SkipReason) and "may resume at" in tick.skip_message


def test_the_partition_runs_again_once_the_rate_limit_has_passed(tmp_path, world):
    with SpotifyEmulator(world, clock=CLOCK) as emulator, dg.instance_for_test() as instance:
        # A step may wait 0.5 s here, so a 2 s Retry-After is "long": the same path as 3600 s, in test time.
        resources = prod_resources(tmp_path, emulator, world, exports=False, max_retry_after_s=0.5)
        emulator.inject(Fault("429", retry_after=2, times=-1))
        stopped = dg.materialize(assets("spotify_artists"), resources=resources, partition_key=DAY.isoformat(),
                                 instance=instance, raise_on_error=False)
        assert not stopped.success and stopped.get_asset_materialization_events() == []
        resume = resume_of(step_failures(instance, stopped.run_id)["spotify_catalog"])
        context = dg.build_sensor_context(instance=instance)
        assert isinstance(spotify_rate_limit_retry_sensor(context), dg.SkipReason)  # too early

        time.sleep(max(0.0, (resume - dt.datetime.now(dt.UTC)).total_seconds()) + 0.2)
        emulator.clear_faults()
        tick = spotify_rate_limit_retry_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(tick, dg.SensorResult)
        (request,) = tick.run_requests
        assert request.run_key == f"spotify-rate-limit:{stopped.run_id}" and request.partition_key == DAY.isoformat()
        assert {k.to_user_string() for k in request.asset_selection} == {
            "spotify_artists", "spotify_albums", "spotify_tracks"}
        retried = daily_job(resources).execute_in_process(
            partition_key=request.partition_key, asset_selection=request.asset_selection, tags=request.tags,
            instance=instance, raise_on_error=False)
        assert retried.success
        assert {m.asset_key.to_user_string() for m in retried.get_asset_materialization_events()} == {
            "spotify_artists", "spotify_albums", "spotify_tracks"}
        # Done: the partition succeeded since the stop, so nothing is requested again.
        assert isinstance(spotify_rate_limit_retry_sensor(dg.build_sensor_context(instance=instance)), dg.SkipReason)


def test_due_retries_wait_for_the_window_and_take_the_latest_stop_per_partition():
    now = dt.datetime(2026, 1, 15, 3, 0, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    stops = [StoppedRun("a", "daily_refresh_job", "2026-01-14", now - hour, 1.0),
             StoppedRun("b", "daily_refresh_job", "2026-01-14", now - hour / 2, 2.0),
             StoppedRun("c", "daily_refresh_job", "2026-01-13", now + hour, 3.0),
             StoppedRun("d", "daily_refresh_job", "2026-01-12", now - 24 * hour, 4.0)]
    due = due_retries(stops, now, succeeded_since={("daily_refresh_job", "2026-01-12")})
    assert [r.run_id for r in due] == ["b"]


@pytest.fixture
def standalone_emulator():
    proc = subprocess.Popen([sys.executable, "-m", "spotify_ai_assets.emulator", "--port", "0", "--scale", "tiny",
                             "--clock", CLOCK.isoformat()], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        urls = dict(part.split("=", 1) for part in proc.stdout.readline().split())
        yield urls
    finally:
        end_process(proc)


def test_dagster_asset_materialize_returns_within_a_minute_on_a_3600_s_rate_limit(tmp_path, world, monkeypatch,
                                                                                  standalone_emulator):
    """The issue's reproduction: the production configuration (branch environment, live Spotify resource), the
    command a person types, a 429 with Retry-After 3600 on every call."""
    require_service("127.0.0.1", 5432, "PostgreSQL")
    api = standalone_emulator["SPOTIFY_API_URL"]
    requests.post(api.replace("/v1/", "/_emulator/faults"), json={"kind": "429", "retry_after": 3600, "times": -1},
                  timeout=10).raise_for_status()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    (tmp_path / "watchlist.yaml").write_text(yaml.safe_dump(watchlist(world)))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "DAGSTER_"))},
           "DAGSTER_HOME": str(home), "SPOTIFY_AI_ENV": "branch", "SPOTIFY_AI_BRANCH": f"rl{os.getpid()}",
           "SPOTIFY_AI_LAKE": str(tmp_path / "lake"), "SPOTIFY_AI_TOKEN_DB": POSTGRES_DSN,
           "SPOTIFY_AI_WATCHLIST": str(tmp_path / "watchlist.yaml"), "SPOTIFY_AI_HOME": str(tmp_path / "home"),
           "SPOTIFY_CLIENT_ID": "sandbox-client", "SPOTIFY_CLIENT_SECRET": "sandbox-secret",
           "SPOTIFY_API_URL": api, "SPOTIFY_ACCOUNTS_URL": standalone_emulator["SPOTIFY_ACCOUNTS_URL"],
           "SPOTIFY_AI_ERASURE_SALT": "test-salt"}
    started = time.monotonic()
    done = subprocess.run(["dagster", "asset", "materialize", "-m", "spotify_ai_assets.definitions", "--select",
                           "spotify_artists,spotify_albums,spotify_tracks", "--partition", DAY.isoformat()],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    assert took < 60, f"took {took:.0f} s"
    assert done.returncode != 0
    assert "Spotify rate limit on GET /" in done.stderr + done.stdout
    monkeypatch.chdir(tmp_path)  # the instance's storage paths in dagster.yaml are relative to the working folder
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_run_records()
        assert run.dagster_run.status == dg.DagsterRunStatus.FAILURE
        assert instance.get_records_for_run(run.dagster_run.run_id,
                                            of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records == []
        resume = resume_of(step_failures(instance, run.dagster_run.run_id)["spotify_catalog"])
        assert dt.timedelta(minutes=58) < resume - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
        tick = spotify_rate_limit_retry_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(tick, dg.SkipReason) and f"{resume:%Y-%m-%dT%H:%M:%SZ}" in tick.skip_message
