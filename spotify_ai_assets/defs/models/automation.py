"""Model automation: weekly retraining, daily features and recommendations, and the automation-condition sensor
that retrains on a code change or a feature backfill (see the challengers' automation conditions)."""

import datetime as dt

import dagster as dg

from spotify_ai_assets.defs.models.features import GROUP

_MODELS = [f"{kind}_{step}" for kind in ("ranker", "forecaster") for step in ("challenger", "evaluation", "champion")]

model_retraining_job = dg.define_asset_job(
    "model_retraining_job", selection=dg.AssetSelection.assets(*_MODELS),
    description="Train both challengers on the latest data, evaluate them against their champions and baselines, "
                "promote each only if its gate passes.",
    tags={"spotify_ai/job": "model_retraining"},
)

daily_recommendations_job = dg.define_asset_job(
    "daily_recommendations_job",
    selection=dg.AssetSelection.assets("pseudonymous_events", "track_features", "user_features", "user_track_features",
                                       "recommendations"),
    description="The day's feature tables, then recommendations from the current ranker champion.",
    tags={"spotify_ai/job": "daily_recommendations"},
)


@dg.schedule(job=model_retraining_job, cron_schedule="0 5 * * 1", execution_timezone="UTC",
             description="Mondays at 05:00 UTC, after the night's ingestion and backup: retrain, gate, promote.")
def weekly_retraining_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    week = context.scheduled_execution_time.astimezone(dt.UTC).date().isoformat()
    return dg.RunRequest(run_key=f"retrain:{week}")


@dg.schedule(job=daily_recommendations_job, cron_schedule="0 3 * * *", execution_timezone="UTC",
             description="At 03:00 UTC (after the 02:00 daily refresh): features and recommendations of the day that "
                         "just ended, served on the day that starts.")
def daily_recommendations_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = (context.scheduled_execution_time.astimezone(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"recommendations:{day}", partition_key=day)


model_automation_sensor = dg.AutomationConditionSensorDefinition(
    "model_automation_sensor", target=dg.AssetSelection.groups(GROUP),
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Evaluates the models group's automation conditions: retrain a challenger when its code version "
                "changes or a past feature partition is rematerialized (backfill); evaluate and promote after it; "
                "refresh the latest features and recommendations when their inputs update.",
)
