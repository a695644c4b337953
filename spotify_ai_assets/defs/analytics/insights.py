import datetime as dt

import dagster as dg

from spotify_ai_assets.core.analytics import contracts
from spotify_ai_assets.core.analytics.insights import artist_insights as write_insights
from spotify_ai_assets.core.kernel.markdown import md_text
from spotify_ai_assets.core.kernel.query import sql_to_arrow
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish

TABLE = "artist_insights"
CONTRACT = contracts.ARTIST_INSIGHTS
TWO_WEEKS = dg.TimeWindowPartitionMapping(start_offset=-13, end_offset=0)
TODAY = dg.TimeWindowPartitionMapping(start_offset=0, end_offset=0)


@dg.asset(
    name=TABLE, group_name="analytics", owners=["team:analytics"], kinds={"duckdb", "parquet"},
    partitions_def=daily_partitions, code_version="artist-insights-v1",
    deps=[dg.AssetDep("daily_track_country_stats", partition_mapping=TWO_WEEKS),
          dg.AssetDep("spotify_artists", partition_mapping=TODAY),
          dg.AssetDep("spotify_tracks", partition_mapping=TODAY)],
    check_specs=contract_check_specs(TABLE, CONTRACT, daily_partitions, quarantine=False),
)
def artist_insights(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """One sentence per watched artist about its best-moving track this week versus last (growth, the countries
    driving it, how often it is skipped against the artist's catalog), in the language of the artist's audience
    (English, French or German). Each number is stored with the sentence in `facts`."""
    day = partition_day(context)
    store = lake.lake()
    key = day.isoformat()
    window = [k for k in ((day - dt.timedelta(days=n)).isoformat() for n in range(14))
              if store.exists("daily_track_country_stats", k)]
    relations = {"s": store.scan("daily_track_country_stats", window), "a": store.scan("spotify_artists", [key]),
                 "t": store.scan("spotify_tracks", [key])}
    watched = sql_to_arrow("SELECT * FROM s WHERE artist_id IN (SELECT artist_id FROM a)", relations)
    names = sql_to_arrow("SELECT artist_id AS id, name FROM a UNION ALL SELECT track_id, name FROM t", relations)
    table = write_insights(day, watched, dict(zip(names["id"].to_pylist(), names["name"].to_pylist(), strict=True)))
    pairs = zip(table["language"].to_pylist(), table["text"].to_pylist(), strict=True)
    text = "\n".join(f"- ({lang}) {md_text(t)}" for lang, t in pairs)
    return publish(store, TABLE, table, day, CONTRACT, days_of_history=len(window),
                   insights=dg.MetadataValue.md(text or "no artist had a track with enough plays last week"))
