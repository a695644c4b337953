"""Retention and log rotation: a weekly job prunes Dagster run records with their event logs and compute logs, raw
landing files and quarantine partitions past their retention, and reports what it removed.

Schedule and sensor tick history is pruned by the daemon itself (`retention:` in dagster.yaml)."""

import datetime as dt

import dagster as dg
from pydantic import Field

from spotify_ai_assets.core.maintenance import housekeeping, restore
from spotify_ai_assets.core.maintenance.storage import LocalStore
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.landing import LandingResource
from spotify_ai_assets.lib.resources.maintenance import BackupTargetResource


class HousekeepingConfig(dg.Config):
    run_retention_days: int = Field(default=90, ge=1, description="Keep run records, event logs and compute logs "
                                                                 "of runs that ended within this many days.")
    landing_retention_days: int = Field(default=30, ge=1, description="Keep landing export day folders this long.")
    quarantine_retention_days: int = Field(default=90, ge=1, description="Keep quarantine partitions this long.")
    temporary_max_age_hours: float = Field(default=6, ge=1, description=(
        "Remove `.tmp` files of killed writes (and staging folders of killed restores) untouched this long; a live "
        "write never lasts anywhere near it."))
    as_of: str = Field(default="", description="Judge ages as of this ISO time (default now): a rehearsal of a "
                                              "later prune.")


@dg.op(tags={"kind": "dagster"})
def prune_past_retention(context: dg.OpExecutionContext, config: HousekeepingConfig, lake: LakeResource,
                         landing: LandingResource, backup: BackupTargetResource) -> None:
    """Prunes each store and logs one observation listing what went."""
    now = dt.datetime.fromisoformat(config.as_of) if config.as_of else dt.datetime.now(dt.UTC)
    cutoff = now - dt.timedelta(days=config.run_retention_days)
    instance = context.instance
    old_runs = [r.dagster_run.run_id for r in instance.get_run_records(
        filters=dg.RunsFilter(updated_before=cutoff, statuses=[
            dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]))
        if r.dagster_run.run_id != context.run_id]
    for run_id in old_runs:
        instance.compute_log_manager.delete_logs(prefix=[run_id])
        instance.delete_run(run_id)  # the run record and all its event log entries
    today = now.date()
    landing_pruned = housekeeping.prune_landing(landing.root, config.landing_retention_days, today)
    quarantine_pruned = housekeeping.prune_quarantine(lake.lake(), config.quarantine_retention_days, today)
    # Restores a kill interrupted after their commit point are finished; those killed before it are dropped.
    age = dt.timedelta(hours=config.temporary_max_age_hours)
    recovered = restore.recover(lake.lake())
    abandoned = restore.remove_abandoned_staging(lake.lake(), age, now)
    store = backup.store()
    temporary = housekeeping.prune_temporary_files(
        lake.lake(), age, now, store.temporary_files() if isinstance(store, LocalStore) else [])
    rows = [f"| {p.where} | {p.day} | {p.files} | {p.bytes} |"
            for p in landing_pruned + quarantine_pruned + temporary]
    context.log.info(f"pruned {len(old_runs)} runs, {len(landing_pruned)} landing day folders, "
                     f"{len(quarantine_pruned)} quarantine partitions, {len(temporary)} orphan temporary files")
    context.log_event(dg.AssetObservation(asset_key="platform_health", metadata={
        "runs_deleted": len(old_runs), "landing_days_deleted": len(landing_pruned),
        "quarantine_partitions_deleted": len(quarantine_pruned),
        "temporary_files_deleted": len(temporary), "restores_completed": len(recovered),
        "abandoned_restores_removed": len(abandoned),
        "deleted": dg.MetadataValue.md("\n".join(["| where | day | files | bytes |", "| --- | --- | ---: | ---: |",
                                                  *rows]) if rows else "nothing past retention"),
        "retention_days": dg.MetadataValue.json(config.model_dump())}))


@dg.job(tags={"spotify_ai/job": "housekeeping"},
        description="Prune run records, event logs, compute logs, landing files and quarantine past retention.")
def housekeeping_job() -> None:
    prune_past_retention()


@dg.schedule(job=housekeeping_job, cron_schedule="30 5 * * 0", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED, description="Sundays 05:30 UTC: prune past retention.")
def housekeeping_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"housekeeping:{context.scheduled_execution_time.date().isoformat()}")
