"""Ingestion domain: Spotify catalog, playlists and listening events. Modules here are discovered automatically."""

from collections.abc import Callable

import dagster as dg

from spotify_ai_assets.core.ingestion.rate_limits import stop_message, stop_metadata
from spotify_ai_assets.core.ingestion.watchlist import Watchlist
from spotify_ai_assets.core.kernel.privacy import user_label
from spotify_ai_assets.core.kernel.spotify_api import RateLimitExceeded
from spotify_ai_assets.lib.resources.spotify import SpotifyResource

GROUP = "ingestion"
OWNERS = ["team:data-platform"]
SPOTIFY_POOL = "spotify_api"


class WatchlistConfig(dg.Config):
    """Override what to ingest for one run; otherwise SPOTIFY_AI_WATCHLIST (or the sandbox's default)."""

    watchlist_path: str | None = None
    artist_ids: list[str] | None = None
    playlist_ids: list[str] | None = None
    empty_on_purpose: bool = False  # with artist_ids/playlist_ids: an empty list is meant, not a mistake

    def resolve(self, spotify: SpotifyResource) -> Watchlist:
        if self.artist_ids is not None or self.playlist_ids is not None:
            return Watchlist.of(self.artist_ids or [], self.playlist_ids or [], "run config", self.empty_on_purpose)
        if self.watchlist_path:
            return Watchlist.load(self.watchlist_path)
        return spotify.default_watchlist()


def rate_limited(exc: RateLimitExceeded, spotify: SpotifyResource) -> dg.Failure:
    """A long 429 ends the step now (no process sleeps for an hour, no run slot is held by a delayed retry); the
    failure's metadata carries the resume time for spotify_rate_limit_retry_sensor."""
    return dg.Failure(description=stop_message(exc, spotify.max_retry_after_s), metadata=stop_metadata(exc),
                      allow_retries=False)


def labeller(salt: str) -> Callable[[str], str]:
    """User id -> the pseudonymous label metadata, logs and errors use."""
    return lambda user_id: user_label(salt, user_id)
