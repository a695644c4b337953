"""Nightly lake backup with a blocking restore drill, retention pruning, and the restore job."""


import datetime as dt
import tempfile
from dataclasses import asdict

import dagster as dg
from pydantic import Field

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.maintenance import backup as backups_core
from spotify_ai_assets.core.maintenance import restore, retention
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.maintenance import BackupTargetResource, ComplianceResource
from spotify_ai_assets.version import code_version

DRILL = "restore_drill"


@dg.asset(
    group_name="maintenance", owners=["team:platform"], kinds={"s3", "parquet"}, partitions_def=daily_partitions,
    code_version="lake-backup-v1", pool="backup",
    check_specs=[dg.AssetCheckSpec(DRILL, asset="lake_backup", blocking=True, partitions_def=daily_partitions,
                                   description=(
        "Restores the new backup into a scratch folder and compares every file's SHA-256 and every Parquet file's "
        "row count with the manifest; a corrupted or missing object is named. Blocking: retention never runs after "
        "a backup that does not restore."))],
)
def lake_backup(context: dg.AssetExecutionContext, lake: LakeResource,
                backup: BackupTargetResource) -> dg.MaterializeResult:
    """Copies the lake (tables, reports, models, quarantine) into the backup target after the day's refresh.
    Content addressed: only files whose bytes are new are copied. The manifest lists every object with size,
    SHA-256 and row count, the source partitions and the code version."""
    store, now = backup.store(), dt.datetime.now(dt.UTC)
    result = backups_core.take_backup(lake.lake(), store, code_version=code_version(), now=now,
                                 partition_key=context.partition_key)
    with tempfile.TemporaryDirectory(prefix="restore-drill-") as scratch:
        drill = restore.drill(store, result.backup_id, scratch)
    backups_core.record_drill(store, result.backup_id, drill.verdict(dt.datetime.now(dt.UTC)))
    m = result.manifest
    summary = "\n".join(["| table | partitions | rows |", "| --- | ---: | ---: |",
                         *(f"| {t} | {len(m.source_partitions.get(t, []))} | {r} |"
                           for t, r in sorted(m.rows_by_table().items()))])
    return dg.MaterializeResult(
        metadata={
            "backup_id": result.backup_id, "target": store.url, "code_version": m.code_version,
            "objects": len(m.entries), "bytes": m.total_bytes, "objects_copied": result.objects_copied,
            "bytes_copied": result.bytes_copied, "objects_reused": result.objects_reused,
            "manifest": f"{store.url}/{backups_core.manifest_key(result.backup_id)}",
            "tables": dg.MetadataValue.md(summary),
        },
        check_results=[dg.AssetCheckResult(
            check_name=DRILL, passed=drill.passed, severity=dg.AssetCheckSeverity.ERROR,
            description="restored and verified" if drill.passed else f"{len(drill.problems)} problem(s): "
                        + "; ".join(drill.problems[:5])
                        + f". Re-copy from the lake: python -m spotify_ai_assets.maintenance repair {result.backup_id}",
            metadata={"backup_id": result.backup_id, "objects_checked": drill.objects,
                      "bytes_checked": drill.bytes, "result": dg.MetadataValue.md(drill.markdown())},
        )],
    )


@dg.asset(group_name="maintenance", owners=["team:platform"], kinds={"s3"}, partitions_def=daily_partitions,
          deps=["lake_backup"], code_version="backup-retention-v1", pool="backup")
def backup_retention(context: dg.AssetExecutionContext, backup: BackupTargetResource) -> dg.MaterializeResult:
    """Prunes backups past retention (newest per day, ISO week and month, as configured; never the newest one
    whose restore drill passed) and the objects no kept backup refers to."""
    report = retention.prune(backup.store(), backup.policy())
    context.log.info(f"{partition_day(context)}: kept {len(report.kept)}, pruned {len(report.pruned)} backups")
    return dg.MaterializeResult(metadata={
        "kept": len(report.kept), "pruned": len(report.pruned), "objects_deleted": report.objects_deleted,
        "pruned_ids": dg.MetadataValue.json(report.pruned), "policy": dg.MetadataValue.json(asdict(backup.policy())),
    })


backup_job = dg.define_asset_job(
    "backup_job", selection=dg.AssetSelection.assets("lake_backup", "backup_retention"),
    description="Back up the lake, drill a restore of the backup, then prune backups past retention.",
    tags={"spotify_ai/job": "backup"},
)


@dg.schedule(job=backup_job, cron_schedule="0 4 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED,
             description="At 04:00 UTC, after daily_refresh_job (02:00), back up the day that just ended.")
def nightly_backup_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = (context.scheduled_execution_time.astimezone(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"backup:{day}", partition_key=day)


class RestoreConfig(dg.Config):
    # An id as new_backup_id writes them: it becomes a path in the backup target, so nothing else gets through.
    backup_id: str = Field(pattern=r"^\d{8}T\d{12}Z$",
                           description="The backup to restore (see `python -m spotify_ai_assets.maintenance backups`).")
    target_lake: str = Field(default="", description="Folder or s3:// lake to restore into; empty = this "
                                                     "deployment's lake.")
    mirror: bool = Field(default=True, description="Remove lake files the backup does not have (compliance records "
                                                   "are always kept).")


@dg.op(tags={"kind": "s3"}, pool="backup")  # never restore while a backup or an erasure runs
def restore_backup(context: dg.OpExecutionContext, config: RestoreConfig, lake: LakeResource,
                   backup: BackupTargetResource, compliance: ComplianceResource) -> None:
    """Checks every object of the backup against its SHA-256 before writing anything, restores it, then re-applies
    the erasure log so no erased user comes back."""
    target = Lake(config.target_lake, s3_endpoint_url=lake.s3_endpoint_url) if config.target_lake else lake.lake()
    report = restore.restore(backup.store(), config.backup_id, target, salt=compliance.salt, mirror=config.mirror)
    context.log.info(f"restored {config.backup_id} into {target.root}: {report.files_written} files written, "
                     f"{len(report.files_removed)} removed, {report.erasures_reapplied} erasures re-applied")
    context.log_event(dg.AssetObservation(asset_key="lake_backup", metadata={
        "restored_backup": config.backup_id, "into": target.root, "files_written": report.files_written,
        "bytes_written": report.bytes_written, "files_removed": len(report.files_removed),
        "erasures_reapplied": report.erasures_reapplied, "erasure_removals": report.erasure_removals,
        "rows_by_table": dg.MetadataValue.json(report.rows_by_table)}))


@dg.job(tags={"spotify_ai/job": "restore"},
        description="Restore a chosen backup into a target lake (every checksum verified first; the erasure log is "
                    "re-applied). Config: ops: {restore_backup: {config: {backup_id: ..., target_lake: ...}}}.")
def restore_job() -> None:
    restore_backup()
