
import dagster as dg

from spotify_ai_assets.core import aggregates, contracts
from spotify_ai_assets.core.quality import TableContract
from spotify_ai_assets.pipeline.partitions import daily_partitions, partition_day
from spotify_ai_assets.pipeline.resources import LakeResource
from spotify_ai_assets.pipeline.tables import contract_check_specs, publish

GROUP = "analytics"
OWNERS = ["team:analytics"]


def _daily_aggregate(name: str, sql: str, contract: TableContract, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name, description=description, group_name=GROUP, owners=OWNERS, kinds={"duckdb", "parquet"},
        partitions_def=daily_partitions, deps=["listening_events"],
        check_specs=contract_check_specs(name, contract, quarantine=False),
        code_version=f"{name}-v1", automation_condition=dg.AutomationCondition.eager(),
    )
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        day = partition_day(context)
        store = lake.lake()
        # Reads exactly this partition of its upstream (lineage), never "the latest file".
        events = store.scan("listening_events", [day.isoformat()])
        return publish(store, name, aggregates.aggregate(sql, events, day), day, contract)

    return _asset


daily_track_country_stats = _daily_aggregate(
    "daily_track_country_stats", aggregates.TRACK_COUNTRY_SQL, contracts.DAILY_TRACK_COUNTRY,
    "Per track and country: plays, unique listeners, ms played, skip rate.")
daily_artist_stats = _daily_aggregate(
    "daily_artist_stats", aggregates.ARTIST_SQL, contracts.DAILY_ARTIST,
    "Per artist: plays, unique listeners, distinct tracks played, ms played, skip rate.")
daily_user_stats = _daily_aggregate(
    "daily_user_stats", aggregates.USER_SQL, contracts.DAILY_USER,
    "Per user: listening sessions (30-minute gap), plays and minutes.")
