"""A run's trace id (the rule lives in spotify_ai_assets/core/observability/trace.py)."""

import dagster as dg

from spotify_ai_assets.core.observability.trace import TRACE_TAG, trace_id

__all__ = ["TRACE_TAG", "trace_id_of"]


def trace_id_of(run: dg.DagsterRun) -> str:
    return trace_id(run.tags, run.root_run_id, run.run_id) or run.run_id
