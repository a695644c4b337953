"""What the emulator holds, read straight from its catalog (no HTTP): the truth a complete, correct client must
land. Tests compare the lake with it; nothing here is used to answer requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from spotify_ai_assets.emulator.catalog import Catalog
from spotify_ai_assets.emulator.plays import PlayHistory


@dataclass(frozen=True)
class CatalogTruth:
    artists: frozenset[str]
    albums: dict[str, str]  # album id -> the watched artist whose discography lists it (its own artist first)
    tracks: frozenset[str]


def catalog_truth(catalog: Catalog, artist_ids: Iterable[str], day: dt.date, groups: Iterable[str]) -> CatalogTruth:
    wanted = set(groups)
    artists, albums, tracks = set(), {}, set()
    for ident in artist_ids:
        artist = catalog.artist_index.get(ident)
        if artist is None:
            continue
        artists.add(ident)
        for album, group in catalog.discography(artist):
            if group not in wanted or not catalog.album_released(album, day):
                continue
            album_id = catalog.album_ids[album]
            if group == "appears_on":
                albums.setdefault(album_id, ident)  # an album's own artist, when watched, takes precedence
            else:
                albums[album_id] = ident
            tracks.update(catalog.track_ids[t] for t in catalog.tracks_by_album[album])
    return CatalogTruth(frozenset(artists), albums, frozenset(tracks))


def playlist_items(catalog: Catalog, playlist_id: str, day: dt.date) -> list[str]:
    """The playlist's track ids in position order as of `day`."""
    snapshot = catalog.playlist_snapshot(catalog.playlist_index[playlist_id], day)
    return [catalog.track_ids[t] for t in snapshot["tracks"]]


def readable_playlists(catalog: Catalog, playlist_ids: Iterable[str], users: Iterable[str], extended: bool
                       ) -> set[str]:
    """Tracked playlists some connected user (owner or collaborator) may read, or, for an extended-quota app,
    any public one."""
    users = set(users)
    out = set()
    for pid in playlist_ids:
        i = catalog.playlist_index[pid]
        if any(catalog.can_read_items(i, u) for u in users) or (extended and catalog.playlist_public(i)):
            out.add(pid)
    return out


def plays_of_day(plays: PlayHistory, catalog: Catalog, user: int, clock: dt.datetime, extended: bool,
                 day: dt.date) -> set[tuple[str, int]]:
    """(track id, played_at ms) of every play of `day` the API shows for the user at `clock` (a development-mode
    app sees only the latest 50)."""
    start = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 1000)
    played, tracks = plays.visible(user, clock, extended)
    return {(catalog.track_ids[int(t)], int(ms)) for ms, t in zip(played, tracks, strict=True)
            if start <= int(ms) < start + 86_400_000}
