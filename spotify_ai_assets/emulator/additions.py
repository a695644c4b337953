"""What the emulator serves on top of the sandbox world, so the client meets the catalog shapes real Spotify has and
the synthetic world does not generate: compilations, albums an artist only appears on, a playlist of 137 items
(several pages of 50) and a collaborative playlist of 12 items that only a collaborator can read.

All of it is a pure function of the world (seed and scale) and never touches listening: compilation tracks are new
track objects of recordings the world already has (same ISRC, "(Remastered)"), so the world's events, trends and
models are unchanged. The additions are appended after the world's own ids, so world indices keep their meaning.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from spotify_ai_assets.sandbox.ids import spotify_id
from spotify_ai_assets.sandbox.world import EPOCH, World

VARIOUS_ARTISTS = "Various Artists"
LARGE_PLAYLIST_SIZE = 137
COLLABORATIVE_PLAYLIST_SIZE = 12


@dataclass(frozen=True)
class ExtraAlbum:
    album_id: str
    name: str
    artist: int | None  # world artist index; None for a "Various Artists" compilation
    release: dt.date
    recordings: tuple[int, ...]  # world track indices whose recordings the album's tracks are


@dataclass(frozen=True)
class ExtraPlaylist:
    playlist_id: str
    name: str
    owner: str  # a Spotify user id
    collaborators: tuple[str, ...]
    public: bool
    collaborative: bool
    tracks: tuple[int, ...]  # world track indices, in position order
    added: tuple[tuple[dt.date, str], ...]  # (added day, added-by user id) per position


class Additions:
    def __init__(self, world: World):
        self.world = world

    @cached_property
    def _released_before_epoch(self) -> np.ndarray:
        return np.flatnonzero(self.world.track_release_ordinal < EPOCH.toordinal())

    @cached_property
    def albums(self) -> list[ExtraAlbum]:
        """A "best of" compilation for every other artist by listening weight (so half of the sandbox's watched
        artists have one), plus two Various Artists compilations of the biggest artists' tracks: one from 2025 and
        one released during 2026, which the artists "appear on"."""
        w, seed = self.world, self.world.seed
        early = set(self._released_before_epoch.tolist())
        out: list[ExtraAlbum] = []
        for rank, artist in enumerate(np.argsort(-w.artist_weight, kind="stable")):
            if rank % 2:
                continue
            own = [int(t) for t in np.flatnonzero(w.track_artist == artist) if int(t) in early]
            if len(own) < 2:
                continue
            best = sorted(own, key=lambda t: (-w.track_base_weight[t], t))[:6]
            release = EPOCH - dt.timedelta(days=30 + int(artist) % 200)
            out.append(ExtraAlbum(spotify_id("compilation", seed, int(artist)), f"The Best of {w.artist_name(artist)}",
                                  int(artist), release, tuple(best)))
        top_artists = [int(a) for a in np.argsort(-w.artist_weight, kind="stable")[:16]]
        for volume, (release, chosen) in enumerate(((EPOCH - dt.timedelta(days=60), top_artists[0::2]),
                                                    (EPOCH + dt.timedelta(days=10), top_artists[1::2])), start=1):
            tracks = []
            for artist in chosen:
                own = [int(t) for t in np.flatnonzero(w.track_artist == artist) if int(t) in early]
                if own:
                    tracks.append(max(own, key=lambda t: (w.track_base_weight[t], -t)))
            if tracks:
                out.append(ExtraAlbum(spotify_id("various-artists-album", seed, volume),
                                      f"Sandbox Hits Vol. {volume}", None, release, tuple(tracks)))
        return out

    @cached_property
    def various_artists_id(self) -> str:
        return spotify_id("various-artists", self.world.seed, 0)

    @cached_property
    def playlists(self) -> list[ExtraPlaylist]:
        """A private playlist of 137 items owned by the first connected user, and a private collaborative one of 12
        items owned by a user who never connected, with the second connected user as its collaborator."""
        w, seed = self.world, self.world.seed
        connected = [w.user_ids[int(u)] for u in w.connected_users]
        if len(connected) < 2:
            return []
        rng = np.random.default_rng([seed, 41])
        pool = self._released_before_epoch
        large = rng.choice(pool, size=LARGE_PLAYLIST_SIZE, replace=len(pool) < LARGE_PLAYLIST_SIZE)
        small = rng.choice(pool, size=COLLABORATIVE_PLAYLIST_SIZE, replace=len(pool) < COLLABORATIVE_PLAYLIST_SIZE)
        connected_set = {int(u) for u in w.connected_users}
        stranger = w.user_ids[next(u for u in range(len(w.user_ids)) if u not in connected_set)]
        owner, collaborator = connected[0], connected[1]

        def added(n: int, by: tuple[str, ...]) -> tuple[tuple[dt.date, str], ...]:
            return tuple((EPOCH - dt.timedelta(days=n - k), by[k % len(by)]) for k in range(n))

        return [
            ExtraPlaylist(spotify_id("playlist-large", seed, 0), "Everything I Like", owner, (), False, False,
                          tuple(int(t) for t in large), added(LARGE_PLAYLIST_SIZE, (owner,))),
            ExtraPlaylist(spotify_id("playlist-collaborative", seed, 0), "Road Trip (shared)", stranger,
                          (collaborator,), False, True, tuple(int(t) for t in small),
                          added(COLLABORATIVE_PLAYLIST_SIZE, (stranger, collaborator))),
        ]


def sandbox_watchlist(world: World) -> dict[str, list[str]]:
    """The sandbox's default watchlist: the world's (top and breakout artists, every playlist) plus the emulator's
    own playlists (137 items, and the collaborative one)."""
    w = world.watchlist()
    return {"artists": w["artists"], "playlists": w["playlists"] + [p.playlist_id for p in Additions(world).playlists]}
