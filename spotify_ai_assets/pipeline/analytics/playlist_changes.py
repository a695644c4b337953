import datetime as dt

import dagster as dg
import pyarrow.compute as pc

from spotify_ai_assets.core.playlist_changes import CHANGES_SCHEMA, diff_snapshots
from spotify_ai_assets.core.quality import TableContract
from spotify_ai_assets.pipeline.partitions import daily_partitions, partition_day
from spotify_ai_assets.pipeline.resources import LakeResource
from spotify_ai_assets.pipeline.tables import contract_check_specs, publish

TABLE = "playlist_changes"
UPSTREAM = "playlist_snapshots"
CONTRACT = TableContract(TABLE, ("playlist_id", "change", "track_id", "old_position", "new_position"),
                         ("snapshot_date", "playlist_id", "change", "track_id", "snapshot_id"),
                         {"old_position": (0, 10_000), "new_position": (0, 10_000)},
                         min_ratio=0.0, max_ratio=float("inf"))


@dg.asset(
    name=TABLE, group_name="analytics", owners=["team:analytics"], kinds={"duckdb", "parquet"},
    partitions_def=daily_partitions, code_version="playlist-changes-v1",
    deps=[dg.AssetDep(UPSTREAM, partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0))],
    check_specs=contract_check_specs(TABLE, CONTRACT, quarantine=False),
    automation_condition=dg.AutomationCondition.eager(),
)
def playlist_changes(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Tracks added to, removed from and moved within each tracked playlist since the previous day's snapshot
    (playlists whose snapshot_id did not change are skipped; a playlist unreadable on either day is not diffed)."""
    day = partition_day(context)
    store = lake.lake()
    previous_key = (day - dt.timedelta(days=1)).isoformat()
    if not store.exists(UPSTREAM, day.isoformat()):
        raise dg.Failure(f"{UPSTREAM} has no partition for {day}: materialize it first")
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
