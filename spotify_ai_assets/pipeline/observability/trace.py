"""Trace ids: one id follows a piece of work through its run, retries and re-executions."""

import dagster as dg

TRACE_TAG = "spotify_ai/trace_id"


def trace_id_of(run: dg.DagsterRun) -> str:
    """The caller's trace id (run tag), else the root run's id, which Dagster keeps for retries and re-executions."""
    return run.tags.get(TRACE_TAG) or run.root_run_id or run.run_id
