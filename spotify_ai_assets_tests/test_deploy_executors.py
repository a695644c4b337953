"""Executor selection by environment and Celery queue routing by pool, on the real definitions."""

from __future__ import annotations

import pytest

from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets.lib.executors import CPU_HEAVY_POOLS, CPU_HEAVY_QUEUE, QUEUE_TAG
from spotify_ai_assets.settings import Settings, SettingsError


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
