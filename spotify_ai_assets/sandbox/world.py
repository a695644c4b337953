"""A deterministic synthetic Spotify world: catalog, users with hidden tastes, playlists, breakouts.

Everything is a pure function of (seed, scale): two processes that build the same world agree on every
id, weight and event. Listening events are generated one hour at a time (see `events.py`), so a day of
any size never has to sit in memory at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from spotify_ai_assets.sandbox.ids import isrc, snapshot_id, spotify_id

GENRES = (
    "pop", "rock", "hip-hop", "electronic", "indie", "jazz",
    "classical", "r-n-b", "latin", "metal", "folk", "k-pop",
)
COUNTRIES = ("US", "GB", "DE", "FR", "BR", "MX", "SE", "JP", "ES", "IT", "NL", "CA")
COUNTRY_WEIGHTS = (0.24, 0.1, 0.1, 0.09, 0.1, 0.07, 0.04, 0.06, 0.06, 0.05, 0.04, 0.05)
DEVICES = ("smartphone", "computer", "speaker", "tv", "car")
# Monday..Sunday: more listening at the end of the week, a dip early in the week.
WEEKLY = np.array([0.93, 0.94, 0.96, 0.99, 1.06, 1.13, 0.99])
# Share of a day's plays per UTC hour: quiet night, commute bumps, evening peak.
DIURNAL = np.array([1.2, 0.8, 0.5, 0.4, 0.4, 0.6, 1.2, 2.2, 3.0, 2.6, 2.4, 2.6,
                    3.0, 3.0, 3.0, 3.1, 3.4, 4.0, 4.6, 5.0, 5.0, 4.4, 3.2, 2.0])
DIURNAL = DIURNAL / DIURNAL.sum()
EPOCH = dt.date(2026, 1, 1)
ADJECTIVES = ("Midnight", "Golden", "Electric", "Silent", "Velvet", "Neon", "Broken", "Wild", "Paper", "Crystal")
NOUNS = ("Echoes", "Rivers", "Signals", "Hearts", "Cities", "Dreams", "Lights", "Shadows", "Waves", "Roads")
# The id lists a World makes on first use (cached properties), named for whoever makes them ahead (the fork server).
ID_LISTS = ("artist_ids", "album_ids", "track_ids", "user_ids", "playlist_ids")


@dataclass(frozen=True)
class Scale:
    n_artists: int
    albums_per_artist: int
    tracks_per_album: int
    n_users: int
    events_per_day: int
    n_connected_users: int
    n_playlists: int


SCALES: dict[str, Scale] = {
    "tiny": Scale(24, 3, 5, 150, 3_000, 3, 4),
    "small": Scale(120, 4, 8, 2_000, 40_000, 5, 8),
    "medium": Scale(600, 5, 9, 50_000, 1_000_000, 5, 10),
    "bench": Scale(3_000, 5, 10, 500_000, 11_500_000, 5, 12),
}


@dataclass(frozen=True)
class Breakout:
    kind: str  # "track" or "artist"
    id: str
    name: str
    rise_start: dt.date
    peak_multiplier: float
    ramp_days: int


class World:
    """The synthetic world. Arrays are indexed by integer ids; string ids are derived on demand."""

    def __init__(self, seed: int = 7, scale: str | Scale = "small", events_per_day: int | None = None,
                 dispersion: float | None = None):
        self.seed = seed
        # Real listeners move together (a playlist placement, a share, an algorithmic surface): with `dispersion` r,
        # every track's weight is multiplied each day by its own gamma draw of mean 1 and variance 1/r, so its daily
        # listeners are overdispersed (variance about mu + mu^2 / r). None (the default) keeps the Poisson-like world
        # every snapshot was taken from; the draws come from their own generator and leave every other one as it is.
        self.dispersion = dispersion
        self.scale = SCALES[scale] if isinstance(scale, str) else scale
        self.scale_name = scale if isinstance(scale, str) else "custom"
        self.events_per_day = events_per_day or self.scale.events_per_day
        rng = np.random.default_rng([seed, 1])
        s = self.scale
        n_genres = len(GENRES)

        self.artist_genre = rng.integers(0, n_genres, s.n_artists)
        # Long tail: a few artists carry most of the listening.
        self.artist_weight = rng.pareto(1.3, s.n_artists) + 0.05

        albums_per = np.maximum(1, rng.poisson(s.albums_per_artist, s.n_artists))
        # Prolific artists (the top 5% by weight) have long discographies, as real ones do; their album
        # lists span several API pages.
        prolific = np.argsort(-self.artist_weight)[: max(1, s.n_artists // 20)]
        albums_per[prolific] = s.albums_per_artist * 4 + 6
        self.album_artist = np.repeat(np.arange(s.n_artists), albums_per)
        n_albums = len(self.album_artist)
        # Back catalogue up to 6 years old; about one album in eight is released during 2026, so new
        # releases keep appearing as the days go by.
        offsets = np.where(rng.random(n_albums) < 0.12, rng.integers(0, 330, n_albums),
                           -rng.integers(1, 6 * 365, n_albums))
        self.album_release = np.array([EPOCH + dt.timedelta(days=int(o)) for o in offsets])
        self.album_is_single = rng.random(n_albums) < 0.3
        tracks_per = np.where(self.album_is_single, 1, np.maximum(2, rng.poisson(s.tracks_per_album, n_albums)))
        self.track_album = np.repeat(np.arange(n_albums), tracks_per)
        n_tracks = len(self.track_album)
        self.track_number = np.concatenate([np.arange(1, k + 1) for k in tracks_per])
        self.track_artist = self.album_artist[self.track_album]
        self.track_genre = self.artist_genre[self.track_artist]
        self.track_duration_ms = rng.integers(95_000, 330_000, n_tracks)
        self.track_base_weight = self.artist_weight[self.track_artist] * (rng.pareto(1.6, n_tracks) + 0.02)
        self.track_release_ordinal = np.array([d.toordinal() for d in self.album_release])[self.track_album]
        # Truth for the audio issue: each track's real tempo and key.
        self.track_tempo = np.round(rng.uniform(72, 168, n_tracks), 1)
        self.track_key = rng.integers(0, 12, n_tracks)
        self.track_mode = (rng.random(n_tracks) < 0.6).astype(np.int8)

        self.user_country = rng.choice(len(COUNTRIES), s.n_users, p=np.array(COUNTRY_WEIGHTS) / sum(COUNTRY_WEIGHTS))
        # A long tail of activity, capped at about six times the mean: an uncapped lognormal gives a few users in a
        # large world more than a day's worth of plays.
        self.user_activity = np.minimum(rng.lognormal(0.0, 0.9, s.n_users), 9.5)
        # Hidden tastes: most users love two or three genres and ignore the rest.
        self.user_taste = rng.dirichlet(np.full(n_genres, 0.35), s.n_users)
        self.user_device = rng.integers(0, len(DEVICES), s.n_users)
        self.user_skip_bias = rng.normal(0.0, 0.5, s.n_users)
        self.connected_users = np.argsort(-self.user_activity, kind="stable")[: s.n_connected_users]

        self.breakouts = self._plant_breakouts(rng)
        self.playlist_genre = rng.integers(0, n_genres, s.n_playlists)

    # ---- identifiers -------------------------------------------------------------------------
    @cached_property
    def artist_ids(self) -> list[str]:
        return [spotify_id("artist", self.seed, i) for i in range(self.scale.n_artists)]

    @cached_property
    def album_ids(self) -> list[str]:
        return [spotify_id("album", self.seed, i) for i in range(len(self.album_artist))]

    @cached_property
    def track_ids(self) -> list[str]:
        return [spotify_id("track", self.seed, i) for i in range(len(self.track_album))]

    @cached_property
    def user_ids(self) -> list[str]:
        # Spotify user ids are free-form; ours look like usernames with a stable suffix.
        return [f"user{spotify_id('user', self.seed, i)[:10].lower()}" for i in range(self.scale.n_users)]

    @cached_property
    def playlist_ids(self) -> list[str]:
        return [spotify_id("playlist", self.seed, i) for i in range(self.scale.n_playlists)]

    def artist_name(self, i: int) -> str:
        return f"{ADJECTIVES[i % 10]} {NOUNS[(i // 10) % 10]}" + (f" {i // 100}" if i >= 100 else "")

    def album_name(self, i: int) -> str:
        return f"{NOUNS[i % 10]} of {ADJECTIVES[(i // 10) % 10]} {i}"

    def track_name(self, i: int) -> str:
        return f"{ADJECTIVES[(i * 7) % 10]} {NOUNS[(i * 3) % 10]} #{i}"

    def track_isrc(self, i: int) -> str:
        return isrc(self.seed, i)

    def playlist_name(self, i: int) -> str:
        return f"{GENRES[self.playlist_genre[i]].title()} Daily {i}"

    def playlist_owner(self, i: int) -> str:
        """Even playlists belong to connected users; odd ones are editorial (owner `spotify`)."""
        if i % 2 == 0:
            return self.user_ids[int(self.connected_users[(i // 2) % len(self.connected_users)])]
        return "spotify"

    def refresh_token(self, user_index: int) -> str:
        return f"rt-{spotify_id('token', self.seed, user_index)}"

    @property
    def expired_token_user(self) -> int:
        """One connected user whose refresh token has expired (Spotify: `invalid_grant`)."""
        return int(self.connected_users[-1])

    @cached_property
    def user_activity_cumsum(self) -> np.ndarray:
        return np.cumsum(self.user_activity)

    @cached_property
    def genre_tracks(self) -> list[np.ndarray]:
        return [np.flatnonzero(self.track_genre == g) for g in range(len(GENRES))]

    # ---- dynamics ----------------------------------------------------------------------------
    def _plant_breakouts(self, rng: np.random.Generator) -> list[Breakout]:
        n_tracks = len(self.track_album)
        released_early = np.flatnonzero(self.track_release_ordinal < EPOCH.toordinal())
        # Breakouts come from the long tail (below the median weight) but not its far end, where even a 40x rise
        # stays at a few plays a day and no detector could tell it from noise.
        weight = self.track_base_weight[released_early]
        tail = released_early[(weight < np.median(self.track_base_weight))
                              & (weight >= np.quantile(self.track_base_weight, 0.3))]
        picks = rng.choice(tail, size=min(4, len(tail)), replace=False) if len(tail) else []
        out = [
            Breakout("track", self.track_ids[t], self.track_name(int(t)),
                     EPOCH + dt.timedelta(days=int(rng.integers(10, 45))), float(rng.uniform(25, 45)), 3)
            for t in picks
        ]
        small_artists = np.argsort(self.artist_weight)[: max(2, self.scale.n_artists // 3)]
        for a in rng.choice(small_artists, size=2, replace=False):
            out.append(Breakout("artist", self.artist_ids[a], self.artist_name(int(a)),
                                EPOCH + dt.timedelta(days=int(rng.integers(15, 50))), float(rng.uniform(15, 30)), 4))
        assert n_tracks > 0
        return out

    @cached_property
    def _breakout_index(self) -> list[tuple[np.ndarray, Breakout]]:
        track_pos = {t: i for i, t in enumerate(self.track_ids)}
        artist_pos = {a: i for i, a in enumerate(self.artist_ids)}
        out = []
        for b in self.breakouts:
            if b.kind == "track":
                out.append((np.array([track_pos[b.id]]), b))
            else:
                out.append((np.flatnonzero(self.track_artist == artist_pos[b.id]), b))
        return out

    def track_weights(self, day: dt.date) -> np.ndarray:
        """Listening weight of every track on `day`: base popularity, 0 before release, breakout boosts."""
        w = np.where(self.track_release_ordinal <= day.toordinal(), self.track_base_weight, 0.0)
        # Fresh releases get a launch bump that fades over a few weeks.
        age = day.toordinal() - self.track_release_ordinal
        w = w * np.where((age >= 0) & (age < 21), 1.0 + 2.0 * (21 - age) / 21, 1.0)
        for idx, b in self._breakout_index:
            progress = np.clip((day - b.rise_start).days / b.ramp_days, 0.0, 1.0)
            if progress > 0:
                w[idx] = w[idx] * (1.0 + (b.peak_multiplier - 1.0) * progress)
        if self.dispersion:
            rng = np.random.default_rng([self.seed, 21, day.toordinal()])
            w = w * rng.gamma(self.dispersion, 1.0 / self.dispersion, len(w))
        return w

    def events_on(self, day: dt.date) -> int:
        rng = np.random.default_rng([self.seed, 2, day.toordinal()])
        return int(self.events_per_day * WEEKLY[day.weekday()] * rng.uniform(0.97, 1.03))

    # ---- playlists ---------------------------------------------------------------------------
    def playlist_tracks(self, i: int, day: dt.date, size: int = 25) -> list[int]:
        """Track indices of playlist i on `day`, in position order. Editors reshuffle daily."""
        genre_tracks = self.genre_tracks[int(self.playlist_genre[i])]
        w = self.track_weights(day)[genre_tracks]
        rng = np.random.default_rng([self.seed, 3, i, day.toordinal()])
        score = np.log(w + 1e-12) + rng.gumbel(0.0, 0.35, len(genre_tracks))
        score[w <= 0] = -np.inf
        order = np.argsort(-score)[:size]
        return [int(genre_tracks[j]) for j in order if np.isfinite(score[j])]

    def playlist_snapshot(self, i: int, day: dt.date) -> dict:
        """Playlist i as of the end of `day`: tracks with the date each was added, and its snapshot id."""
        tracks = self.playlist_tracks(i, day)
        added: dict[int, dt.date] = {}
        remaining = set(tracks)
        back = day
        # Walk back to find when each track joined (a bounded look-back keeps this cheap).
        for _ in range(30):
            prev = back - dt.timedelta(days=1)
            present = set(self.playlist_tracks(i, prev)) if prev >= EPOCH - dt.timedelta(days=1) else set()
            for t in list(remaining):
                if t not in present:
                    added[t] = back
                    remaining.discard(t)
            if not remaining:
                break
            back = prev
        for t in remaining:
            added[t] = back
        ids = [self.track_ids[t] for t in tracks]
        return {"tracks": tracks, "added": added, "snapshot_id": snapshot_id(self.playlist_ids[i], ids)}

    # ---- truth -------------------------------------------------------------------------------
    def watchlist(self) -> dict[str, list[str]]:
        """The sandbox's default watchlist: top artists, the breakout artists, and every playlist."""
        top = [self.artist_ids[a] for a in np.argsort(-self.artist_weight)[:8]]
        breakout_artists = [b.id for b in self.breakouts if b.kind == "artist"]
        return {"artists": list(dict.fromkeys(top + breakout_artists)), "playlists": list(self.playlist_ids)}

    def truth(self) -> dict:
        """Hidden truths for later evaluation: planted breakouts and users' genre tastes."""
        return {
            "seed": self.seed,
            "scale": self.scale_name,
            "genres": list(GENRES),
            "breakouts": [
                {"kind": b.kind, "id": b.id, "name": b.name, "rise_start": b.rise_start.isoformat(),
                 "peak_multiplier": round(b.peak_multiplier, 2), "ramp_days": b.ramp_days}
                for b in self.breakouts
            ],
        }

    def user_tastes(self) -> dict[str, list[float]]:
        return {"user_id": self.user_ids, **{g: self.user_taste[:, j].tolist() for j, g in enumerate(GENRES)}}
