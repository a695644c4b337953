"""Spotify Web API object shapes (ArtistObject, TrackObject, ...) built from the emulator's catalog, each valid
under the spec's schema (the server checks every answer against it).

Objects are rebuilt on every request rather than cached, so a fault that edits a payload in place can
never leak into later answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spotify_ai_assets.emulator.catalog import Catalog
from spotify_ai_assets.sandbox.world import COUNTRIES, World

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
        return {**self._link("artist", self.catalog.artist_ids[i]), "name": self.catalog.artist_name(i)}

    def artist(self, i: int) -> Json:
        out = {**self.simple_artist(i), "genres": self.catalog.artist_genres(i), "images": []}
        # The 2026 development-mode API no longer returns these at all; extended quota still does.
        if self.extended:
            out["popularity"] = int(self.catalog.artist_popularity[i])
            out["followers"] = {"href": None, "total": self.catalog.artist_followers(i)}
        return out

    def simple_album(self, i: int) -> Json:
        c = self.catalog
        return {
            **self._link("album", c.album_ids[i]),
            "album_type": c.album_type(i),
            "total_tracks": len(c.tracks_by_album[i]),
            "available_markets": [],  # deprecated, still required by the schema; empty as for 2026 apps
            "images": [],
            "name": c.album_name(i),
            "release_date": c.album_release(i).isoformat(),
            "release_date_precision": "day",
            "artists": [self.simple_artist(c.album_artist(i))],
        }

    def discography_album(self, i: int, group: str) -> Json:
        return {**self.simple_album(i), "album_group": group}

    def album(self, i: int, tracks_page: Json) -> Json:
        tracks = self.catalog.tracks_by_album[i]
        return {
            **self.simple_album(i),
            "tracks": tracks_page,
            "copyrights": [],
            "external_ids": {},
            "genres": [],
            "label": "Sandbox Records",
            # Required by AlbumObject (deprecated): kept in both modes so the answer stays valid.
            "popularity": int(max(self.catalog.track_popularity(self.day)[tracks])) if self.extended else 0,
        }

    def simple_track(self, i: int) -> Json:
        c = self.catalog
        return {
            **self._link("track", c.track_ids[i]),
            "artists": [self.simple_artist(c.track_artist(i))],
            "available_markets": [],
            "disc_number": 1,
            "duration_ms": c.track_duration_ms(i),
            "explicit": False,
            "is_local": False,
            "name": c.track_name(i),
            "track_number": c.track_number(i),
        }

    def track(self, i: int) -> Json:
        out = {
            **self.simple_track(i),
            "album": self.simple_album(self.catalog.track_album(i)),
            "external_ids": {"isrc": self.catalog.track_isrc(i)},
        }
        if self.extended:
            out["popularity"] = int(self.catalog.track_popularity(self.day)[i])
            out["preview_url"] = None
        return out

    def user_ref(self, user_id: str) -> Json:
        return {**self._link("user", user_id), "display_name": display_name(user_id)}

    def private_user(self, u: int) -> Json:
        out = {**self.user_ref(self.world.user_ids[u]), "images": []}
        # Development-mode apps no longer get a user's country (deprecated in the 2026 spec).
        if self.extended:
            out["country"] = COUNTRIES[int(self.world.user_country[u])]
        return out

    def _playlist_base(self, i: int, snapshot: Json) -> Json:
        c = self.catalog
        return {
            **self._link("playlist", c.playlist_ids[i]),
            "collaborative": c.playlist_collaborative(i),
            "description": c.playlist_description(i),
            "images": [],
            "name": c.playlist_name(i),
            "owner": self.user_ref(c.playlist_owner(i)),
            "public": c.playlist_public(i),
            "snapshot_id": snapshot["snapshot_id"],
        }

    def simple_playlist(self, i: int, snapshot: Json) -> Json:
        ref = {"href": f"{self.api_url}playlists/{self.catalog.playlist_ids[i]}/items",
               "total": len(snapshot["tracks"])}
        return {**self._playlist_base(i, snapshot), "items": ref, "tracks": dict(ref)}

    def playlist(self, i: int, snapshot: Json, first_page: Callable[[], Json] | None) -> Json:
        """A PlaylistObject; its items (first page) only when the caller may read them."""
        out = self._playlist_base(i, snapshot)
        out["followers"] = {"href": None, "total": 0}
        if first_page is not None:
            out["items"] = first_page()
            out["tracks"] = first_page()
        return out

    def playlist_item(self, track: int, added: tuple[dt.date, str]) -> Json:
        day, by = added
        return {
            "added_at": f"{day.isoformat()}T00:00:00Z",
            "added_by": self._link("user", by),
            "is_local": False,
            "item": self.track(track),
            "track": self.track(track),  # deprecated key, still read by older clients
        }
