"""How a run's steps execute, chosen by the deployment (`SPOTIFY_AI_EXECUTOR`), never by editing code.

- `auto` (default): each job's own choice. The jobs in IN_PROCESS_JOBS run `in_process`, every other job and every
  run launched from the asset graph `multiprocess`.
- `in_process`: every step in the run's own process (debugging, tiny machines).
- `multiprocess` (Dagster's own default): one process per step on the run's machine.
- `celery`: each step is a Celery task on a broker (`SPOTIFY_AI_CELERY_BROKER`, Redis or RabbitMQ); worker processes
  on any machine with the same code, environment and instance storage execute them (`dagster-celery worker start`).

Queues: steps in a CPU-heavy pool (librosa audio analysis, LightGBM training) go to the `cpu_heavy` queue, every
other step to `dagster`, so a few big workers can serve the heavy queue while light ones serve the rest. The queue
is an op tag (`dagster-celery/queue`); each CPU-heavy asset sets it with `queue_op_tags(pool)`, which the asset graph
snapshot test pins.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import dagster as dg

from spotify_ai_assets.core.maintenance.liveness import HEARTBEAT_TAG, stamp
from spotify_ai_assets.core.quality.worker import suite_server_idle_s, suite_worker
from spotify_ai_assets.settings import Settings

QUEUE_TAG = "dagster-celery/queue"
DEFAULT_QUEUE = "dagster"
CPU_HEAVY_QUEUE = "cpu_heavy"
# Pools whose steps are CPU-bound for seconds to minutes (see defs/audio/features.py, defs/models/training.py).
CPU_HEAVY_POOLS = frozenset({"librosa", "lightgbm"})
PRELOAD = "spotify_ai_assets.lib.preload"
# What the multiprocess executor's fork server imports once per run. "__main__": the run worker's main script (the
# `dagster` command, which imports Dagster's whole CLI), which each step process would otherwise import again before
# it starts (multiprocessing's own rule for a fork server).
FORKSERVER_PRELOAD = ("__main__", PRELOAD)
# Jobs of light steps (seconds each on a day), run in the run's own process under `auto` (issue 19). A step process
# costs more than most of their steps: about half a second to start each, and before the first one the fork server's
# imports (Great Expectations alone takes seconds). In-process, the run imports once and its steps run one after
# another; a backfill still runs several days side by side, one run each. A step that fails still fails alone: the
# in-process executor goes on with the steps that do not depend on it.
IN_PROCESS_JOBS = frozenset({"daily_refresh_job"})
# Celery settings a step's task needs where it executes, in the worker: a worker takes a step only when one of its
# processes is free. Without `task_acks_late` a worker acknowledges a task as it starts it and, its prefetch window
# free again, reserves the next one while the first still works, so a step waits behind a long one on a busy worker
# while another worker idles (seen in the 4-day backfill's worker logs, issue 19). `dagster-celery worker start`
# applies only what its `-y` file's `config_source` says (the executor's own config reaches the run worker alone),
# so deploy/celery.yaml carries these same settings; a test keeps the two equal.
CELERY_WORKER_SETTINGS: dict[str, Any] = {"worker_prefetch_multiplier": 1, "task_acks_late": True}


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    """The code location's executor: what a job with no executor of its own, and an asset-graph run, use."""
    return with_heartbeat(_chosen_executor(settings.executor, settings), settings.run_heartbeat_s,
                          gx_worker=settings.executor == "in_process",
                          celery_poll_s=settings.celery_poll_s if settings.executor == "celery" else None)


def job_executor(settings: Settings, job_name: str) -> dg.ExecutorDefinition | None:
    """The job's own executor when it differs from the code location's (under `auto`), else None."""
    if settings.executor == "auto" and job_name in IN_PROCESS_JOBS:
        return with_heartbeat(_chosen_executor("in_process", settings), settings.run_heartbeat_s, gx_worker=True)
    return None


def _chosen_executor(executor: str, settings: Settings) -> dg.ExecutorDefinition:
    if executor == "in_process":
        return dg.in_process_executor
    if executor in ("multiprocess", "auto"):
        # Steps fork from a server that imported Dagster, the definitions and the libraries once per run
        # (FORKSERVER_PRELOAD), instead of each starting an interpreter that imports them again.
        return dg.multiprocess_executor.configured(
            {"start_method": {"forkserver": {"preload_modules": list(FORKSERVER_PRELOAD)}}}, name="multiprocess")
    from dagster_celery import celery_executor

    return celery_executor.configured(
        {"broker": settings.celery_broker, "backend": settings.celery_backend,
         "config_source": dict(CELERY_WORKER_SETTINGS)},
        name="celery_executor",
    )


