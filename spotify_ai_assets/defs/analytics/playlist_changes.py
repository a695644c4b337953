import datetime as dt

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from spotify_ai_assets.core.analytics import contracts
from spotify_ai_assets.core.analytics.playlist_changes import CHANGES_SCHEMA, EFFECT_DAYS, add_effects, diff_snapshots
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish, require_partition

TABLE = "playlist_changes"
UPSTREAM = "playlist_snapshots"
CONTRACT = contracts.PLAYLIST_CHANGES


@dg.asset(
    name=TABLE, group_name="analytics", owners=["team:analytics"], kinds={"duckdb", "parquet"},
    partitions_def=daily_partitions, code_version="playlist-changes-v1",
    deps=[dg.AssetDep(UPSTREAM, partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0))],
    check_specs=contract_check_specs(TABLE, CONTRACT, daily_partitions, quarantine=False),
    automation_condition=dg.AutomationCondition.eager(),
)
def playlist_changes(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Tracks added to, removed from and moved within each tracked playlist since the previous day's snapshot
    (playlists whose snapshot_id did not change are skipped; a playlist unreadable on either day is not diffed)."""
    day = partition_day(context)
    store = lake.lake()
    previous_key = (day - dt.timedelta(days=1)).isoformat()
    require_partition(store, UPSTREAM, day)
    has_previous = store.exists(UPSTREAM, previous_key)
    if has_previous:
        changes = diff_snapshots(store.scan(UPSTREAM, [previous_key]), store.scan(UPSTREAM, [day.isoformat()]), day)
    else:  # the first snapshot: nothing to compare with
        changes = CHANGES_SCHEMA.empty_table()
    counts = {c["values"]: c["counts"] for c in pc.value_counts(changes["change"]).to_pylist()}
    return publish(store, TABLE, changes, day, CONTRACT,
                   compared_with=previous_key if has_previous else "nothing (first snapshot)",
                   changes_by_kind=dg.MetadataValue.json(counts),
                   playlists_changed=pc.count_distinct(changes["playlist_id"]).as_py())


EFFECTS = "playlist_add_effects"
EFFECTS_CONTRACT = contracts.PLAYLIST_ADD_EFFECTS


@dg.asset(
    name=EFFECTS, group_name="analytics", owners=["team:analytics"], kinds={"duckdb", "parquet"},
    partitions_def=daily_partitions, code_version="playlist-add-effects-v1",
    deps=[dg.AssetDep(TABLE, partition_mapping=dg.TimeWindowPartitionMapping(
              start_offset=-EFFECT_DAYS, end_offset=-EFFECT_DAYS)),
          dg.AssetDep("daily_track_country_stats", partition_mapping=dg.TimeWindowPartitionMapping(
              start_offset=-2 * EFFECT_DAYS, end_offset=0))],
    check_specs=contract_check_specs(EFFECTS, EFFECTS_CONTRACT, daily_partitions, quarantine=False),
)
def playlist_add_effects(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """The listening effect of playlist adds, a week on: for the tracks added on the day 7 days before this partition,
    mean daily listeners in the week before the add and the week after, and the lift."""
    day = partition_day(context)
    added_on = day - dt.timedelta(days=EFFECT_DAYS)
    store = lake.lake()
    window = [(added_on + dt.timedelta(days=n)).isoformat() for n in range(-EFFECT_DAYS, EFFECT_DAYS + 1)]
    present = [k for k in window if store.exists("daily_track_country_stats", k)]
    if store.exists(TABLE, added_on.isoformat()) and present:
        effects = add_effects(store.scan(TABLE, [added_on.isoformat()]),
                              store.scan("daily_track_country_stats", present), added_on)
    else:  # the first week of history has no adds a week back: an empty partition, said so in the metadata
        effects = add_effects(CHANGES_SCHEMA.empty_table(), pa.table({
            "date": pa.array([], pa.date32()), "track_id": pa.array([], pa.string()),
            "listeners": pa.array([], pa.int64())}), added_on)
    return publish(store, EFFECTS, effects, day, EFFECTS_CONTRACT, added_on=added_on.isoformat(),
                   days_of_stats=len(present), median_lift=pc.approximate_median(effects["lift"]).as_py())
