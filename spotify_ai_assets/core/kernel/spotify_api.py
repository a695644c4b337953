"""A spotipy client that never hangs, pages through everything and degrades to development-mode apps.

spotipy's own retry loop sleeps for whatever `Retry-After` says (hours on a quota 429) inside urllib3, so
it is switched off (`retries=0`, `status_forcelist=(999,)`) and the policy below takes over:
- 429: wait `Retry-After` when it is at most `max_retry_after_s`, else raise `RateLimitExceeded` so the
  orchestrator can reschedule the work instead of blocking a worker;
- 5xx, timeouts, connection errors, malformed JSON bodies: exponential backoff with jitter, bounded.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # spotipy (and requests, redis behind it) load when a gateway is used, not with the definitions
    import spotipy
    from spotipy.exceptions import SpotifyException

DEV_MODE_PAGE_LIMIT = 10  # search and artist albums: development-mode apps get a 400 above 10
# spotipy logs every HTTP error at ERROR with full URLs before we decide whether it is an error at all
# (a 403 on a batch endpoint is the expected signal of a development-mode app); we report outcomes ourselves.
logging.getLogger("spotipy.client").setLevel(logging.CRITICAL)


class SpotifyApiError(RuntimeError):
    def __init__(self, endpoint: str, message: str, status: int | None = None):
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint
        self.status = status


class RateLimitExceeded(SpotifyApiError):
    """A 429 whose Retry-After is longer than we are willing to block a worker for."""

    def __init__(self, endpoint: str, retry_after_s: float, reason: str | None):
        super().__init__(endpoint, f"rate limited for {retry_after_s:.0f}s (reason: {reason or 'n/a'})", 429)
        self.retry_after_s = retry_after_s
        self.reason = reason


class SpotifyUnavailable(SpotifyApiError):
    """5xx, timeouts or malformed bodies that persisted through every retry."""


class Forbidden(SpotifyApiError):
    """403: the app or token may not read this (development mode, or not the playlist's owner)."""


class NotFound(SpotifyApiError):
    pass


class RefreshTokenExpired(SpotifyApiError):
    """The user's refresh token was revoked or expired (`invalid_grant`); the user must reconnect."""


@dataclass(frozen=True)
class RetryPolicy:
    max_retry_after_s: float = 30.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0


@dataclass
class ApiStats:
    calls: int = 0
    retries: int = 0
    throttled: int = 0
    server_errors: int = 0
    malformed: int = 0
    batch_fallbacks: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class SpotifyGateway:
    api_url: str
    accounts_url: str
    client_id: str
    client_secret: str = field(repr=False)
    timeout_s: float = 10.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    stats: ApiStats = field(default_factory=ApiStats)
    # None until the first batch call tells us whether this app has extended quota.
    batch_available: bool | None = None
    _app: spotipy.Spotify | None = field(default=None, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    # ---- clients -----------------------------------------------------------------------------
    @property
    def token_url(self) -> str:
        return self.accounts_url.rstrip("/") + "/api/token"

    def _client(self, **auth: Any) -> spotipy.Spotify:
        import spotipy

        sp = spotipy.Spotify(
            **auth, requests_timeout=self.timeout_s, retries=0, status_retries=0, status_forcelist=(999,),
        )
        sp.prefix = self.api_url.rstrip("/") + "/"
        return sp

    @property
    def app(self) -> spotipy.Spotify:
        if self._app is None:
            from spotipy.cache_handler import MemoryCacheHandler
            from spotipy.oauth2 import SpotifyClientCredentials

            manager = SpotifyClientCredentials(
                client_id=self.client_id, client_secret=self.client_secret,
                requests_timeout=self.timeout_s, cache_handler=MemoryCacheHandler(),
            )
            manager.OAUTH_TOKEN_URL = self.token_url
            self._app = self._client(auth_manager=manager)
        return self._app

    def user_client(self, user_ref: str, refresh_token: str) -> spotipy.Spotify:
        """A client acting as one connected user. `user_ref` names the user in errors, never the token."""
        from spotipy.cache_handler import MemoryCacheHandler
        from spotipy.oauth2 import SpotifyOAuth, SpotifyOauthError

        oauth = SpotifyOAuth(
            client_id=self.client_id, client_secret=self.client_secret, redirect_uri="http://127.0.0.1/callback",
            requests_timeout=self.timeout_s, cache_handler=MemoryCacheHandler(), open_browser=False,
        )
        oauth.OAUTH_TOKEN_URL = self.token_url
        try:
            token = self._with_retries("POST accounts/api/token", lambda: oauth.refresh_access_token(refresh_token))
        except SpotifyOauthError as exc:
            if exc.error == "invalid_grant":
                raise RefreshTokenExpired("POST accounts/api/token", f"refresh token for {user_ref} expired") from None
            raise SpotifyApiError("POST accounts/api/token",
                                  f"token refresh for {user_ref} failed: {exc.error}") from None
        return self._client(auth=token["access_token"])

    # ---- the call policy ---------------------------------------------------------------------
    def call(self, endpoint: str, fn: Callable[[], Any]) -> Any:
        """Run one spotipy call under the retry policy; a `None` result means the body was not JSON."""

        def checked() -> Any:
            result = fn()
            if result is None:
                self.stats.malformed += 1
                raise _Malformed()
            return result

        return self._with_retries(endpoint, checked)

    def _with_retries(self, endpoint: str, fn: Callable[[], Any]) -> Any:
        import requests
        from spotipy.exceptions import SpotifyException

        last: str = ""
        for attempt in range(1, self.policy.max_attempts + 1):
            self.stats.calls += 1
            try:
                return fn()
            except SpotifyException as exc:
                status = exc.http_status
                if status == 429:
                    self.stats.throttled += 1
                    wait = _retry_after(exc)
                    if wait is None or wait > self.policy.max_retry_after_s:
                        raise RateLimitExceeded(endpoint, wait or self.policy.backoff_max_s, exc.reason) from None
                    last = f"429 (waited {wait:.0f}s)"
                    if attempt < self.policy.max_attempts:
                        self.stats.retries += 1
                        self.sleep(wait)
                    continue
                if status == 403:
                    raise Forbidden(endpoint, _message(exc), 403) from None
                if status == 404:
                    raise NotFound(endpoint, _message(exc), 404) from None
                if status is not None and status >= 500:
                    self.stats.server_errors += 1
                    last = f"HTTP {status}"
                else:
                    raise SpotifyApiError(endpoint, f"HTTP {status}: {_message(exc)}", status) from None
            except _Malformed:
                last = "response body is not valid JSON"
            except (requests.Timeout, requests.ConnectionError) as exc:
                last = f"{type(exc).__name__}"
            if attempt < self.policy.max_attempts:
                self.stats.retries += 1
                self.sleep(self._backoff(attempt))
        raise SpotifyUnavailable(endpoint, f"gave up after {self.policy.max_attempts} attempts: {last}")

    def _backoff(self, attempt: int) -> float:
        # Full jitter: spreads retries from parallel workers instead of synchronising them.
        cap = min(self.policy.backoff_max_s, self.policy.backoff_base_s * 2 ** (attempt - 1))
        return self._rng.uniform(0, cap)

    # ---- endpoints ---------------------------------------------------------------------------
    def pages(self, client: spotipy.Spotify, endpoint: str, first: Callable[[], dict],
              unwrap: str | None = None) -> Iterator[dict]:
        """Every item of a paging object, following `next` links to the end."""
        page: dict | None = self.call(endpoint, first)
        while page is not None:
            if unwrap:
                page = page[unwrap]
            yield from page.get("items") or []
            if not page.get("next"):
                return
            current = page
            page = self.call(endpoint, lambda current=current: client.next(current))

    def artists(self, ids: list[str]) -> list[dict]:
        return self._batched("artists", ids, 50, lambda chunk: self.app.artists(chunk)["artists"],
                             lambda i: self.app.artist(i))

    def tracks(self, ids: list[str]) -> list[dict]:
        return self._batched("tracks", ids, 50, lambda chunk: self.app.tracks(chunk)["tracks"],
                             lambda i: self.app.track(i))

    def _batched(self, kind: str, ids: list[str], size: int,
                 batch: Callable[[list[str]], list[dict]], single: Callable[[str], dict]) -> list[dict]:
        """Batch GET when the app has extended quota; one GET per id for development-mode apps."""
        out: list[dict] = []
        for start in range(0, len(ids), size):
            chunk = ids[start:start + size]
            if self.batch_available is not False:
                try:
                    out.extend(x for x in self.call(f"GET /{kind}?ids=", lambda c=chunk: batch(c)) if x)
                    self.batch_available = True
                    continue
                except Forbidden:
                    self.batch_available = False
                    self.stats.batch_fallbacks += 1
            for i in chunk:
                try:
                    out.append(self.call(f"GET /{kind}/{{id}}", lambda i=i: single(i)))
                except NotFound:
                    continue  # the batch endpoint answers null for unknown ids: skip them the same way
        return out

    def artist_albums(self, artist_id: str) -> Iterator[dict]:
        return self.pages(self.app, "GET /artists/{id}/albums", lambda: self.app.artist_albums(
            artist_id, include_groups="album,single", limit=DEV_MODE_PAGE_LIMIT))

    def album_tracks(self, album_id: str) -> Iterator[dict]:
        return self.pages(self.app, "GET /albums/{id}/tracks", lambda: self.app.album_tracks(album_id, limit=50))

    def playlist(self, playlist_id: str, client: spotipy.Spotify | None = None) -> dict:
        c = client or self.app
        return self.call("GET /playlists/{id}", lambda: c.playlist(playlist_id, additional_types=("track",)))

    def playlist_items(self, playlist_id: str, client: spotipy.Spotify | None = None) -> Iterator[dict]:
        c = client or self.app
        return self.pages(c, "GET /playlists/{id}/items", lambda: c.playlist_items(
            playlist_id, limit=100, additional_types=("track",)))

    def me(self, client: spotipy.Spotify) -> dict:
        return self.call("GET /me", client.current_user)

    def recently_played(self, client: spotipy.Spotify, after_ms: int) -> Iterator[dict]:
        """Plays after `after_ms` (a stored cursor), following `next` links as far as the API allows
        (development-mode apps only ever see the latest 50 plays)."""
        return self.pages(client, "GET /me/player/recently-played",
                          lambda: client.current_user_recently_played(limit=50, after=after_ms))


class _Malformed(Exception):
    pass


def _retry_after(exc: SpotifyException) -> float | None:
    headers = exc.headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _message(exc: SpotifyException) -> str:
    return str(exc.msg).split("\n")[-1].strip()
