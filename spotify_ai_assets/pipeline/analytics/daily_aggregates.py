
import datetime as dt

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core import aggregates, contracts
from spotify_ai_assets.core.lake import Lake
from spotify_ai_assets.core.privacy import pseudonymize
from spotify_ai_assets.core.quality import TableContract
from spotify_ai_assets.pipeline.maintenance.resources import ComplianceResource
from spotify_ai_assets.pipeline.partitions import daily_partitions, partition_day
from spotify_ai_assets.pipeline.resources import LakeResource
from spotify_ai_assets.pipeline.tables import contract_check_specs, publish

GROUP = "analytics"
OWNERS = ["team:analytics"]


def _spec(name: str, contract: TableContract, description: str, version: str) -> dict:
    return {"name": name, "description": description, "group_name": GROUP, "owners": OWNERS,
            "kinds": {"duckdb", "parquet"}, "partitions_def": daily_partitions, "deps": ["listening_events"],
            "check_specs": contract_check_specs(name, contract, quarantine=False), "code_version": f"{name}-{version}",
            "automation_condition": dg.AutomationCondition.eager()}


def _aggregate(context: dg.AssetExecutionContext, lake: LakeResource, sql: str) -> tuple[dt.date, Lake, pa.Table]:
    day = partition_day(context)
    store = lake.lake()
    # Reads exactly this partition of its upstream (lineage), never "the latest file".
    return day, store, aggregates.aggregate(sql, store.scan("listening_events", [day.isoformat()]), day)


def _daily_aggregate(name: str, sql: str, contract: TableContract, description: str) -> dg.AssetsDefinition:
    @dg.asset(**_spec(name, contract, description, "v1"))
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        day, store, table = _aggregate(context, lake, sql)
        return publish(store, name, table, day, contract)

    return _asset


daily_track_country_stats = _daily_aggregate(
    "daily_track_country_stats", aggregates.TRACK_COUNTRY_SQL, contracts.DAILY_TRACK_COUNTRY,
    "Per track and country: plays, unique listeners, ms played, skip rate.")
daily_artist_stats = _daily_aggregate(
    "daily_artist_stats", aggregates.ARTIST_SQL, contracts.DAILY_ARTIST,
    "Per artist: plays, unique listeners, distinct tracks played, ms played, skip rate.")


@dg.asset(**_spec("daily_user_stats", contracts.DAILY_USER, "Per user, by pseudonym (`user_key`, a keyed hash of the "
                  "user id): listening sessions (30-minute gap), plays and minutes.", "v2"))
def daily_user_stats(context: dg.AssetExecutionContext, lake: LakeResource,
                     compliance: ComplianceResource) -> dg.MaterializeResult:
    day, store, table = _aggregate(context, lake, aggregates.USER_SQL)
    # Analytics never hold raw user ids (core/privacy.py).
    return publish(store, "daily_user_stats", pseudonymize(table, compliance.salt), day, contracts.DAILY_USER)