class _HeartbeatExecutor(dg.Executor):
    """The chosen executor, plus a thread in the run worker that stamps the run with a heartbeat tag every
    `interval_s` while the run executes. A run worker killed with SIGKILL stops stamping; `dead_run_sensor`
    (defs/maintenance/liveness.py) then marks the run failed and Dagster's run monitoring frees its slots.

    With `gx_worker` (executors that run the steps in the run worker itself: in-process), the run also starts a
    Great Expectations suite worker (core/quality/worker.py) as it starts: it imports GX on another core while the
    first steps work, instead of the first suite importing it on the run's critical path (issue 19)."""

    def __init__(self, inner: dg.Executor, interval_s: float, gx_worker: bool = False,
                 celery_poll_s: float | None = None):
        self._inner = inner
        self._interval_s = interval_s
        self._gx_worker = gx_worker
        self._celery_poll_s = celery_poll_s

    def __getattr__(self, name: str) -> Any:
        # Executor-specific attributes the orchestration reads from the plan context's executor (Celery's app_args,
        # broker, backend, ...) are the inner executor's.
        if name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)

    @property
    def retries(self) -> Any:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> Any:
        return self._inner.step_dependency_config

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[Any]:
        instance, run_id = plan_context.instance, plan_context.run_id
        stop = threading.Event()

        def beat() -> None:
            while True:
                # A busy database misses one beat; the limit allows several.
                with contextlib.suppress(Exception):
                    instance.add_run_tags(run_id, {HEARTBEAT_TAG: stamp(dt.datetime.now(dt.UTC))})
                if stop.wait(self._interval_s):
                    return

        thread = threading.Thread(target=beat, name="spotify_ai-run-heartbeat", daemon=True)
        thread.start()
        try:
            with (_suites_for_run(self._gx_worker, steps_here=self._celery_poll_s is None),
                  celery_poll(self._celery_poll_s) if self._celery_poll_s else contextlib.nullcontext()):
                yield from self._inner.execute(plan_context, execution_plan)
        finally:
            stop.set()


@contextlib.contextmanager
def _suites_for_run(gx_worker: bool, steps_here: bool) -> Iterator[None]:
    """Where the run's quality suites go. With the machine's shared suite server on (SPOTIFY_AI_SUITE_SERVER_IDLE_S),
    every step sends its suites there, and a run whose steps execute on this machine (`steps_here`: not Celery, whose
    workers start their own machine's server with their first suite) starts it if none answers, so it imports GX
    while the first steps work; else, with `gx_worker` (steps in this process), a suite worker of the run's own
    imports GX beside them."""
    idle_s = suite_server_idle_s()
    if idle_s is not None:
        if steps_here:
            from spotify_ai_assets.core.quality import suite_server

            suite_server.warm(idle_s)
        yield
    elif gx_worker:
        with suite_worker():
            yield
    else:
        yield


@contextlib.contextmanager
def celery_poll(seconds: float) -> Iterator[None]:
    """While the block runs, dagster-celery's execution loop looks at its tasks' results every `seconds`
    (`SPOTIFY_AI_CELERY_POLL_S`, default 0.2), and then submits the steps they unblock.

    dagster-celery looks once a second (its module constant `TICK_SECONDS`, for which it offers no setting), and a
    daily run is a chain of about seven such hand-overs (recently_played, listening_events, the aggregates, trends,
    names, reports): each waited half a second on average for the next look (the backfill's --timeline, issue 19). A
    look is one result-backend read per step under way, so five a second cost the broker nothing measurable.
    The loop reads its module's `TICK_SECONDS` at each turn; the run worker executes one run, and the old value comes
    back when it ends. Should a dagster-celery release drop the constant, this raises instead of silently polling
    once a second (test_deploy_executors.py)."""
    from dagster_celery import core_execution_loop

    before = core_execution_loop.TICK_SECONDS
    core_execution_loop.TICK_SECONDS = seconds
    try:
        yield
    finally:
        core_execution_loop.TICK_SECONDS = before


def with_heartbeat(inner: dg.ExecutorDefinition, interval_s: float, gx_worker: bool = False,
                   celery_poll_s: float | None = None) -> dg.ExecutorDefinition:
    """`inner` with the same name, config and requirements, whose run worker keeps a heartbeat (and, with
    `gx_worker`, runs the quality suites in a GX worker started with the run: for executors whose steps run in the
    run worker; with `celery_poll_s`, looks at its Celery tasks that often)."""
    create = inner.executor_creation_fn
    assert create is not None

    def creation(init_context: Any) -> dg.Executor:
        return _HeartbeatExecutor(create(init_context), interval_s, gx_worker, celery_poll_s)

    return dg.ExecutorDefinition(name=inner.name, config_schema=inner.config_schema, executor_creation_fn=creation,
                                 description=inner.description, requirements=inner.get_requirements)


def queue_op_tags(pool: str | None) -> dict[str, str]:
    """The op tags that route a step in `pool` to its Celery queue: give them to the asset as `op_tags`. Light steps
    need none: the executor sends untagged steps to DEFAULT_QUEUE."""
    return {QUEUE_TAG: CPU_HEAVY_QUEUE} if pool in CPU_HEAVY_POOLS else {}
