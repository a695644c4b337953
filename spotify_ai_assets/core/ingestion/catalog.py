"""Crawl the watchlist's artists into catalog rows: artists -> their discography (paged, the album groups asked
for) -> each album's tracks (paged) -> full track objects for ISRCs (in batches when the app may, one by one
when it may not).

Failures stay local. An artist whose own record or discography cannot be read after the retries is quarantined
whole (a partial discography would look complete); an album whose track list cannot be read is named; a track that
cannot be read is quarantined. Everything else lands, and `missing` says what did not and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
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
from spotify_ai_assets.core.kernel.spotify_api import ALBUM_GROUPS, RunWideFailure, SpotifyApiError, SpotifyGateway

# What a catalog snapshot includes unless configured otherwise: an artist's own releases, compilations included;
# `appears_on` (other artists' albums with a track of theirs) only when asked for.
DEFAULT_INCLUDE_GROUPS = ("album", "single", "compilation")

ARTISTS_SCHEMA = pa.schema([
    ("snapshot_date", pa.date32()), ("artist_id", pa.string()), ("name", pa.string()),
    ("genres", pa.list_(pa.string())), ("popularity", pa.int64()), ("followers", pa.int64()),
])
ALBUMS_SCHEMA = pa.schema([
    ("snapshot_date", pa.date32()), ("album_id", pa.string()), ("artist_id", pa.string()), ("name", pa.string()),
    ("album_type", pa.string()), ("release_date", pa.string()), ("release_day", pa.date32()),
    ("total_tracks", pa.int64()), ("album_group", pa.string()),
])
TRACKS_SCHEMA = pa.schema([
    ("snapshot_date", pa.date32()), ("track_id", pa.string()), ("album_id", pa.string()),
    ("artist_id", pa.string()), ("name", pa.string()), ("duration_ms", pa.int64()), ("track_number", pa.int64()),
    ("explicit", pa.bool_()), ("isrc", pa.string()), ("genre", pa.string()), ("popularity", pa.int64()),
])


def include_groups(groups: Sequence[str] | None) -> tuple[str, ...]:
    """The album groups to crawl, checked: a subset of album, single, compilation, appears_on, in that order."""
    if groups is None:
        return DEFAULT_INCLUDE_GROUPS
    unknown = [g for g in groups if g not in ALBUM_GROUPS]
    if unknown or not groups:
        raise ValueError(f"include_groups {list(groups)!r}: expected a non-empty subset of {', '.join(ALBUM_GROUPS)}")
    return tuple(g for g in ALBUM_GROUPS if g in groups)


@dataclass
class CatalogSnapshot:
    artists: pa.Table
    albums: pa.Table
    tracks: pa.Table
    quarantine: pa.Table
    include_groups: tuple[str, ...]
    # What could not be read, by kind ("artists", "albums", "tracks"): id -> reason.
    missing: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def crawl_catalog(gw: SpotifyGateway, artist_ids: list[str], snapshot_date: dt.date,
                  groups: Sequence[str] | None = None) -> CatalogSnapshot:
    wanted = include_groups(groups)
    bad: list[Quarantined] = []
    missing: dict[str, dict[str, str]] = {"artists": {}, "albums": {}, "tracks": {}}

    found, failed = gw.artists(artist_ids)
    for aid, reason in failed.items():
        missing["artists"][aid] = reason
        bad.append(Quarantined.of("spotify_artists", f"artist {aid}", "<request>", reason, {"artist_id": aid}))
    artists: list[dict] = []
    for aid in dict.fromkeys(artist_ids):
        if aid in found:
            row = validate("spotify_artists", f"artist {aid}", found[aid], parse_artist, quarantine=bad)
            if row:
                artists.append(row)
            else:
                missing["artists"][aid] = "invalid artist record (see quarantine)"

    albums: dict[str, dict] = {}
    kept_artists: list[dict] = []
    for artist in artists:
        aid = artist["artist_id"]
        try:
            listed = list(gw.artist_albums(aid, wanted))
        except RunWideFailure:
            raise
        except SpotifyApiError as exc:
            reason = f"discography unreadable: {exc}"
            missing["artists"][aid] = reason
            bad.append(Quarantined.of("spotify_artists", f"artist {aid}", "<request>", reason, {"artist_id": aid}))
            continue
        kept_artists.append(artist)
        for n, raw in enumerate(listed):
            row = validate("spotify_albums", f"artist {aid} album #{n}", raw, parse_album, aid, quarantine=bad)
            if not row:
                continue
            row["album_group"] = raw.get("album_group") if isinstance(raw.get("album_group"), str) else None
            # An album listed by several watched artists is kept once, under its own artist when it is theirs
            # (an `appears_on` listing yields to the album's own artist's).
            prior = albums.get(row["album_id"])
            if prior is None or (prior.get("album_group") == "appears_on" and row["album_group"] != "appears_on"):
                albums[row["album_id"]] = row

    track_ids: list[str] = []
    for album_id in albums:
        try:
            listed = list(gw.album_tracks(album_id))
        except RunWideFailure:
            raise
        except SpotifyApiError as exc:
            reason = f"track list unreadable: {exc}"
            missing["albums"][album_id] = reason
            bad.append(Quarantined.of("spotify_albums", f"album {album_id}", "<request>", reason,
                                      {"album_id": album_id}))
            continue
        for n, raw in enumerate(listed):
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                track_ids.append(raw["id"])
            else:
                bad.append(Quarantined.of("spotify_tracks", f"album {album_id} track #{n}", "id", "missing", raw))

    genres = {a["artist_id"]: a["genres"] for a in kept_artists}
    full, failed_tracks = gw.tracks(track_ids)
    for tid, reason in failed_tracks.items():
        missing["tracks"][tid] = reason
        bad.append(Quarantined.of("spotify_tracks", f"track {tid}", "<request>", reason, {"track_id": tid}))
    tracks: dict[str, dict] = {}
    for tid in dict.fromkeys(track_ids):
        if tid in full:
            row = validate("spotify_tracks", f"track {tid}", full[tid], parse_track, genres, quarantine=bad)
            if row:
                tracks[row["track_id"]] = row
            else:
                missing["tracks"][tid] = "invalid track record (see quarantine)"

    notes = []
    if gw.batch_available is False:
        notes.append("batch endpoints refused (development-mode app): fetched artists and tracks one by one")

    def table(rows: list[dict], schema: pa.Schema) -> pa.Table:
        return pa.Table.from_pylist([{"snapshot_date": snapshot_date, **r} for r in rows], schema=schema)

    return CatalogSnapshot(
        artists=table(kept_artists, ARTISTS_SCHEMA),
        albums=table(list(albums.values()), ALBUMS_SCHEMA),
        tracks=table(list(tracks.values()), TRACKS_SCHEMA),
        quarantine=quarantine_table(bad),
        include_groups=wanted,
        missing={kind: ids for kind, ids in missing.items() if ids},
        notes=notes,
    )
