"""Audit records for every materialization of every run, and a trace id tag on every run."""

import datetime as dt

import dagster as dg

from spotify_ai_assets.core.lake import Lake
from spotify_ai_assets.observability.audit import AuditExists, AuditRecord, append, content_sha256, started_by
from spotify_ai_assets.pipeline.observability.trace import TRACE_TAG, trace_id_of
from spotify_ai_assets.pipeline.resources import LakeResource
from spotify_ai_assets.version import code_version


def audit_run(instance: dg.DagsterInstance, run: dg.DagsterRun, lake: Lake) -> int:
    """Write the run's audit records (one per materialization); returns how many. Safe to call twice."""
    now = dt.datetime.now(dt.UTC)
    records = []
    for record in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records:
        mat = record.asset_materialization
        if mat is None:
            continue
        md = mat.metadata
        rows = md.get("dagster/row_count")
        uri = md.get("dagster/uri")
        records.append(AuditRecord(
            run_id=run.run_id, trace_id=trace_id_of(run), job=run.job_name, started_by=started_by(run.tags),
            asset=mat.asset_key.to_user_string(), partition=mat.partition,
            code_version=(mat.tags or {}).get("dagster/code_version"), package_version=code_version(),
            rows=int(rows.value) if rows is not None else None, uri=str(uri.value) if uri is not None else None,
            content_sha256=content_sha256(lake, str(uri.value)) if uri is not None else None,
            materialized_at=dt.datetime.fromtimestamp(record.timestamp, dt.UTC), recorded_at=now,
        ))
    if not records:
        return 0
    try:
        append(lake, run.run_id, records)
    except AuditExists:
        return 0
    return len(records)


def _audit(context: dg.RunStatusSensorContext, lake: LakeResource) -> None:
    written = audit_run(context.instance, context.dagster_run, lake.lake())
    context.log.info(f"run {context.dagster_run.run_id}: {written} audit records")


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, default_status=dg.DefaultSensorStatus.RUNNING,
                      description="Appends an audit record per materialization of each successful run.")
def audit_success_sensor(context: dg.RunStatusSensorContext, lake: LakeResource) -> None:
    _audit(context, lake)


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Appends an audit record per materialization a failed run did make.")
def audit_failure_sensor(context: dg.RunFailureSensorContext, lake: LakeResource) -> None:
    _audit(context, lake)


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.STARTED, default_status=dg.DefaultSensorStatus.RUNNING,
                      description="Tags each run that came without one with its trace id (its root run's id), so "
                                  "the UI, retries and re-executions show the same id as the audit trail.")
def trace_id_sensor(context: dg.RunStatusSensorContext) -> None:
    run = context.dagster_run
    if TRACE_TAG not in run.tags:
        context.instance.add_run_tags(run.run_id, {TRACE_TAG: trace_id_of(run)})
