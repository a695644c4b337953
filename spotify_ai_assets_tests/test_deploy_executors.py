"""Executor selection by environment and Celery queue routing by pool, on the real definitions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets.lib.executors import (
    CELERY_WORKER_SETTINGS,
    CPU_HEAVY_POOLS,
    CPU_HEAVY_QUEUE,
    QUEUE_TAG,
    celery_poll,
)
from spotify_ai_assets.settings import Settings, SettingsError
from spotify_ai_assets_tests.deploy_fixtures import CELERY_WORKER_CONFIG


@pytest.mark.parametrize(("name", "executor"), [("in_process", "in_process"), ("multiprocess", "multiprocess"),
                                                ("celery", "celery_executor")])
def test_the_executor_is_chosen_by_environment(sandbox_environ, name: str, executor: str) -> None:
    defs = build_defs({**sandbox_environ, "SPOTIFY_AI_EXECUTOR": name})
    job = defs.resolve_job_def("daily_refresh_job")
    assert job.executor_def.name == executor


def test_by_default_each_job_runs_on_its_own_executor(sandbox_environ) -> None:
    """`auto`: the daily job's light steps run in the run's process; other jobs and asset-graph runs, and the
    schedule's and sensors' runs of the daily job, get the job's executor too."""
    defs = build_defs({k: v for k, v in sandbox_environ.items() if k != "SPOTIFY_AI_EXECUTOR"})
    assert defs.resolve_job_def("daily_refresh_job").executor_def.name == "in_process"
    assert defs.resolve_job_def("backup_job").executor_def.name == "multiprocess"
    assert defs.resolve_implicit_global_asset_job_def().executor_def.name == "multiprocess"
    repo = defs.get_repository_def()
    assert repo.get_schedule_def("daily_refresh_schedule").job.executor_def.name == "in_process"
    for sensor in ("event_exports_sensor", "spotify_rate_limit_retry_sensor"):
        assert repo.get_sensor_def(sensor).job.executor_def.name == "in_process"


def test_celery_broker_and_backend_come_from_the_environment(sandbox_environ) -> None:
    redis = Settings.from_environ({**sandbox_environ, "SPOTIFY_AI_CELERY_BROKER": "redis://10.0.0.5:6379/3"})
    assert (redis.celery_broker, redis.celery_backend) == ("redis://10.0.0.5:6379/3", "redis://10.0.0.5:6379/3")
    amqp = Settings.from_environ({**sandbox_environ, "SPOTIFY_AI_CELERY_BROKER": "amqp://guest:guest@mq:5672//"})
    assert (amqp.celery_broker, amqp.celery_backend) == ("amqp://guest:guest@mq:5672//", "rpc://")
    with pytest.raises(SettingsError, match="SPOTIFY_AI_CELERY_BROKER"):
        Settings.from_environ({**sandbox_environ, "SPOTIFY_AI_CELERY_BROKER": "127.0.0.1:6379"})
    with pytest.raises(SettingsError, match="SPOTIFY_AI_EXECUTOR"):
        Settings.from_environ({**sandbox_environ, "SPOTIFY_AI_EXECUTOR": "k8s"})


def test_a_celery_run_looks_at_its_steps_as_often_as_configured(sandbox_environ) -> None:
    """dagster-celery's execution loop looks at its tasks once a second unless told otherwise; the run worker tells
    it `SPOTIFY_AI_CELERY_POLL_S` (0.2 s by default) for the run and restores it after. Fails if a dagster-celery
    release drops the constant the loop reads."""
    from dagster_celery import core_execution_loop

    assert Settings.from_environ(sandbox_environ).celery_poll_s == 0.2
    assert Settings.from_environ({**sandbox_environ, "SPOTIFY_AI_CELERY_POLL_S": "0.5"}).celery_poll_s == 0.5
    for bad in ("0", "-1", "30", "often"):
        with pytest.raises(SettingsError, match="SPOTIFY_AI_CELERY_POLL_S"):
            Settings.from_environ({**sandbox_environ, "SPOTIFY_AI_CELERY_POLL_S": bad})
    before = core_execution_loop.TICK_SECONDS
    assert before == 1  # dagster-celery's own: if this changes, so may the reason for the setting
    with celery_poll(0.2):
        assert core_execution_loop.TICK_SECONDS == 0.2
    assert before == core_execution_loop.TICK_SECONDS


