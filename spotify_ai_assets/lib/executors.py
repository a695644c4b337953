"""How a run's steps execute, chosen by the deployment (`SPOTIFY_AI_EXECUTOR`), never by editing code.

- `in_process`: every step in the run's own process (debugging, tiny machines).
- `multiprocess` (default, Dagster's own default): one process per step on the run's machine.
- `celery`: each step is a Celery task on a broker (`SPOTIFY_AI_CELERY_BROKER`, Redis or RabbitMQ); worker processes
  on any machine with the same code, environment and instance storage execute them (`dagster-celery worker start`).

Queues: steps in a CPU-heavy pool (librosa audio analysis, LightGBM training) go to the `cpu_heavy` queue, every
other step to `dagster`, so a few big workers can serve the heavy queue while light ones serve the rest. The queue
is an op tag (`dagster-celery/queue`); each CPU-heavy asset sets it with `queue_op_tags(pool)`, which the asset graph
snapshot test pins.
"""

from __future__ import annotations

import dagster as dg

from spotify_ai_assets.settings import Settings

QUEUE_TAG = "dagster-celery/queue"
DEFAULT_QUEUE = "dagster"
CPU_HEAVY_QUEUE = "cpu_heavy"
# Pools whose steps are CPU-bound for seconds to minutes (see defs/audio/features.py, defs/models/training.py).
CPU_HEAVY_POOLS = frozenset({"librosa", "lightgbm"})


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    if settings.executor == "in_process":
        return dg.in_process_executor
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor
    from dagster_celery import celery_executor

    return celery_executor.configured(
        {"broker": settings.celery_broker, "backend": settings.celery_backend,
         # One task at a time per worker process: a heavy step must not hold light ones back in a prefetch.
         "config_source": {"worker_prefetch_multiplier": 1, "task_acks_late": True}},
        name="celery_executor",
    )


def queue_op_tags(pool: str | None) -> dict[str, str]:
    """The op tags that route a step in `pool` to its Celery queue: give them to the asset as `op_tags`. Light steps
    need none: the executor sends untagged steps to DEFAULT_QUEUE."""
    return {QUEUE_TAG: CPU_HEAVY_QUEUE} if pool in CPU_HEAVY_POOLS else {}
