"""Contracts of the ingestion tables: each table's key, required columns and value bounds."""

from __future__ import annotations

from spotify_ai_assets.core.quality.table_contract import TableContract

DAY_MS = 86_400_000

SPOTIFY_ARTISTS = TableContract("spotify_artists", ("artist_id",), ("artist_id", "name"),
                                {"popularity": (0, 100), "followers": (0, None)})
SPOTIFY_ALBUMS = TableContract("spotify_albums", ("album_id",), ("album_id", "artist_id", "name", "release_day"),
                               {"total_tracks": (1, 500)})
SPOTIFY_TRACKS = TableContract("spotify_tracks", ("track_id",), ("track_id", "album_id", "artist_id", "duration_ms"),
                               {"duration_ms": (1, 6 * 3_600_000), "popularity": (0, 100)})
PLAYLIST_SNAPSHOTS = TableContract("playlist_snapshots", ("playlist_id", "position"),
                                   ("playlist_id", "snapshot_id", "track_id", "position"), {"position": (0, 10_000)},
                                   min_ratio=0.2, max_ratio=5.0)
LISTENING_EVENTS = TableContract("listening_events", ("user_id", "track_id", "played_at"),
                                 ("event_id", "user_id", "track_id", "played_at", "source"),
                                 {"ms_played": (0, DAY_MS)})
# What connected users' recently-played showed of the day: it depends on how many users connected their account and
# how much they played, so neither its size against the previous day nor an empty day says something went wrong.
RECENTLY_PLAYED = TableContract("recently_played", ("user_id", "track_id", "played_at"),
                                ("event_id", "user_id", "track_id", "played_at"),
                                min_ratio=0.0, max_ratio=float("inf"), may_be_empty=True)
# Names looked up for the day's top and flagged tracks outside the catalog: a quiet day may need none.
SPOTIFY_TRACK_NAMES = TableContract("spotify_track_names", ("date", "track_id"),
                                    ("date", "track_id", "track_name", "artist_id", "artist_name"),
                                    min_ratio=0.0, max_ratio=float("inf"), may_be_empty=True)
