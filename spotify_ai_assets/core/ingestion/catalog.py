"""Crawl the watchlist's artists into catalog rows: artists -> albums (paged) -> tracks (paged, then full
track objects for ISRCs, in batches when the app may, one by one when it may not)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pyarrow as pa

from spotify_ai_assets.core.kernel.records import (
    Quarantined,
    parse_album,
    parse_artist,
    parse_track,
    quarantine_table,
    validate,
)
from spotify_ai_assets.core.kernel.spotify_api import NotFound, SpotifyGateway, SpotifyUnavailable

ARTISTS_SCHEMA = pa.schema([
    ("snapshot_date", pa.date32()), ("artist_id", pa.string()), ("name", pa.string()),
    ("genres", pa.list_(pa.string())), ("popularity", pa.int64()), ("followers", pa.int64()),
])
ALBUMS_SCHEMA = pa.schema([
    ("snapshot_date", pa.date32()), ("album_id", pa.string()), ("artist_id", pa.string()), ("name", pa.string()),
    ("album_type", pa.string()), ("release_date", pa.string()), ("release_day", pa.date32()),
    ("total_tracks", pa.int64()),
])
TRACKS_SCHEMA = pa.schema([
    ("snapshot_date", pa.date32()), ("track_id", pa.string()), ("album_id", pa.string()),
    ("artist_id", pa.string()), ("name", pa.string()), ("duration_ms", pa.int64()), ("track_number", pa.int64()),
    ("explicit", pa.bool_()), ("isrc", pa.string()), ("genre", pa.string()), ("popularity", pa.int64()),
])


@dataclass
class CatalogSnapshot:
    artists: pa.Table
    albums: pa.Table
    tracks: pa.Table
    quarantine: pa.Table
    notes: list[str] = field(default_factory=list)


def crawl_catalog(gw: SpotifyGateway, artist_ids: list[str], snapshot_date: dt.date) -> CatalogSnapshot:
    bad: list[Quarantined] = []
    notes: list[str] = []
    artists: list[dict] = []
    for raw in gw.artists(list(dict.fromkeys(artist_ids))):
        row = validate("spotify_artists", f"artist {raw.get('id') if isinstance(raw, dict) else '?'}", raw,
                       parse_artist, quarantine=bad)
        if row:
            artists.append(row)
    genres = {a["artist_id"]: a["genres"] for a in artists}

    albums: list[dict] = []
    track_ids: list[str] = []
    for artist in artists:
        aid = artist["artist_id"]
        try:
            for n, raw in enumerate(gw.artist_albums(aid)):
                row = validate("spotify_albums", f"artist {aid} album #{n}", raw, parse_album, aid, quarantine=bad)
                if row:
                    albums.append(row)
        except (SpotifyUnavailable, NotFound) as exc:
            # One artist's failure must not cost the others their snapshot: record it and go on.
            bad.append(Quarantined.of("spotify_albums", f"artist {aid}", "<request>", str(exc), {"artist_id": aid}))
    albums = list({a["album_id"]: a for a in albums}.values())
    for album in albums:
        try:
            for n, raw in enumerate(gw.album_tracks(album["album_id"])):
                if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                    track_ids.append(raw["id"])
                else:
                    bad.append(Quarantined.of("spotify_tracks", f"album {album['album_id']} track #{n}", "id",
                                              "missing", raw))
        except (SpotifyUnavailable, NotFound) as exc:
            bad.append(Quarantined.of("spotify_tracks", f"album {album['album_id']}", "<request>", str(exc),
                                      {"album_id": album["album_id"]}))

    tracks: list[dict] = []
    for raw in gw.tracks(list(dict.fromkeys(track_ids))):
        row = validate("spotify_tracks", f"track {raw.get('id') if isinstance(raw, dict) else '?'}", raw,
                       parse_track, genres, quarantine=bad)
        if row:
            tracks.append(row)
    if gw.batch_available is False:
        notes.append("batch endpoints refused (development-mode app): fetched tracks one by one")

    def table(rows: list[dict], schema: pa.Schema) -> pa.Table:
        return pa.Table.from_pylist([{"snapshot_date": snapshot_date, **r} for r in rows], schema=schema)

    return CatalogSnapshot(
        artists=table(artists, ARTISTS_SCHEMA),
        albums=table(albums, ALBUMS_SCHEMA),
        tracks=table(list({t["track_id"]: t for t in tracks}.values()), TRACKS_SCHEMA),
        quarantine=quarantine_table(bad),
        notes=notes,
    )