def test_the_deployed_celery_workers_get_the_executors_worker_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/celery.yaml, what the README starts workers with, resolves (broker and backend from the environment)
    to the settings the executor declares, as `dagster-celery worker start` reads it."""
    from dagster_celery.cli import get_validated_config

    monkeypatch.setenv("SPOTIFY_AI_CELERY_BROKER", "redis://10.0.0.5:6379/3")
    monkeypatch.setenv("SPOTIFY_AI_CELERY_BACKEND", "redis://10.0.0.5:6379/4")
    config = get_validated_config(str(CELERY_WORKER_CONFIG))
    assert (config["broker"], config["backend"]) == ("redis://10.0.0.5:6379/3", "redis://10.0.0.5:6379/4")
    assert config["config_source"] == CELERY_WORKER_SETTINGS


def test_cpu_heavy_steps_go_to_their_own_queue_and_light_ones_to_the_default(sandbox_environ) -> None:
    defs = build_defs(sandbox_environ)
    graph = defs.resolve_asset_graph()
    heavy, light = [], []
    for key in graph.get_all_asset_keys():
        assets_def = graph.get(key).assets_def
        if not assets_def.is_executable:
            continue
        op = assets_def.node_def
        (heavy if op.pool in CPU_HEAVY_POOLS else light).append(op)
    assert any(op.pool == "librosa" for op in heavy), "audio analysis runs in the librosa pool"
    assert all(op.tags.get(QUEUE_TAG) == CPU_HEAVY_QUEUE for op in heavy)
    assert light and all(QUEUE_TAG not in op.tags for op in light)


def _what_a_step_process_starts_with() -> dict[str, object]:
    """Run in a process forked from the fork server: what it finds loaded before it does anything."""
    from spotify_ai_assets.lib.resources.sandbox_world import world_for
    from spotify_ai_assets.sandbox.world import ID_LISTS

    built = world_for.cache_info().currsize
    # The ids a world makes on first use (cached properties): made in the fork server, they are in the step's copy.
    settings = Settings.from_environ()
    world = vars(world_for(settings.sandbox_seed, settings.sandbox_scale)) if built else {}
    ids = sorted(name for name in ID_LISTS if name in world)
    return {"instance storage": "dagster_postgres" in sys.modules, "spec validator": "openapi_core" in sys.modules,
            "definitions": "spotify_ai_assets.defs" in sys.modules, "world built": built, "world ids": ids}


_PROBE = """
import json, multiprocessing, sys
from spotify_ai_assets.lib.executors import FORKSERVER_PRELOAD
from spotify_ai_assets_tests.test_deploy_executors import _what_a_step_process_starts_with as probe
here = {"instance storage": "dagster_postgres" in sys.modules, "spec validator": "openapi_core" in sys.modules}
ctx = multiprocessing.get_context("forkserver")
ctx.set_forkserver_preload([*FORKSERVER_PRELOAD, "spotify_ai_assets_tests.test_deploy_executors"])
with ctx.Pool(1) as pool:
    print(json.dumps({"parent": here, "step": pool.apply_async(probe).get(timeout=300)}))
"""


def test_step_processes_fork_with_the_instance_storage_the_emulator_and_the_world_loaded(sandbox_environ) -> None:
    """Issue 19: what every multiprocess step used to load for itself (the PostgreSQL storage of the instance, the
    emulator's spec validator, the sandbox world: 1-1.5 s a step on a loaded 2-core machine) is loaded once per
    run by the fork server the steps are forked from. In a fresh interpreter: a fork server is one per process."""
    out = subprocess.run([sys.executable, "-c", _PROBE], env={**os.environ, **sandbox_environ}, capture_output=True,
                         text=True, timeout=600, check=True, cwd=Path(__file__).resolve().parents[1])
    found = json.loads(out.stdout.strip().splitlines()[-1])
    # The probe's own module loads none of it, so what the step finds came from the fork server's preload.
    assert found["parent"] == {"instance storage": False, "spec validator": False}
    assert found["step"] == {"instance storage": True, "spec validator": True, "definitions": True, "world built": 1,
                             "world ids": ["album_ids", "artist_ids", "playlist_ids", "track_ids", "user_ids"]}
