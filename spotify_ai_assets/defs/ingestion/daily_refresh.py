"""Jobs, schedules and sensors over the discovered assets."""


import datetime as dt
import hashlib
import json
import os

import dagster as dg

from spotify_ai_assets.lib.partitions import daily_partitions
from spotify_ai_assets.lib.resources.landing import LandingResource

daily_refresh_job = dg.define_asset_job(
    "daily_refresh_job",
    selection=dg.AssetSelection.groups("ingestion", "analytics"),
    description="Ingest one day (catalog, playlists, listening events), then its aggregates, trends, playlist "
                "changes, insights, generated playlist and daily report.",
    # A run tag (not an op tag): the run queue's tag_concurrency_limits in dagster.yaml match run tags only.
    tags={"spotify_ai/job": "daily_refresh", "spotify_ai/uses": "spotify_api"},
)


@dg.schedule(job=daily_refresh_job, cron_schedule="0 2 * * *", execution_timezone="UTC",
             description="At 02:00 UTC, refresh the day that just ended (late export files get two hours).")
def daily_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    # Written out rather than build_schedule_from_partitioned_job, which calls a deprecated Dagster API.
    day = (context.scheduled_execution_time.astimezone(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"scheduled:{day}", partition_key=day)


def _fingerprint(paths: list[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        st = os.stat(p)
        h.update(f"{os.path.basename(p)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


@dg.sensor(job=daily_refresh_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Refreshes a day when its export files in the landing folder appear or change.")
def event_exports_sensor(context: dg.SensorEvaluationContext, landing: LandingResource) -> dg.SensorResult:
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    # Today's folder fills during the day but is no partition yet; a folder that is no day at all is reported.
    partitions = set(daily_partitions.get_partition_keys())
    requests = []
    present = landing.days_with_files()
    for day in present:
        if day not in partitions:
            if day not in seen:
                context.log.info(f"event exports for {day}: not a finished day of the partitions yet, skipped")
            continue
        files = landing.delivered_files(dt.date.fromisoformat(day))
        if not files:
            continue
        try:
            fp = _fingerprint(files)
        except FileNotFoundError:  # a file moved away mid-tick: the next tick sees the settled folder
            continue
        if seen.get(day) != fp:
            seen[day] = fp
            # The run key ties the run to this exact set of files: a repeated tick starts nothing twice,
            # a changed or added file starts a fresh run.
            requests.append(dg.RunRequest(run_key=f"{day}:{fp}", partition_key=day,
                                          tags={"spotify_ai/trigger": "event_exports"}))
    # Days whose folder is gone (housekeeping removes old ones) leave the cursor, so it stays the size of the folder.
    seen = {day: fp for day, fp in seen.items() if day in present}
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))
