"""A finished run's metrics, read back from the Dagster event log."""

import json

import dagster as dg

from spotify_ai_assets.core.observability.metrics import AssetMetrics, RunMetrics
from spotify_ai_assets.lib.trace import trace_id_of

_ROWS_IN = ("export_records", "recently_played_rows", "rows_in")


def _value(md: dict, key: str) -> object:
    entry = md.get(key)
    return None if entry is None else entry.value


def _api(md: dict) -> dict:
    stats = _value(md, "api_stats")
    if isinstance(stats, str):
        stats = json.loads(stats)
    return stats if isinstance(stats, dict) else {}


def run_metrics(instance: dg.DagsterInstance, run: dg.DagsterRun, status: str) -> RunMetrics:
    record = instance.get_run_record_by_id(run.run_id)
    started = (record.start_time or record.create_timestamp.timestamp()) if record else 0.0
    ended = (record.end_time or started) if record else started
    wanted = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE,
              dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    step_seconds: dict[str, float] = {}
    quarantined: dict[str, int] = {}
    materialized = []
    for rec in instance.get_records_for_run(run.run_id, of_type=wanted).records:
        event = rec.event_log_entry.dagster_event
        if event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            duration = getattr(event.event_specific_data, "duration_ms", None)
            if duration is not None and event.step_key:
                step_seconds[event.step_key] = duration / 1000
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.check_name == "quarantine" and "quarantined" in evaluation.metadata:
                quarantined[evaluation.asset_key.to_user_string()] = int(evaluation.metadata["quarantined"].value)
        elif rec.asset_materialization is not None:
            materialized.append((event.step_key, rec.asset_materialization))
    assets = []
    for step_key, mat in materialized:
        md, asset = mat.metadata, mat.asset_key.to_user_string()
        api = _api(md)
        assets.append(AssetMetrics(
            asset=asset, partition=mat.partition, step_seconds=step_seconds.get(step_key or ""),
            rows_in=sum(int(_value(md, k) or 0) for k in _ROWS_IN), rows_out=int(_value(md, "dagster/row_count") or 0),
            bytes_written=int(_value(md, "bytes") or _value(md, "html_bytes") or 0),
            quarantined=quarantined.get(asset, 0), api_calls=int(api.get("calls", 0)),
            api_throttled=int(api.get("throttled", 0)), api_retries=int(api.get("retries", 0)),
        ))
    return RunMetrics(run_id=run.run_id, job=run.job_name, status=status, trace_id=trace_id_of(run),
                      started_at=float(started), ended_at=float(ended), assets=assets)
