"""Re-requests a partition whose last run stopped on a long Spotify rate limit, once the limit has passed."""

import datetime as dt

import dagster as dg

from spotify_ai_assets.core.rate_limits import RESUME_AT, StoppedRun, due_retries, parse_iso
from spotify_ai_assets.pipeline import automation

LOOKBACK = dt.timedelta(days=3)  # a quota 429 lasts a day; older stops were surely dealt with
TRIGGER = "rate_limit_retry"


def stopped_runs(instance: dg.DagsterInstance, since: dt.datetime) -> list[StoppedRun]:
    """Failed runs with a step that stopped on a long rate limit (its failure metadata holds the resume time)."""
    out = []
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE],
                                                             updated_after=since), limit=500)
    for record in records:
        run = record.dagster_run
        failures = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
        for failure in failures:
            data = failure.event_log_entry.dagster_event.step_failure_data
            metadata = data.user_failure_data.metadata if data is not None and data.user_failure_data else {}
            value = metadata.get(RESUME_AT)
            resume = parse_iso(str(value.value)) if value is not None else None
            if resume is not None:
                out.append(StoppedRun(run.run_id, run.job_name, run.tags.get("dagster/partition"), resume,
                                      record.create_timestamp.timestamp()))
                break
    return out


def _succeeded_since(instance: dg.DagsterInstance, stopped: list[StoppedRun]) -> set[tuple[str, str | None]]:
    done = set()
    for run in stopped:
        tags = {"dagster/partition": run.partition} if run.partition else {}
        later = instance.get_run_records(filters=dg.RunsFilter(
            job_name=run.job_name, tags=tags, statuses=[dg.DagsterRunStatus.SUCCESS],
            created_after=dt.datetime.fromtimestamp(run.stopped_at, dt.UTC)), limit=1)
        if later:
            done.add((run.job_name, run.partition))
    return done


@dg.sensor(job=automation.daily_refresh_job, minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Once a run that stopped on a long Spotify rate limit (Retry-After beyond what a step may "
                       "wait, or a day-long QUOTA_EXCEEDED) may resume, runs its partition again (once per stopped "
                       "run: run_key = that run's id), unless the partition has succeeded since.")
def spotify_rate_limit_retry_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    now = dt.datetime.now(dt.UTC)
    stopped = stopped_runs(context.instance, now - LOOKBACK)
    if not stopped:
        return dg.SkipReason("no run stopped on a rate limit")
    due = due_retries(stopped, now, _succeeded_since(context.instance, stopped))
    if not due:
        waiting = min(r.resume_at for r in stopped)
        return dg.SkipReason(f"{len(stopped)} run(s) stopped on a rate limit; the earliest may resume at "
                             f"{waiting:%Y-%m-%dT%H:%M:%SZ}")
    requests = []
    for run in due:
        original = context.instance.get_run_by_id(run.run_id)
        # The daily job reruns whole; a run of chosen assets (`dagster asset materialize`) reruns those assets.
        selection = None if run.job_name == automation.daily_refresh_job.name or original is None else (
            sorted(original.asset_selection or [], key=lambda k: k.to_user_string()) or None)
        requests.append(dg.RunRequest(run_key=f"spotify-rate-limit:{run.run_id}", partition_key=run.partition,
                                      asset_selection=selection,
                                      tags={"spotify_ai/trigger": TRIGGER, "spotify_ai/retry_of": run.run_id}))
    return dg.SensorResult(run_requests=requests)
