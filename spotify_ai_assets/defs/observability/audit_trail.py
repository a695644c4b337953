"""Audit records for every materialization of a finished run (written by the sensors in finished_runs.py)."""

import datetime as dt

import dagster as dg

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.observability.audit import AuditExists, AuditRecord, append, content_sha256, started_by
from spotify_ai_assets.lib.trace import trace_id_of
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
