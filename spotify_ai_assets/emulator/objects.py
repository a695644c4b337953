"""Spotify Web API object shapes (ArtistObject, TrackObject, ...) built from the sandbox world.

Objects are rebuilt on every request rather than cached, so a fault that edits a payload in place can
never leak into later answers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from spotify_ai_assets.emulator.catalog import Catalog
from spotify_ai_assets.sandbox.world import COUNTRIES, GENRES, World

OPEN_URL = "https://open.spotify.com"
Json = dict[str, Any]


def display_name(user_id: str) -> str:
    return "Spotify" if user_id == "spotify" else f"Listener {user_id[4:10]}"


@dataclass(frozen=True)
class Shapes:
    """Object builders for one request: the mode and the clock's date decide what is visible."""

    world: World
    catalog: Catalog
    api_url: str
    extended: bool
    day: dt.date

    def _link(self, kind: str, ident: str) -> Json:
        return {
            "external_urls": {"spotify": f"{OPEN_URL}/{kind}/{ident}"},
            "href": f"{self.api_url}{kind}s/{ident}",
            "id": ident,
            "type": kind,
            "uri": f"spotify:{kind}:{ident}",
        }

    def simple_artist(self, i: int) -> Json:
        return {**self._link("artist", self.world.artist_ids[i]), "name": self.world.artist_name(i)}

    def artist(self, i: int) -> Json:
        out = {**self.simple_artist(i), "genres": [GENRES[int(self.world.artist_genre[i])]], "images": []}
        # The 2026 development-mode API no longer returns these at all; extended quota still does.
        if self.extended:
            out["popularity"] = int(self.catalog.artist_popularity[i])
            out["followers"] = {"href": None, "total": self.catalog.artist_followers(i)}
        return out

    def simple_album(self, i: int) -> Json:
        w = self.world
        album_type = "single" if w.album_is_single[i] else "album"
        return {
            **self._link("album", w.album_ids[i]),
            "album_type": album_type,
            "total_tracks": len(self.catalog.tracks_by_album[i]),
            "images": [],
            "name": w.album_name(i),
            "release_date": w.album_release[i].isoformat(),
            "release_date_precision": "day",
            "artists": [self.simple_artist(int(w.album_artist[i]))],
        }

    def discography_album(self, i: int) -> Json:
        out = self.simple_album(i)
        out["album_group"] = out["album_type"]
        return out

    def album(self, i: int, tracks_page: Json) -> Json:
        out = {
            **self.simple_album(i),
            "tracks": tracks_page,
            "copyrights": [],
            "external_ids": {},
            "genres": [],
            "label": "Sandbox Records",
        }
        if self.extended:
            tracks = self.catalog.tracks_by_album[i]
            out["popularity"] = int(max(self.catalog.track_popularity(self.day)[tracks]))
        return out

    def simple_track(self, i: int) -> Json:
        w = self.world
        return {
            **self._link("track", w.track_ids[i]),
            "artists": [self.simple_artist(int(w.track_artist[i]))],
            "disc_number": 1,
            "duration_ms": int(w.track_duration_ms[i]),
            "explicit": False,
            "is_local": False,
            "name": w.track_name(i),
            "track_number": int(w.track_number[i]),
        }

    def track(self, i: int) -> Json:
        out = {
            **self.simple_track(i),
            "album": self.simple_album(int(self.world.track_album[i])),
            "external_ids": {"isrc": self.world.track_isrc(i)},
        }
        if self.extended:
            out["popularity"] = int(self.catalog.track_popularity(self.day)[i])
            out["preview_url"] = None
        return out

    def user_ref(self, user_id: str) -> Json:
        return {**self._link("user", user_id), "display_name": display_name(user_id)}

    def private_user(self, u: int) -> Json:
        user_id = self.world.user_ids[u]
        return {
            **self.user_ref(user_id),
            "country": COUNTRIES[int(self.world.user_country[u])],
            "images": [],
        }

    def playlist(self, i: int, snapshot: Json) -> Json:
        w = self.world
        ident = w.playlist_ids[i]
        total = len(snapshot["tracks"])
        genre = GENRES[int(w.playlist_genre[i])]
        return {
            **self._link("playlist", ident),
            "collaborative": False,
            "description": f"The best of {genre}, refreshed every day.",
            "images": [],
            "name": w.playlist_name(i),
            "owner": self.user_ref(w.playlist_owner(i)),
            "public": True,
            "snapshot_id": snapshot["snapshot_id"],
            "items": {"href": f"{self.api_url}playlists/{ident}/items", "total": total},
            "tracks": {"href": f"{self.api_url}playlists/{ident}/tracks", "total": total},
        }

    def playlist_item(self, i: int, track: int, added: dt.date) -> Json:
        full = self.track(track)
        return {
            "added_at": f"{added.isoformat()}T00:00:00Z",
            "added_by": self._link("user", self.world.playlist_owner(i)),
            "is_local": False,
            "item": full,
            "track": full,  # deprecated key, still read by older clients
        }
