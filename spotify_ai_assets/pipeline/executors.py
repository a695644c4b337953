"""How a run's steps execute, chosen by the deployment (`SPOTIFY_AI_EXECUTOR`), never by editing code.

- `in_process`: every step in the run's own process (debugging, tiny machines).
- `multiprocess` (default, Dagster's own default): one process per step on the run's machine.
- `celery`: each step is a Celery task on a broker (`SPOTIFY_AI_CELERY_BROKER`, Redis or RabbitMQ); worker processes
  on any machine with the same code, environment and instance storage execute them (`dagster-celery worker start`).

Queues: steps in a CPU-heavy pool (librosa audio analysis, LightGBM training) go to the `cpu_heavy` queue, every
other step to `dagster`, so a few big workers can serve the heavy queue while light ones serve the rest. The queue
is an op tag (`dagster-celery/queue`), added here from the pool so asset modules need not know about Celery.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from dagster._core.definitions.op_definition import OpDefinition

from spotify_ai_assets.settings import Settings

QUEUE_TAG = "dagster-celery/queue"
DEFAULT_QUEUE = "dagster"
CPU_HEAVY_QUEUE = "cpu_heavy"
# Pools whose steps are CPU-bound for seconds to minutes (see pipeline/audio/features.py, pipeline/models/training.py).
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


def queue_for(op: dg.OpDefinition) -> str:
    return CPU_HEAVY_QUEUE if op.pool in CPU_HEAVY_POOLS else DEFAULT_QUEUE


def route_to_queues(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """Each CPU-heavy asset's op gains the Celery queue tag (an explicit tag in the asset's own op_tags wins)."""
    routed = []
    for asset in assets:
        op = asset.node_def if asset.is_executable else None
        if not isinstance(op, OpDefinition) or QUEUE_TAG in op.tags or queue_for(op) == DEFAULT_QUEUE:
            routed.append(asset)
            continue
        tagged = OpDefinition.dagster_internal_init(
            name=op.name, ins={d.name: dg.In.from_definition(d) for d in op.input_defs},
            outs={d.name: dg.Out.from_definition(d) for d in op.output_defs}, compute_fn=op.compute_fn,
            config_schema=op.config_schema, description=op.description,
            tags={**op.tags, QUEUE_TAG: queue_for(op)}, required_resource_keys=op.required_resource_keys,
            code_version=op._version, retry_policy=op.retry_policy, version=None, pool=op.pool,
        )
        routed.append(dg.AssetsDefinition.dagster_internal_init(**{**asset.get_attributes_dict(),
                                                                   "node_def": tagged}))
    return routed
