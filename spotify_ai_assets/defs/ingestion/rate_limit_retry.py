"""Re-requests a partition whose last run stopped on a long Spotify rate limit, once the limit has passed."""

import datetime as dt

import dagster as dg

from spotify_ai_assets.core.ingestion.rate_limits import RESUME_AT, StoppedRun, due_retries, parse_iso
from spotify_ai_assets.defs.ingestion import daily_refresh

LOOKBACK = dt.timedelta(days=3)  # a quota 429 lasts a day; older stops were surely dealt with
TRIGGER = "rate_limit_retry"
RETRY_OF = "spotify_ai/retry_of"


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


def _planned(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetKey] | None:
    """The assets a run meant to materialize (None: unknown, so the whole daily job)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED).records
    keys = {r.event_log_entry.dagster_event.asset_key for r in records if r.event_log_entry.dagster_event}
    return sorted((k for k in keys if k is not None), key=lambda k: k.to_user_string()) or None


def _succeeded_since(instance: dg.DagsterInstance, stopped: list[StoppedRun]) -> set[tuple[str, str | None]]:
    """(job, partition) of stopped runs that a later run made good: the same job on the same partition, or the
    retry this sensor requested for it."""
    done = set()
    for run in stopped:
        tags = {"dagster/partition": run.partition} if run.partition else {}
        since = dt.datetime.fromtimestamp(run.stopped_at, dt.UTC)
        same_job = dg.RunsFilter(job_name=run.job_name, tags=tags, statuses=[dg.DagsterRunStatus.SUCCESS],
                                 created_after=since)
        retry = dg.RunsFilter(tags={RETRY_OF: run.run_id}, statuses=[dg.DagsterRunStatus.SUCCESS])
        if instance.get_run_records(filters=same_job, limit=1) or instance.get_run_records(filters=retry, limit=1):
            done.add((run.job_name, run.partition))
    return done


@dg.sensor(job=daily_refresh.daily_refresh_job, minimum_interval_seconds=60,
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
        # The daily job reruns whole; a run of chosen assets (`dagster asset materialize`) reruns those assets.
        selection = None if run.job_name == daily_refresh.daily_refresh_job.name else _planned(context.instance,
                                                                                             run.run_id)
        requests.append(dg.RunRequest(run_key=f"spotify-rate-limit:{run.run_id}", partition_key=run.partition,
                                      asset_selection=selection,
                                      tags={"spotify_ai/trigger": TRIGGER, RETRY_OF: run.run_id}))
    return dg.SensorResult(run_requests=requests)
