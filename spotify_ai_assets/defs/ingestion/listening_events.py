import datetime as dt

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.ingestion import contracts
from spotify_ai_assets.core.ingestion.listening_events import ingest_day
from spotify_ai_assets.core.ingestion.recently_played import TABLE as CAPTURES
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.lib.ingestion import GROUP, OWNERS
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.landing import LandingResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish

TABLE = "listening_events"


@dg.asset(
    group_name=GROUP, owners=OWNERS, kinds={"duckdb", "parquet"}, partitions_def=daily_partitions,
    deps=[CAPTURES], check_specs=contract_check_specs(TABLE, contracts.LISTENING_EVENTS, daily_partitions),
    # No pool: this step reads files and the lake, never the Spotify API (recently_played does), so concurrent
    # days' ingestion runs side by side.
    code_version="listening-events-v3",
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=30)),
)
def listening_events(context: dg.AssetExecutionContext, landing: LandingResource,
                     lake: LakeResource) -> dg.MaterializeResult:
    """Every play of the day (UTC), deduplicated on (user_id, track_id, played_at), from two sources:
    the backend's hourly export files in the landing folder (JSON lines or Parquet) and the day's recently_played
    captures. Recently-played rows have no ms_played, skip flag or device (and no country for a development-mode
    app): those columns are null for them. Bad export records are quarantined with file:line, field and reason."""
    day = partition_day(context)
    files = landing.export_files(day)
    store_lake = lake.lake()
    recent = _captures(context, store_lake, day)
    result = ingest_day(files, day, lambda batches: store_lake.write_batches(TABLE, batches, day.isoformat()),
                        recent=recent)
    return publish(
        store_lake, TABLE, result.events, day, contracts.LISTENING_EVENTS, quarantine=result.quarantine,
        export_files=len(files), export_records=result.export_records, recently_played_rows=result.recent_plays,
        duplicates_removed=result.duplicates, rows_by_source=dg.MetadataValue.json(result.rows_by_source),
    )


def _captures(context: dg.AssetExecutionContext, store: Lake, day: dt.date) -> pa.Table | None:
    if not store.exists(CAPTURES, day.isoformat()):
        context.log.warning(f"{CAPTURES} has no partition {day}: only the export files are ingested "
                            f"(materialize {CAPTURES} first to add the connected users' plays)")
        return None
    return store.read(CAPTURES, day.isoformat())
