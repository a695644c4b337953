import datetime as dt
import json

import dagster as dg

from spotify_ai_assets.core.analytics import contracts
from spotify_ai_assets.core.analytics.artist_monitoring import alerts_for, monitor
from spotify_ai_assets.core.ingestion.catalog import ALBUMS_SCHEMA
from spotify_ai_assets.core.kernel.markdown import md_text
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.alerts import AlertsResource
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish

TABLE = "artist_monitoring"
CONTRACT = contracts.ARTIST_MONITORING
TODAY = dg.TimeWindowPartitionMapping(start_offset=0, end_offset=0)
WITH_YESTERDAY = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0)
UPSTREAM = ("spotify_artists", "spotify_albums", "daily_artist_stats", "artist_trends")


@dg.asset(
    # Its own group: daily_refresh_job leaves it out, and the sensor below runs it once the day's inputs are in.
    name=TABLE, group_name="monitoring", owners=["team:analytics"], kinds={"duckdb", "parquet"},
    partitions_def=daily_partitions, code_version="artist-monitoring-v1",
    deps=[dg.AssetDep("spotify_artists", partition_mapping=TODAY),
          dg.AssetDep("spotify_albums", partition_mapping=WITH_YESTERDAY),
          dg.AssetDep("daily_artist_stats", partition_mapping=TODAY),
          dg.AssetDep("artist_trends", partition_mapping=TODAY)],
    check_specs=contract_check_specs(TABLE, CONTRACT, daily_partitions, quarantine=False),
)
def artist_monitoring(context: dg.AssetExecutionContext, lake: LakeResource,
                      alerts: AlertsResource) -> dg.MaterializeResult:
    """For each watched artist (today's catalog snapshot, crawled with paging through the Spotify resource): new
    releases since yesterday's snapshot, the day's plays and listeners on the platform, and its trend. Sends one
    alert per release and per breakout (rising artist) through the alerts resource; re-runs never alert twice."""
    day = partition_day(context)
    store = lake.lake()
    key, previous = day.isoformat(), (day - dt.timedelta(days=1)).isoformat()
    missing = [t for t in UPSTREAM if not store.exists(t, key)]
    if missing:
        raise dg.Failure(f"{', '.join(missing)} not materialized for {day}: run daily_refresh_job for it first")
    previous_albums = (store.scan("spotify_albums", [previous]) if store.exists("spotify_albums", previous)
                       else ALBUMS_SCHEMA.empty_table())
    trends = store.scan("artist_trends", [key])
    table = monitor(day, store.scan("spotify_artists", [key]), store.scan("spotify_albums", [key]), previous_albums,
                    store.scan("daily_artist_stats", [key]), trends)
    raised = alerts_for(table)
    sent = alerts.send(raised)
    for alert in sent:
        context.log.info(f"alert sent: {alert.message}")
    return publish(store, TABLE, table, day, CONTRACT,
                   alerts_raised=len(raised), alerts_sent=len(sent),
                   alerts=dg.MetadataValue.md(_markdown(raised)))


def _markdown(raised: list) -> str:
    if not raised:
        return "no releases or breakouts today"
    return "\n".join(["| kind | artist | message |", "| --- | --- | --- |",
                      *(f"| {a.kind} | {md_text(a.artist_name)} | {md_text(a.message)} |" for a in raised)])


@dg.sensor(asset_selection=[TABLE], minimum_interval_seconds=3600,
           description="Hourly: once the catalog, stats and trends of the day that just ended are in the lake, "
                       "run artist monitoring for it (one run per day; the cursor remembers the last day done).")
def artist_monitoring_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    state = json.loads(context.cursor) if context.cursor else {}
    store = lake.lake()
    day = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    if state.get("last_day") == day or not all(store.exists(t, day) for t in UPSTREAM):
        return dg.SensorResult(run_requests=[], cursor=context.cursor)
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"{TABLE}:{day}", partition_key=day)],
                           cursor=json.dumps({"last_day": day}))
