"""Health checks with results in the UI: the Spotify API (the emulator in the sandbox), the lake, the backup target,
disk space, and the freshness of every daily asset. Hourly schedule, and a sensor that re-checks after a failed run."""

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

import dagster as dg

from spotify_ai_assets.core.maintenance import health
from spotify_ai_assets.defs.maintenance.gdpr import erasure_deadline
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.maintenance import BackupTargetResource, HealthResource
from spotify_ai_assets.lib.resources.spotify import SpotifyResource

T = TypeVar("T")
ASSET = "platform_health"
PROBES = {
    "spotify_api": "Spotify Web API reachable and the app's credentials accepted (a token and one search call).",
    "lake_read_write": "A probe file written, read back and deleted under the lake root.",
    "backup_target": "A probe object written, read back and deleted in the backup target.",
    "disk_space": "Free space on the local home's filesystem above the threshold (SPOTIFY_AI_MIN_FREE_DISK_GIB).",
}


@dg.asset(
    name=ASSET, group_name="maintenance", owners=["team:platform"], kinds={"python"}, code_version="health-v1",
    check_specs=[dg.AssetCheckSpec(name, asset=ASSET, description=text) for name, text in PROBES.items()],
)
def platform_health(context: dg.AssetExecutionContext, lake: LakeResource, spotify: SpotifyResource,
                    backup: BackupTargetResource, health: HealthResource) -> dg.MaterializeResult:
    """One row of probes per run; each is an asset check, so the UI keeps the history of every target's health.
    The `daily_assets_fresh` check on this asset is built with the definitions (see freshness.py)."""
    probes = [
        health_probe_spotify(spotify),
        _probe.lake_read_write(lake.lake()),
        _guarded_backup(backup),
        _probe.disk_space(health.disk_path, health.min_free_disk_gib),
    ]
    failed = [p.name for p in probes if not p.passed]
    return dg.MaterializeResult(
        metadata={"failed": dg.MetadataValue.json(failed), "checked_at": dt.datetime.now(dt.UTC).isoformat()},
        check_results=[dg.AssetCheckResult(
            check_name=p.name, passed=p.passed, severity=dg.AssetCheckSeverity.ERROR, description=p.description,
            metadata={k: v if isinstance(v, (int, float, str)) else dg.MetadataValue.md(str(v))
                      for k, v in p.metadata.items()}) for p in probes],
    )


_probe = health  # the module; `health` is also the resource parameter above


def _guarded(name: str, connect: Callable[[], T], probe: Callable[[T], health.Probe]) -> health.Probe:
    """A target that cannot even be set up (bad credentials, unreachable endpoint) is a failed probe, not a crash."""
    try:
        target = connect()
    except Exception as exc:
        return health.Probe(name, False, f"{type(exc).__name__}: {exc}")
    return probe(target)


def health_probe_spotify(spotify: SpotifyResource) -> health.Probe:
    # The probe asks about now: the day only matters to the sandbox, whose world it points at the end of today.
    return _guarded("spotify_api", lambda: spotify.gateway(dt.datetime.now(dt.UTC).date()), _probe.spotify_api)


def _guarded_backup(backup: BackupTargetResource) -> health.Probe:
    return _guarded("backup_target", backup.store, _probe.backup_target)


health_job = dg.define_asset_job(
    "health_job", selection=dg.AssetSelection.assets(ASSET) | dg.AssetSelection.checks(erasure_deadline),
    description="Health probes, daily-asset freshness and the GDPR 30-day deadline.", tags={"spotify_ai/job": "health"})


@dg.schedule(job=health_job, cron_schedule="15 * * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED, description="Hourly health checks.")
def health_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"health:{context.scheduled_execution_time.isoformat()}")


@dg.run_failure_sensor(request_job=health_job, default_status=dg.DefaultSensorStatus.STOPPED,
                       monitor_all_code_locations=False, description="After any failed run, check the platform's "
                       "health at once, so a dead target shows up next to the failure.")
def health_after_failure_sensor(context: dg.RunFailureSensorContext):
    if context.dagster_run.job_name == health_job.name:
        return dg.SkipReason("the failed run was a health run")
    return dg.RunRequest(run_key=f"health-after:{context.dagster_run.run_id}")
