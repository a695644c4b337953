
import dagster as dg

from spotify_ai_assets.core.ingestion.watchlist import Watchlist
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


def retry_later(exc: RateLimitExceeded) -> dg.RetryRequested:
    """A long 429 must not hang inside an HTTP call: hand the wait back to Dagster as a delayed step retry."""
    return dg.RetryRequested(max_retries=3, seconds_to_wait=exc.retry_after_s)
