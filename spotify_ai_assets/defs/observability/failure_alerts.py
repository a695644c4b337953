"""Failed runs and failed blocking checks become Sentry events (when SENTRY_DSN is set) and, the critical ones,
pages (when PAGERDUTY_ROUTING_KEY is set; observability/paging.py says which)."""

from typing import Protocol

import dagster as dg

from spotify_ai_assets.core.observability import paging
from spotify_ai_assets.core.observability.sentry import FailureReport, send
from spotify_ai_assets.lib.resources.observability import ObservabilityResource
from spotify_ai_assets.lib.trace import trace_id_of


def failure_reports(context: dg.RunFailureSensorContext, run_url: str) -> list[FailureReport]:
    """One report for the run (naming its failed steps) and one per failed blocking (ERROR) check in it."""
    run = context.dagster_run
    base = {"run_id": run.run_id, "job": run.job_name, "trace_id": trace_id_of(run), "run_url": run_url,
            "partition": run.tags.get("dagster/partition")}
    steps = [e.step_key for e in context.get_step_failure_events() if e.step_key]
    errors = [_root_cause(e.event_specific_data.error) for e in context.get_step_failure_events()
              if e.event_specific_data is not None and getattr(e.event_specific_data, "error", None)]
    # Error messages go along for on-call (the Sentry scrubber removes secrets and personal data from them).
    reports = [FailureReport(title=f"run of {run.job_name} failed", asset=", ".join(steps) or None,
                             extra={"failed_steps": steps, "errors": errors}, **base)]
    records = context.instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            asset = evaluation.asset_key.to_user_string()
            reports.append(FailureReport(title=f"blocking check {asset}:{evaluation.check_name} failed",
                                         asset=asset, check=evaluation.check_name, **base))
    return reports


class ErrorInfo(Protocol):
    """The fields of Dagster's serialized step error that we read (its class is not public API)."""

    message: str
    cls_name: str | None
    cause: "ErrorInfo | None"


def _root_cause(error: ErrorInfo) -> str:
    """The innermost error (Dagster wraps user code errors): the first line of its message (`Type: text`)."""
    while error.cause is not None:
        error = error.cause
    lines = error.message.strip().splitlines()
    return lines[0][:500] if lines else error.cls_name or "error"


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, monitor_all_code_locations=False,
                       description="Sends each failed run, and each failed blocking check in it, to Sentry with the "
                                   "run id, job, asset, partition, trace id and a link to the run, and pages "
                                   "PagerDuty for failed blocking checks and failed unattended runs (schedule, "
                                   "sensor, backfill). Does nothing without SENTRY_DSN or PAGERDUTY_ROUTING_KEY.")
def failure_alerts_sensor(context: dg.RunFailureSensorContext, observability: ObservabilityResource) -> None:
    sentry_on, paging_on = observability.sentry_on(), observability.paging_on()
    if not (sentry_on or paging_on):
        return
    run = context.dagster_run
    for report in failure_reports(context, observability.run_url(run.run_id)):
        if sentry_on:
            send(report)
        if paging_on and paging.should_page(report, run.tags):
            context.log.info(f"paged: {observability.page(report)}")
