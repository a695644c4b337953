"""Dead runs are failed without a hand: a started run whose worker stopped stamping its heartbeat (killed with
SIGKILL, OOM-killed, machine lost) is marked failed; Dagster's run monitoring (`free_slots_after_run_end_seconds`
in dagster.yaml) then frees the pool slots its steps held, so the next run of the pool proceeds. On by default:
it needs only the daemon."""

import datetime as dt

import dagster as dg

from spotify_ai_assets.core.maintenance.liveness import HEARTBEAT_TAG, heartbeat_age, is_dead
from spotify_ai_assets.lib.resources.maintenance import HealthResource


@dg.sensor(minimum_interval_seconds=15, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Marks failed every started run whose worker's heartbeat (run tag spotify_ai/heartbeat) is "
                       "older than SPOTIFY_AI_RUN_DEAD_AFTER_S; run monitoring then frees its pool slots.")
def dead_run_sensor(context: dg.SensorEvaluationContext, health: HealthResource) -> dg.SkipReason:
    now = dt.datetime.now(dt.UTC)
    instance = context.instance
    failed = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        run = record.dagster_run
        beat = run.tags.get(HEARTBEAT_TAG)
        if not is_dead(beat, now, health.run_dead_after_s):
            continue
        age = heartbeat_age(beat, now)
        instance.report_run_failed(run, f"run worker is gone: no heartbeat for {age:.0f} s (limit "
                                        f"{health.run_dead_after_s:.0f} s); its pool slots are freed by run monitoring")
        failed.append(run.run_id)
        context.log.warning(f"marked run {run.run_id} failed: no heartbeat for {age:.0f} s")
    return dg.SkipReason(f"failed {len(failed)} dead run(s): {failed}" if failed else "every started run is alive")
