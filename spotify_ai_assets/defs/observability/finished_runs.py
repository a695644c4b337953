"""What happens when a run ends: its audit records and its metrics; and a trace id on every run that starts."""

import dagster as dg

from spotify_ai_assets.defs.observability.audit_trail import audit_run
from spotify_ai_assets.defs.observability.run_metrics import run_metrics
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.observability import ObservabilityResource
from spotify_ai_assets.lib.trace import TRACE_TAG, trace_id_of


def record_finished_run(context: dg.RunStatusSensorContext, status: str, lake: LakeResource,
                        observability: ObservabilityResource) -> None:
    run = context.dagster_run
    written = audit_run(context.instance, run, lake.lake())
    figures = run_metrics(context.instance, run, status)
    exported = observability.export_metrics(figures)
    context.log.info(f"run {run.run_id}: {written} audit records caught up; "
                     f"metrics to {', '.join(exported) or 'nowhere'}")


# `monitor_all_code_locations`: a run launched from the CLI (`dagster asset materialize -m ...`, `dg launch`) carries
# a code location name of its own, not the workspace's, and would otherwise be invisible to these sensors.
@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, default_status=dg.DefaultSensorStatus.RUNNING,
                      monitor_all_code_locations=True,
                      description="For each successful run: audit records for any step that did not write its own "
                                  "(a killed process), and the run's metrics (Prometheus textfile or pushgateway, "
                                  "OpenTelemetry when configured).")
def finished_run_success_sensor(context: dg.RunStatusSensorContext, lake: LakeResource,
                                observability: ObservabilityResource) -> None:
    record_finished_run(context, "success", lake, observability)


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, monitor_all_code_locations=True,
                       description="For each failed run: audit records for what it did materialize that no step "
                                   "recorded itself, and its metrics.")
def finished_run_failure_sensor(context: dg.RunFailureSensorContext, lake: LakeResource,
                                observability: ObservabilityResource) -> None:
    record_finished_run(context, "failure", lake, observability)


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.STARTED, default_status=dg.DefaultSensorStatus.RUNNING,
                      monitor_all_code_locations=True,
                      description="Tags each run that came without one with its trace id (its root run's id), so "
                                  "the UI, retries and re-executions show the same id as the audit trail.")
def trace_id_sensor(context: dg.RunStatusSensorContext) -> None:
    run = context.dagster_run
    if TRACE_TAG not in run.tags:
        context.instance.add_run_tags(run.run_id, {TRACE_TAG: trace_id_of(run)})
