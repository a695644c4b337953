import json

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.analytics import contracts
from spotify_ai_assets.core.analytics.generated_playlists import TRACKS_SCHEMA, describe, playlist_facts
from spotify_ai_assets.core.kernel.markdown import md_text
from spotify_ai_assets.core.kernel.query import sql_to_arrow
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish

TABLE = "generated_playlists"
SIZE = 25
TITLES = {"en": "Rising this week", "fr": "En pleine ascension", "de": "Im Aufwind"}
CONTRACT = contracts.GENERATED_PLAYLISTS
SCHEMA = pa.schema([("date", pa.date32()), ("name", pa.string()), ("language", pa.string()),
                    ("description", pa.string()), ("track_ids", pa.list_(pa.string())), ("facts", pa.string())])


@dg.asset(
    name=TABLE, group_name="analytics", owners=["team:analytics"], kinds={"duckdb", "parquet"},
    partitions_def=daily_partitions, code_version="generated-playlists-v1",
    deps=["track_trends", dg.AssetDep("spotify_tracks"), dg.AssetDep("audio_features_all")],
    check_specs=contract_check_specs(TABLE, CONTRACT, daily_partitions, quarantine=False),
)
def generated_playlists(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """The "Rising this week" playlist: the day's most strongly rising tracks, with a description in English,
    French and German built from their genres (catalog), median tempo and mood (audio features) where known."""
    day = partition_day(context)
    store = lake.lake()
    key = day.isoformat()
    relations = {"r": store.scan("track_trends", [key])}
    genre = "NULL::VARCHAR"
    audio = "NULL::DOUBLE AS tempo_bpm, NULL::DOUBLE AS valence, NULL::DOUBLE AS energy_score"
    joins = ""
    if store.exists("spotify_tracks", key):
        relations["t"] = store.scan("spotify_tracks", [key])
        genre, joins = "t.genre", joins + " LEFT JOIN t ON t.track_id = r.entity_id"
    if store.exists("audio_features_all"):
        relations["f"] = store.scan("audio_features_all")
        audio = "f.tempo_bpm, f.valence, f.energy_score"
        joins += " LEFT JOIN f ON f.track_id = r.entity_id"
    tracks = sql_to_arrow(f"SELECT r.entity_id AS track_id, {genre} AS genre, {audio} FROM r {joins} "
                          f"WHERE r.trend = 'rising' ORDER BY r.z DESC, r.entity_id LIMIT {SIZE}", relations)
    facts = playlist_facts(tracks.select(TRACKS_SCHEMA.names).cast(TRACKS_SCHEMA))
    rows = [{"date": day, "name": "rising", "language": lang, "description": describe(title, facts, lang),
             "track_ids": tracks["track_id"].to_pylist(), "facts": json.dumps(facts, sort_keys=True)}
            for lang, title in TITLES.items()] if tracks.num_rows else []
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    return publish(store, TABLE, table, day, CONTRACT, tracks=tracks.num_rows,
                   descriptions=dg.MetadataValue.md("\n".join(f"- {md_text(r['description'])}" for r in rows)
                                                    or "nothing rising today"))
