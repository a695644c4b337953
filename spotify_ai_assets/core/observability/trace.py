"""Trace ids: one id follows a piece of work through its run, retries and re-executions."""

from __future__ import annotations

TRACE_TAG = "spotify_ai/trace_id"


def trace_id(tags: dict[str, str], root_run_id: str | None, run_id: str | None) -> str | None:
    """The caller's trace id (run tag), else the root run's id, which Dagster keeps for retries and re-executions."""
    return tags.get(TRACE_TAG) or root_run_id or run_id
