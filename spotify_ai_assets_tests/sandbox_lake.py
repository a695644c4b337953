"""Test helper: fill a lake with the daily aggregates of sandbox days, exactly as the analytics assets write them."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from spotify_ai_assets.core.analytics.daily_aggregates import daily_aggregates
from spotify_ai_assets.core.ingestion.catalog import ALBUMS_SCHEMA, ARTISTS_SCHEMA, TRACKS_SCHEMA
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.sandbox.events import generate_day
from spotify_ai_assets.sandbox.world import World

AGGREGATE = {"daily_track_country_stats": "track_country", "daily_artist_stats": "artist"}


def day_events(world: World, day: dt.date) -> pa.Table:
    events = pa.concat_tables([t for _, t in generate_day(world, day)])
    return events.cast(pa.schema([(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                                  for f in events.schema]))


def write_daily_stats(world: World, lake: Lake, first: dt.date, last: dt.date, tables: tuple[str, ...]) -> None:
    day = first
    while day <= last:
        events = day_events(world, day)
        computed = daily_aggregates(events, day, only=[AGGREGATE[t] for t in tables]).tables
        for table in tables:
            lake.write(table, computed[AGGREGATE[table]], day.isoformat())
        day += dt.timedelta(days=1)


def write_catalog(lake: Lake, world: World, artists: list[int], days: list[dt.date]) -> None:
    """Catalog snapshots (artists, their albums and tracks) as the catalog crawl writes them."""
    albums = [i for i, a in enumerate(world.album_artist) if a in artists]
    tracks = [t for t, a in enumerate(world.track_artist) if a in artists]
    for day in days:
        lake.write("spotify_artists", pa.Table.from_pylist(
            [{"snapshot_date": day, "artist_id": world.artist_ids[a], "name": world.artist_name(a), "genres": [],
              "popularity": None, "followers": None} for a in artists], ARTISTS_SCHEMA), day.isoformat())
        lake.write("spotify_albums", pa.Table.from_pylist(
            [{"snapshot_date": day, "album_id": world.album_ids[i],
              "artist_id": world.artist_ids[world.album_artist[i]], "name": world.album_name(i),
              "album_type": "album", "release_date": None, "release_day": None,
              "total_tracks": None, "album_group": "album"} for i in albums], ALBUMS_SCHEMA), day.isoformat())
        lake.write("spotify_tracks", pa.Table.from_pylist(
            [{"snapshot_date": day, "track_id": world.track_ids[t], "album_id": world.album_ids[world.track_album[t]],
              "artist_id": world.artist_ids[world.track_artist[t]], "name": world.track_name(t), "duration_ms": None,
              "track_number": None, "explicit": None, "isrc": None, "genre": None, "popularity": None}
             for t in tracks], TRACKS_SCHEMA), day.isoformat())
