"""Everything the emulator can serve, as integer-indexed lookups: the sandbox world plus its additions
(compilations, appears-on albums, extra playlists; see additions.py), appended after the world's own indices.

Built lazily, once per emulator, so starting a server costs nothing until the first request.
"""

from __future__ import annotations

import datetime as dt
import threading
from functools import cached_property

import numpy as np

from spotify_ai_assets.emulator.additions import VARIOUS_ARTISTS, Additions
from spotify_ai_assets.sandbox.ids import snapshot_id, spotify_id
from spotify_ai_assets.sandbox.world import GENRES, World

# The order Spotify lists an artist's discography in: by group, newest release first within a group.
GROUP_ORDER = ("album", "single", "compilation", "appears_on")


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
        self.additions = Additions(world)
        self._lock = threading.Lock()
        self._track_popularity: dict[dt.date, np.ndarray] = {}
        self._playlists: dict[tuple[int, dt.date], dict] = {}

    # ---- sizes of the world part -------------------------------------------------------------------------
    @property
    def _n_artists(self) -> int:
        return len(self.world.artist_ids)

    @property
    def _n_albums(self) -> int:
        return len(self.world.album_ids)

    @property
    def _n_tracks(self) -> int:
        return len(self.world.track_ids)

    @property
    def _n_playlists(self) -> int:
        return len(self.world.playlist_ids)

    # ---- artists -----------------------------------------------------------------------------------------
    @cached_property
    def artist_ids(self) -> list[str]:
        return [*self.world.artist_ids, self.additions.various_artists_id]

    @cached_property
    def artist_index(self) -> dict[str, int]:
        return _index(self.artist_ids)

    def artist_name(self, i: int) -> str:
        return VARIOUS_ARTISTS if i == self._n_artists else self.world.artist_name(i)

    def artist_genres(self, i: int) -> list[str]:
        return [] if i == self._n_artists else [GENRES[int(self.world.artist_genre[i])]]

    @cached_property
    def artist_popularity(self) -> np.ndarray:
        return np.append(_popularity(self.world.artist_weight), 0)

    def artist_followers(self, i: int) -> int:
        return 0 if i == self._n_artists else round(float(self.world.artist_weight[i]) * 40_000)

    # ---- albums ------------------------------------------------------------------------------------------
    @cached_property
    def album_ids(self) -> list[str]:
        return [*self.world.album_ids, *(a.album_id for a in self.additions.albums)]

    @cached_property
    def album_index(self) -> dict[str, int]:
        return _index(self.album_ids)

    def _extra_album(self, i: int):
        return self.additions.albums[i - self._n_albums]

    def album_artist(self, i: int) -> int:
        if i < self._n_albums:
            return int(self.world.album_artist[i])
        artist = self._extra_album(i).artist
        return self._n_artists if artist is None else artist

    def album_type(self, i: int) -> str:
        if i < self._n_albums:
            return "single" if self.world.album_is_single[i] else "album"
        return "compilation"

    def album_name(self, i: int) -> str:
        return self.world.album_name(i) if i < self._n_albums else self._extra_album(i).name

    def album_release(self, i: int) -> dt.date:
        return self.world.album_release[i] if i < self._n_albums else self._extra_album(i).release

    def album_released(self, album: int, day: dt.date) -> bool:
        return self.album_release(album) <= day

    @cached_property
    def tracks_by_album(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.album_ids]
        for track, album in enumerate(self.world.track_album):
            out[int(album)].append(track)
        t = self._n_tracks
        for k, album in enumerate(self.additions.albums):
            out[self._n_albums + k] = list(range(t, t + len(album.recordings)))
            t += len(album.recordings)
        return out

    @cached_property
    def albums_by_artist(self) -> list[list[int]]:
        """Each world artist's own albums and singles, newest release first (ties: higher index first)."""
        out: list[list[int]] = [[] for _ in self.world.artist_ids]
        for album, artist in enumerate(self.world.album_artist):
            out[int(artist)].append(album)
        release = self.world.album_release
        return [sorted(albums, key=lambda a: (release[a], a), reverse=True) for albums in out]

    @cached_property
    def _discographies(self) -> list[list[tuple[int, str]]]:
        out: list[list[tuple[int, str]]] = [
            [(a, self.album_type(a)) for a in albums] for albums in self.albums_by_artist]
        out.append([])  # Various Artists: its compilations, below
        for k, album in enumerate(self.additions.albums):
            index = self._n_albums + k
            if album.artist is not None:
                out[album.artist].append((index, "compilation"))
                continue
            out[self._n_artists].append((index, "compilation"))
            for artist in dict.fromkeys(int(self.world.track_artist[t]) for t in album.recordings):
                out[artist].append((index, "appears_on"))
        for entries in out:
            entries.sort(key=lambda e: (GROUP_ORDER.index(e[1]), -self.album_release(e[0]).toordinal(), -e[0]))
        return out

    def discography(self, artist: int) -> list[tuple[int, str]]:
        """(album index, album_group) of everything an artist's discography lists, in Spotify's order."""
        return self._discographies[artist]

    # ---- tracks ------------------------------------------------------------------------------------------
    @cached_property
    def _extra_tracks(self) -> list[tuple[int, int, int]]:
        """(album index, track number, recording's world track index) for every compilation track."""
        out = []
        for k, album in enumerate(self.additions.albums):
            out.extend((self._n_albums + k, n, t) for n, t in enumerate(album.recordings, start=1))
        return out

    @cached_property
    def track_ids(self) -> list[str]:
        seed = self.world.seed
        extra = (spotify_id("compilation-track", seed, k) for k in range(len(self._extra_tracks)))
        return [*self.world.track_ids, *extra]

    @cached_property
    def track_index(self) -> dict[str, int]:
        return _index(self.track_ids)

    def recording(self, t: int) -> int:
        """The world track whose recording track `t` is (itself for a world track)."""
        return t if t < self._n_tracks else self._extra_tracks[t - self._n_tracks][2]

    def track_album(self, t: int) -> int:
        return int(self.world.track_album[t]) if t < self._n_tracks else self._extra_tracks[t - self._n_tracks][0]

    def track_artist(self, t: int) -> int:
        return int(self.world.track_artist[self.recording(t)])

    def track_name(self, t: int) -> str:
        name = self.world.track_name(self.recording(t))
        return name if t < self._n_tracks else f"{name} (Remastered)"

    def track_number(self, t: int) -> int:
        return int(self.world.track_number[t]) if t < self._n_tracks else self._extra_tracks[t - self._n_tracks][1]

    def track_duration_ms(self, t: int) -> int:
        return int(self.world.track_duration_ms[self.recording(t)])

    def track_isrc(self, t: int) -> str:
        return self.world.track_isrc(self.recording(t))  # a compilation reissues the same recording

    def track_released(self, track: int, day: dt.date) -> bool:
        return self.album_released(self.track_album(track), day)

    def track_popularity(self, day: dt.date) -> np.ndarray:
        """Popularity follows the day's listening weights, so breakouts climb and new releases debut; a
        compilation track scores like its recording."""
        with self._lock:
            if day not in self._track_popularity:
                world = _popularity(self.world.track_weights(day))
                extra = world[[t for _, _, t in self._extra_tracks]] if self._extra_tracks else []
                self._track_popularity[day] = np.append(world, extra).astype(np.int64)
            return self._track_popularity[day]

    # ---- playlists ---------------------------------------------------------------------------------------
    @cached_property
    def playlist_ids(self) -> list[str]:
        return [*self.world.playlist_ids, *(p.playlist_id for p in self.additions.playlists)]

    @cached_property
    def playlist_index(self) -> dict[str, int]:
        return _index(self.playlist_ids)

    def _extra_playlist(self, i: int):
        return self.additions.playlists[i - self._n_playlists]

    def playlist_owner(self, i: int) -> str:
        return self.world.playlist_owner(i) if i < self._n_playlists else self._extra_playlist(i).owner

    def playlist_collaborators(self, i: int) -> tuple[str, ...]:
        return () if i < self._n_playlists else self._extra_playlist(i).collaborators

    def playlist_public(self, i: int) -> bool:
        return True if i < self._n_playlists else self._extra_playlist(i).public

    def playlist_collaborative(self, i: int) -> bool:
        return False if i < self._n_playlists else self._extra_playlist(i).collaborative

    def playlist_name(self, i: int) -> str:
        return self.world.playlist_name(i) if i < self._n_playlists else self._extra_playlist(i).name

    def playlist_description(self, i: int) -> str:
        if i < self._n_playlists:
            return f"The best of {GENRES[int(self.world.playlist_genre[i])]}, refreshed every day."
        return "A listener's own playlist."

    def can_read_items(self, i: int, user_id: str | None) -> bool:
        """Owner or collaborator: who the 2026 spec lets read a playlist's items."""
        return user_id is not None and (user_id == self.playlist_owner(i) or user_id in self.playlist_collaborators(i))

    def playlists_of(self, user_id: str) -> list[int]:
        """What `GET /me/playlists` lists for a user: playlists they own or collaborate on."""
        return [i for i in range(len(self.playlist_ids)) if self.can_read_items(i, user_id)]

    def playlist_snapshot(self, playlist: int, day: dt.date) -> dict:
        """{"tracks": track indices by position, "added": (day, added-by user id) by position, "snapshot_id"}.
        Cached because every page of a playlist's items needs it and a world playlist replays a month of edits."""
        with self._lock:
            key = (playlist, day)
            if key not in self._playlists:
                if playlist < self._n_playlists:
                    snap = self.world.playlist_snapshot(playlist, day)
                    owner = self.world.playlist_owner(playlist)
                    snap = {"tracks": snap["tracks"], "snapshot_id": snap["snapshot_id"],
                            "added": [(snap["added"][t], owner) for t in snap["tracks"]]}
                else:
                    extra = self._extra_playlist(playlist)
                    tracks = list(extra.tracks)
                    snap = {"tracks": tracks, "added": list(extra.added),
                            "snapshot_id": snapshot_id(extra.playlist_id, [self.track_ids[t] for t in tracks])}
                self._playlists[key] = snap
            return self._playlists[key]

    # ---- users and search --------------------------------------------------------------------------------
    @cached_property
    def user_index(self) -> dict[str, int]:
        return _index(self.world.user_ids)

    @cached_property
    def refresh_tokens(self) -> dict[str, int]:
        """Only connected users granted the app a refresh token."""
        return {self.world.refresh_token(int(u)): int(u) for u in self.world.connected_users}

    @cached_property
    def lower_names(self) -> dict[str, list[str]]:
        """Lower-cased names per searchable type, for substring search."""
        return {
            "artist": [self.artist_name(i).lower() for i in range(len(self.artist_ids))],
            "album": [self.album_name(i).lower() for i in range(len(self.album_ids))],
            "track": [self.track_name(i).lower() for i in range(len(self.track_ids))],
        }
