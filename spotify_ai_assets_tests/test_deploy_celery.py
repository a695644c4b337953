"""The Celery executor for real: two worker processes (queue `dagster`, queue `cpu_heavy`) started and stopped here,
a broker on the local Redis or RabbitMQ, the production instance on the local PostgreSQL. daily_refresh_job run
through them writes the same lake as an in-process run (Redis), and a CPU-heavy step runs on the heavy queue's worker
only (both brokers)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets.lib.executors import CELERY_WORKER_SETTINGS
from spotify_ai_assets_tests.conftest import require_service
from spotify_ai_assets_tests.deploy_fixtures import (
    CELERY_WORKER_CONFIG,
    REPO,
    assert_same_lake,
    cli,
    dagster_home,
    migrate,
    pg_environ,  # noqa: F401
    start,
    stop,
)

DAY = "2026-01-05"


def _worker_by_step(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Step key -> the Celery worker (name@host) that executed it, from the engine events the tasks record."""
    found = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        meta = event.engine_event_data.metadata if event and event.engine_event_data else {}
        if "Celery worker" in meta and event.step_key:
            found[event.step_key] = meta["Celery worker"].value
    return found


def _execute(env: dict[str, str], module: str, job: str, tags: dict[str, str] | None = None) -> None:
    args = [cli("dagster"), "job", "execute", "-m", module, "-j", job]
    if tags:
        args += ["--tags", json.dumps(tags)]
    done = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _assert_workers_take_a_step_only_when_free(url: str, backend: str, names: set[str]) -> None:
    """Each worker, asked over the broker, runs with the executor's worker settings (acknowledge a task when it ends,
    reserve one task per process), not dagster-celery's defaults."""
    from celery import Celery

    app = Celery(broker=url, backend=backend)
    try:
        conf: dict[str, dict] = {}
        for _ in range(60):  # a worker answers once it is up; every wait is bounded
            conf = app.control.inspect(timeout=2).conf() or {}
            if {worker.split("@")[0] for worker in conf} >= names:
                break
        assert {worker.split("@")[0] for worker in conf} >= names, f"workers that answered: {sorted(conf)}"
        for worker, settings in conf.items():
            assert {key: settings.get(key) for key in CELERY_WORKER_SETTINGS} == CELERY_WORKER_SETTINGS, worker
    finally:
        app.close()


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(broker, backend) URLs of a broker namespace of this test's own, so a concurrent test session's workers never
    take these tasks: a Redis database number, or a RabbitMQ virtual host (made and deleted with rabbitmqctl)."""
    if request.param == "redis":
        require_service("127.0.0.1", 6379, "Redis")
        url = f"redis://127.0.0.1:6379/{random.randint(1, 15)}"
        yield url, url
        return
    require_service("127.0.0.1", 5672, "RabbitMQ")
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    vhost = f"spotify_ai_{uuid.uuid4().hex[:10]}"
    subprocess.run([ctl, "-q", "add_vhost", vhost], check=True, timeout=60)
    try:
        subprocess.run([ctl, "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True, timeout=60)
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}", "rpc://"
    finally:
        subprocess.run([ctl, "-q", "delete_vhost", vhost], check=False, timeout=60)


def test_jobs_run_on_celery_workers_by_queue_and_match_an_in_process_run(pg_environ, sandbox_environ,  # noqa: F811
                                                                         broker: tuple[str, str],
                                                                         tmp_path: Path) -> None:
    url, backend = broker
    redis = url.startswith("redis")
    home = dagster_home(tmp_path / "dagster_home")
    landing = str(tmp_path / "landing")
    env = {**pg_environ, "DAGSTER_HOME": str(home), "SPOTIFY_AI_HOME": str(tmp_path / "celery_home"),
           "SPOTIFY_AI_LANDING": landing, "SPOTIFY_AI_SANDBOX_SCALE": "tiny", "SPOTIFY_AI_EXECUTOR": "celery",
           "SPOTIFY_AI_CELERY_BROKER": url, "SPOTIFY_AI_CELERY_BACKEND": backend}
    migrate(env)
    # The workers start as the README starts them, with deploy/celery.yaml.
    base = [cli("dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(CELERY_WORKER_CONFIG)]
    workers = [start([*base, "-q", "dagster", "-n", "light", "--", "--concurrency=2"], env, tmp_path / "light.log"),
               start([*base, "-q", "cpu_heavy", "-n", "heavy", "--", "--concurrency=1"], env, tmp_path / "heavy.log")]
    try:
        _assert_workers_take_a_step_only_when_free(url, backend, {"light", "heavy"})
        if redis:  # the full daily job once; the RabbitMQ run shows the broker choice on the small job
            _execute(env, "spotify_ai_assets.definitions", "daily_refresh_job", {"dagster/partition": DAY})
        _execute(env, "spotify_ai_assets_tests.deploy_location", "deploy_heavy_job")
    finally:
        for worker in workers:
            stop(worker)

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        (heavy,) = instance.get_runs(filters=dg.RunsFilter(job_name="deploy_heavy_job"))
        assert heavy.status == dg.DagsterRunStatus.SUCCESS
        heavy_workers = {step: w.split("@")[0] for step, w in _worker_by_step(instance, heavy.run_id).items()}
        assert heavy_workers == {"deploy_probe": "light", "deploy_cpu_probe": "heavy"}
        if redis:
            (daily,) = instance.get_runs(filters=dg.RunsFilter(job_name="daily_refresh_job"))
            assert daily.status == dg.DagsterRunStatus.SUCCESS
            daily_workers = _worker_by_step(instance, daily.run_id)
            assert len(daily_workers) >= 10 and {w.split("@")[0] for w in daily_workers.values()} == {"light"}
    finally:
        instance.dispose()
    if not redis:
        return
    reference_env = {**sandbox_environ, "SPOTIFY_AI_LANDING": landing, "SPOTIFY_AI_EXECUTOR": "in_process"}
    assert build_defs(reference_env).resolve_job_def("daily_refresh_job").execute_in_process(partition_key=DAY).success
    assert_same_lake(Lake(str(Path(reference_env["SPOTIFY_AI_HOME"], "lake"))),
                     Lake(str(tmp_path / "celery_home" / "lake")), DAY)
