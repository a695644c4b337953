"""The day's three aggregate tables, computed together from one pass over its listening events."""

import dagster as dg

from spotify_ai_assets.core.analytics import contracts
from spotify_ai_assets.core.analytics import daily_aggregates as aggregates
from spotify_ai_assets.core.kernel.privacy import pseudonymize
from spotify_ai_assets.core.quality.table_contract import TableContract
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.maintenance import ComplianceResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish, require_partition

GROUP = "analytics"
OWNERS = ["team:analytics"]

# aggregate (core name) -> asset, contract, code version, description
TABLES: dict[str, tuple[str, TableContract, str, str]] = {
    "track_country": ("daily_track_country_stats", contracts.DAILY_TRACK_COUNTRY, "v1",
                      "Per track and country: plays, unique listeners, ms played, skip rate."),
    "artist": ("daily_artist_stats", contracts.DAILY_ARTIST, "v1",
               "Per artist: plays, unique listeners, distinct tracks played, ms played, skip rate."),
    "user": ("daily_user_stats", contracts.DAILY_USER, "v2",
             "Per user, by pseudonym (`user_key`, a keyed hash of the user id): listening sessions (30-minute gap), "
             "plays and minutes."),
}


@dg.multi_asset(
    specs=[dg.AssetSpec(name, description=description, group_name=GROUP, owners=OWNERS, kinds={"duckdb", "parquet"},
                        deps=["listening_events"], code_version=f"{name}-{version}",
                        automation_condition=dg.AutomationCondition.eager())
           for name, _, version, description in TABLES.values()],
    check_specs=[s for name, contract, _, _ in TABLES.values()
                 for s in contract_check_specs(name, contract, daily_partitions, quarantine=False)],
    partitions_def=daily_partitions,
    # Selecting one table computes only what it needs; all three (the usual run) share one read of the day.
    can_subset=True,
)
def daily_aggregates(context: dg.AssetExecutionContext, lake: LakeResource, compliance: ComplianceResource):
    """Daily aggregates of `listening_events` in DuckDB: the day is read and grouped once for all three tables
    (core/analytics/daily_aggregates.py). A table answered by the plain reference SQL, because a fast-path guard
    fired, says so in its `aggregation` metadata."""
    day = partition_day(context)
    store = lake.lake()
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    wanted = [agg for agg, (name, *_) in TABLES.items() if name in selected]
    # Reads exactly this partition of its upstream (lineage), never "the latest file".
    events = store.scan("listening_events", [require_partition(store, "listening_events", day)])
    result = aggregates.daily_aggregates(events, day, only=wanted)
    for agg in wanted:
        name, contract, _, _ = TABLES[agg]
        table = result.tables[agg]
        if agg == "user":
            table = pseudonymize(table, compliance.salt)  # analytics never hold raw user ids (core/kernel/privacy.py)
        fallback = result.fallbacks.get(agg)
        if fallback:
            context.log.warning(f"{name}: fast path guard fired ({fallback}); answered by the reference SQL")
        yield publish(store, name, table, day, contract, asset_key=dg.AssetKey(name),
                      aggregation=f"reference SQL ({fallback})" if fallback else "one pass")
