"""Lookups over the sandbox world that the endpoints need: id -> index maps, discographies, popularity.

Built lazily, once per emulator, so starting a server costs nothing until the first request.
"""

from __future__ import annotations

import datetime as dt
import threading
from functools import cached_property

import numpy as np

from spotify_ai_assets.sandbox.world import World


def _index(ids: list[str]) -> dict[str, int]:
    return {value: i for i, value in enumerate(ids)}


def _popularity(weights: np.ndarray) -> np.ndarray:
    """0-100 from rank: the heaviest item scores 100, the lightest close to 0, like Spotify's scale."""
    n = len(weights)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(-weights, kind="stable")] = np.arange(n)
    return np.round(100 * (n - rank) / max(n, 1)).astype(np.int64)


class Catalog:
    def __init__(self, world: World):
        self.world = world
        self._lock = threading.Lock()
        self._track_popularity: dict[dt.date, np.ndarray] = {}
        self._playlists: dict[tuple[int, dt.date], dict] = {}

    @cached_property
    def artist_index(self) -> dict[str, int]:
        return _index(self.world.artist_ids)

    @cached_property
    def album_index(self) -> dict[str, int]:
        return _index(self.world.album_ids)

    @cached_property
    def track_index(self) -> dict[str, int]:
        return _index(self.world.track_ids)

    @cached_property
    def playlist_index(self) -> dict[str, int]:
        return _index(self.world.playlist_ids)

    @cached_property
    def user_index(self) -> dict[str, int]:
        return _index(self.world.user_ids)

    @cached_property
    def refresh_tokens(self) -> dict[str, int]:
        """Only connected users granted the app a refresh token."""
        return {self.world.refresh_token(int(u)): int(u) for u in self.world.connected_users}

    @cached_property
    def albums_by_artist(self) -> list[list[int]]:
        """Each artist's album indices, newest release first; same-day releases by descending index so the
        order never depends on dict or sort stability."""
        out: list[list[int]] = [[] for _ in self.world.artist_ids]
        for album, artist in enumerate(self.world.album_artist):
            out[int(artist)].append(album)
        release = self.world.album_release
        return [sorted(albums, key=lambda a: (release[a], a), reverse=True) for albums in out]

    @cached_property
    def tracks_by_album(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.world.album_ids]
        for track, album in enumerate(self.world.track_album):
            out[int(album)].append(track)
        return out

    @cached_property
    def artist_popularity(self) -> np.ndarray:
        return _popularity(self.world.artist_weight)

    def track_popularity(self, day: dt.date) -> np.ndarray:
        """Popularity follows the day's listening weights, so breakouts climb and new releases debut."""
        with self._lock:
            if day not in self._track_popularity:
                self._track_popularity[day] = _popularity(self.world.track_weights(day))
            return self._track_popularity[day]

    def playlist_snapshot(self, playlist: int, day: dt.date) -> dict:
        """Cached because every page of a playlist's items needs it and it replays a month of edits."""
        with self._lock:
            key = (playlist, day)
            if key not in self._playlists:
                self._playlists[key] = self.world.playlist_snapshot(playlist, day)
            return self._playlists[key]

    @cached_property
    def lower_names(self) -> dict[str, list[str]]:
        """Lower-cased names per searchable type, for substring search."""
        w = self.world
        return {
            "artist": [w.artist_name(i).lower() for i in range(len(w.artist_ids))],
            "album": [w.album_name(i).lower() for i in range(len(w.album_ids))],
            "track": [w.track_name(i).lower() for i in range(len(w.track_ids))],
        }

    def artist_followers(self, artist: int) -> int:
        return round(float(self.world.artist_weight[artist]) * 40_000)

    def album_released(self, album: int, day: dt.date) -> bool:
        return self.world.album_release[album] <= day

    def track_released(self, track: int, day: dt.date) -> bool:
        return self.album_released(int(self.world.track_album[track]), day)
