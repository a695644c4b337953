"""A test-only code location whose schedule and sensor are on from the start (default_status RUNNING), so a daemon
started by a test ticks both on its own: the schedule every minute, the sensor within seconds (one run, run_key).

It also holds `deploy_heavy_job`, a light step followed by a step in the librosa pool, to show Celery queue routing
with the platform's own executor and routing (`SPOTIFY_AI_EXECUTOR`, see lib/executors.py).

Loaded by `dagster-daemon run`, `dagster dev` or `dagster job execute` (`-m spotify_ai_assets_tests.deploy_location`);
it never runs inside pytest itself.
"""

import os

import dagster as dg

from spotify_ai_assets.lib.executors import build_executor, queue_op_tags
from spotify_ai_assets.settings import Settings


@dg.asset(group_name="deploy_probe", kinds={"python"})
def deploy_probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Records which automation started the run."""
    trigger = context.run.tags.get("dagster/schedule_name") or context.run.tags.get("dagster/sensor_name") or "manual"
    return dg.MaterializeResult(metadata={"trigger": trigger})


@dg.asset(group_name="deploy_probe", kinds={"python"}, deps=[deploy_probe], pool="librosa",
          op_tags=queue_op_tags("librosa"))
def deploy_cpu_probe() -> dg.MaterializeResult:
    """Stands for a CPU-heavy step: where it ran is the point."""
    return dg.MaterializeResult(metadata={"pid": os.getpid()})


deploy_heavy_job = dg.define_asset_job("deploy_heavy_job", selection=[deploy_probe, deploy_cpu_probe])
deploy_probe_job = dg.define_asset_job("deploy_probe_job", selection=[deploy_probe])

deploy_probe_schedule = dg.ScheduleDefinition(name="deploy_probe_schedule", job=deploy_probe_job,
                                              cron_schedule="* * * * *",
                                              default_status=dg.DefaultScheduleStatus.RUNNING)


@dg.sensor(job=deploy_probe_job, minimum_interval_seconds=2, default_status=dg.DefaultSensorStatus.RUNNING)
def deploy_probe_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    # One run, ever: later ticks repeat the run key and start nothing.
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key="deploy-probe-1")])


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[deploy_probe, deploy_cpu_probe],
                          jobs=[deploy_probe_job, deploy_heavy_job], schedules=[deploy_probe_schedule],
                          sensors=[deploy_probe_sensor], executor=build_executor(Settings.from_environ()))
