"""Audit records for every materialization, however the run was launched.

Each step writes its own records when it ends (`audit_hooks`, attached to every asset by the loader in
`spotify_ai_assets/definitions.py`): a run from the CLI, the UI, a schedule, a sensor, a backfill or `dg.materialize`
in a test is audited with no daemon. The finished-run sensors (finished_runs.py) call `audit_run` as a catch-up for
steps that never reached their hook (a killed process); a step already audited is skipped, never rewritten.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

import dagster as dg

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.observability.audit import (
    AUDIT_TABLE,
    AuditExists,
    AuditRecord,
    append,
    audit_partition,
    content_sha256,
    started_by,
)
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.trace import trace_id_of
from spotify_ai_assets.version import code_version


def _records_by_step(instance: dg.DagsterInstance, run: dg.DagsterRun, lake: Lake,
                     step_key: str | None = None) -> dict[str, list[AuditRecord]]:
    """The audit records of the run's steps (or of `step_key`) not audited yet. A step already audited is skipped
    before anything is hashed; a uri materialized several times in one step (a batch of partitions reported at the
    table's address) is hashed once."""
    now = dt.datetime.now(dt.UTC)
    by_step: dict[str, list[AuditRecord]] = defaultdict(list)
    audited: dict[str, bool] = {}
    hashes: dict[str, str | None] = {}
    for record in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records:
        mat = record.asset_materialization
        step = record.event_log_entry.step_key or "run"
        if mat is None or (step_key is not None and step != step_key):
            continue
        if step not in audited:
            audited[step] = lake.exists(AUDIT_TABLE, audit_partition(run.run_id, step))
        if audited[step]:
            continue
        md = mat.metadata
        rows = md.get("dagster/row_count")
        uri = md.get("dagster/uri")
        by_step[step].append(AuditRecord(
            run_id=run.run_id, trace_id=trace_id_of(run), job=run.job_name, started_by=started_by(run.tags),
            asset=mat.asset_key.to_user_string(), partition=mat.partition,
            code_version=(mat.tags or {}).get("dagster/code_version"), package_version=code_version(),
            rows=int(rows.value) if rows is not None else None, uri=str(uri.value) if uri is not None else None,
            content_sha256=_hash(lake, str(uri.value), hashes) if uri is not None else None,
            materialized_at=dt.datetime.fromtimestamp(record.timestamp, dt.UTC), recorded_at=now,
        ))
    return by_step


def _hash(lake: Lake, uri: str, cache: dict[str, str | None]) -> str | None:
    if uri not in cache:
        cache[uri] = content_sha256(lake, uri)
    return cache[uri]


def _append_new(lake: Lake, run_id: str, by_step: dict[str, list[AuditRecord]]) -> int:
    written = 0
    for step, records in by_step.items():
        try:
            append(lake, run_id, step, records)
        except AuditExists:
            continue
        written += len(records)
    return written


def audit_run(instance: dg.DagsterInstance, run: dg.DagsterRun, lake: Lake) -> int:
    """Write the records of every step of the run not audited yet; returns how many. Safe to call twice."""
    return _append_new(lake, run.run_id, _records_by_step(instance, run, lake))


def audit_step(instance: dg.DagsterInstance, run_id: str, step_key: str, lake: Lake) -> int:
    """Write one step's records (what its hook calls when the step ends); returns how many."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return 0
    # The records carry the run's trace id; the run itself is tagged by `trace_id_sensor` (not from here: steps
    # running in parallel would race to rewrite the run's tags).
    return _append_new(lake, run_id, _records_by_step(instance, run, lake, step_key))


def _audit_hook_body(context: dg.HookContext) -> None:
    lake: LakeResource = context.resources.lake
    try:
        written = audit_step(context.instance, context.run_id, context.step_key, lake.lake())
    except Exception as exc:  # the step's data is written: a failed audit write is reported, and the sensor retries
        context.log.warning(f"audit records of step {context.step_key} not written ({type(exc).__name__}: {exc}); "
                            "the finished-run sensor writes them when the daemon runs")
        return
    if written:
        context.log.debug(f"audit: {written} record(s) for step {context.step_key}")


# One hook for a step's success and its failure: a success hook and a failure hook logged two hook events per step
# (one of them "skipped"), each a write to the event log (28 of the 231 events of a sandbox day's run).
AUDIT_HOOK = "audit_on_step_end"


def _audit_on_step_end(context: dg.HookContext, events: Sequence[dg.DagsterEvent]) -> dg.HookExecutionResult:
    # A failed step may have materialized some of its assets before it failed: those are audited too.
    ended = any(e.is_step_success or e.is_step_failure for e in events)
    if ended:
        _audit_hook_body(context)
    return dg.HookExecutionResult(hook_name=AUDIT_HOOK, is_skipped=not ended)


audit_on_step_end = dg.HookDefinition(name=AUDIT_HOOK, hook_fn=_audit_on_step_end, required_resource_keys={"lake"})
audit_hooks = {audit_on_step_end}
