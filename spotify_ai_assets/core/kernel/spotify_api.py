"""A spotipy client that sends only what the 2026 Web API spec allows, never hangs, and survives the real API.

- Requests: every endpoint we call is in `ENDPOINTS` with the spec's path and page-size maximum, and is sent
  exactly so (no trailing slash, no parameter the operation does not declare); pages are requested by explicit
  offset/limit (or `before` cursors), never by following a server's `next` link with whatever limit it carries.
  `spotify_ai_assets_tests/test_spotify_contract.py` checks this table against the spec and every request a sandbox
  day sends against the spec with openapi-core.
- Retries: spotipy's own loop sleeps for whatever `Retry-After` says (hours on a quota 429) inside urllib3, so it is
  off (`retries=0`, `status_forcelist=(999,)`) and this policy takes over: a 429 waits `Retry-After` up to
  `max_retry_after_s`, beyond that `RateLimitExceeded` (with the UTC time the endpoint may be called again) ends the
  work at once; 5xx, timeouts, connection errors and malformed JSON back off exponentially with full jitter, bounded.
- Tokens: a 401 ("The access token expired") gets one fresh token (client credentials, or the user's refresh token)
  and the request is retried once; a refresh answered `invalid_grant` raises `RefreshTokenExpired`. A rotated
  refresh token (PKCE clients get a new one with each refresh) is handed to `on_rotate` to be stored.
- Messages name endpoints by their spec path and users by the label they were opened with (a pseudonym), never by
  a raw Spotify user id.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # spotipy (and requests behind it) load when a gateway is used, not with the definitions
    import requests
    import spotipy
    from spotipy.exceptions import SpotifyException

# spotipy logs every HTTP error at ERROR with full URLs before we decide whether it is an error at all
# (a 403 on a batch endpoint is the expected signal of a development-mode app); we report outcomes ourselves.
logging.getLogger("spotipy.client").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Endpoint:
    """One operation of the spec as we call it: its path template and the largest page (or id batch) it takes."""

    method: str
    path: str
    page_limit: int | None = None
    max_ids: int | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


# The spec's maxima (spotify-web-api.openapi.yml, 2026): artist albums and search 10, everything paged here 50,
# batches of ids 50 (artists, tracks) or 20 (albums). The contract test reads them back from the spec.
ENDPOINTS: dict[str, Endpoint] = {
    "artist": Endpoint("GET", "/artists/{id}"),
    "artists": Endpoint("GET", "/artists", max_ids=50),
    "artist_albums": Endpoint("GET", "/artists/{id}/albums", page_limit=10),
    "album_tracks": Endpoint("GET", "/albums/{id}/tracks", page_limit=50),
    "track": Endpoint("GET", "/tracks/{id}"),
    "tracks": Endpoint("GET", "/tracks", max_ids=50),
    "playlist": Endpoint("GET", "/playlists/{playlist_id}"),
    "playlist_items": Endpoint("GET", "/playlists/{playlist_id}/items", page_limit=50),
    "me": Endpoint("GET", "/me"),
    "my_playlists": Endpoint("GET", "/me/playlists", page_limit=50),
    "recently_played": Endpoint("GET", "/me/player/recently-played", page_limit=50),
    "search": Endpoint("GET", "/search", page_limit=10),
}
ALBUM_GROUPS = ("album", "single", "compilation", "appears_on")
MAX_PAGES = 10_000  # a bound on any paging loop, whatever a server's totals or cursors claim
TOKEN_PATH = "POST accounts/api/token"


class SpotifyApiError(RuntimeError):
    def __init__(self, endpoint: str, message: str, status: int | None = None):
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint
        self.status = status


class RunWideFailure(SpotifyApiError):
    """A failure no other record would escape: every later request would fail the same way, so the per-record
    isolation (quarantine one artist, one playlist, one user and go on) re-raises it and the step fails."""


class AppCredentialsRejected(RunWideFailure):
    """The accounts service refused the app's own client id or secret (`invalid_client`)."""


class RateLimitExceeded(RunWideFailure):
    """A 429 whose Retry-After is longer than we are willing to block a worker for."""

    def __init__(self, endpoint: str, retry_after_s: float, reason: str | None, resume_at: dt.datetime):
        super().__init__(endpoint, f"rate limited for {retry_after_s:.0f} s (reason: {reason or 'n/a'}); may resume "
                                   f"at {resume_at:%Y-%m-%dT%H:%M:%SZ}", 429)
        self.retry_after_s = retry_after_s
        self.reason = reason
        self.resume_at = resume_at


class SpotifyUnavailable(SpotifyApiError):
    """5xx, timeouts or malformed bodies that persisted through every retry."""


class Forbidden(SpotifyApiError):
    """403: the app or token may not read this (development mode, or not the playlist's owner)."""


class NotFound(SpotifyApiError):
    pass


class Unauthorized(SpotifyApiError):
    """401 again after a fresh token: the token is refused for another reason than its age."""


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
    token_refreshes: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _spec_client(**kwargs: Any) -> spotipy.Spotify:
    """A spotipy client with one addition: `get(path, params)`, a GET of exactly the spec path and parameters
    given (spotipy's own helpers append trailing slashes and default parameters the spec does not list)."""
    import spotipy

    class SpecClient(spotipy.Spotify):
        def get(self, path: str, params: dict[str, Any]) -> Any:
            return self._get(path.lstrip("/"), **{k: v for k, v in params.items() if v is not None})

    return SpecClient(retries=0, status_retries=0, status_forcelist=(999,), **kwargs)


@dataclass
class Session:
    """One identity's access: the app (client credentials) or a connected user (refresh token). `label` names it
    in messages (`app`, or the user's pseudonym), never the token or a raw user id."""

    label: str
    _fetch: Callable[[], str] = field(repr=False)
    _make: Callable[[str], spotipy.Spotify] = field(repr=False)
    _client: spotipy.Spotify | None = field(default=None, repr=False)

    def client(self) -> spotipy.Spotify:
        if self._client is None:
            self._client = self._make(self._fetch())
        return self._client

    def refresh(self) -> None:
        self._client = self._make(self._fetch())


@dataclass
class SpotifyGateway:
    api_url: str
    accounts_url: str
    client_id: str
    client_secret: str = field(repr=False)
    timeout_s: float = 10.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    stats: ApiStats = field(default_factory=ApiStats)
    # None until the first batch call tells us whether this app has extended quota.
    batch_available: bool | None = None
    _app: Session | None = field(default=None, repr=False)
    _http: requests.Session | None = field(default=None, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    # ---- sessions ----------------------------------------------------------------------------
    @property
    def token_url(self) -> str:
        return self.accounts_url.rstrip("/") + "/api/token"

    def _make_client(self, token: str) -> spotipy.Spotify:
        import requests

        if self._http is None:
            self._http = requests.Session()
        sp = _spec_client(auth=token, requests_timeout=self.timeout_s, requests_session=self._http)
        sp.prefix = self.api_url.rstrip("/") + "/"
        return sp

    @property
    def app(self) -> Session:
        """The app's own session (client credentials): catalog and public data."""
        if self._app is None:
            from spotipy.cache_handler import MemoryCacheHandler
            from spotipy.oauth2 import SpotifyClientCredentials, SpotifyOauthError

            manager = SpotifyClientCredentials(client_id=self.client_id, client_secret=self.client_secret,
                                               requests_timeout=self.timeout_s, cache_handler=MemoryCacheHandler())
            manager.OAUTH_TOKEN_URL = self.token_url

            def fetch() -> str:
                def token() -> str:
                    try:
                        return manager.get_access_token(as_dict=False, check_cache=False)
                    except SpotifyOauthError as exc:
                        if exc.error == "invalid_client":
                            raise AppCredentialsRejected(
                                TOKEN_PATH, "client credentials refused (invalid_client): check SPOTIFY_CLIENT_ID "
                                            "and SPOTIFY_CLIENT_SECRET", 400) from None
                        raise SpotifyApiError(TOKEN_PATH, f"client credentials refused: {exc.error}") from None
                self.stats.token_refreshes += 1
                return self._with_retries(TOKEN_PATH, token)

            self._app = Session("app", fetch, self._make_client)
        return self._app

    def token_session(self, label: str, access_token: str) -> Session:
        """A session with one access token and no way to refresh it (a user being connected)."""
        def fetch() -> str:
            if session._client is not None:
                raise Unauthorized(TOKEN_PATH, f"the access token of {label} was refused", 401)
            return access_token

        session = Session(label, fetch, self._make_client)
        return session

    def user_session(self, label: str, refresh_token: str,
                     on_rotate: Callable[[str], None] | None = None) -> Session:
        """A session acting as one connected user; its first token is fetched now, so an expired refresh token
        (`RefreshTokenExpired`) shows at once. `label` names the user in errors (a pseudonym)."""
        from spotipy.cache_handler import MemoryCacheHandler
        from spotipy.oauth2 import SpotifyOAuth, SpotifyOauthError

        oauth = SpotifyOAuth(client_id=self.client_id, client_secret=self.client_secret,
                             redirect_uri="http://127.0.0.1/callback", requests_timeout=self.timeout_s,
                             cache_handler=MemoryCacheHandler(), open_browser=False)
        oauth.OAUTH_TOKEN_URL = self.token_url
        current = {"refresh_token": refresh_token}

        def fetch() -> str:
            def refresh() -> dict:
                try:
                    return oauth.refresh_access_token(current["refresh_token"])
                except SpotifyOauthError as exc:
                    if exc.error == "invalid_grant":
                        raise RefreshTokenExpired(TOKEN_PATH, f"refresh token of {label} expired or was revoked "
                                                              "(invalid_grant): the user must reconnect") from None
                    if exc.error == "invalid_client":
                        raise AppCredentialsRejected(TOKEN_PATH, "client credentials refused (invalid_client) while "
                                                                 f"refreshing {label}: check SPOTIFY_CLIENT_ID and "
                                                                 "SPOTIFY_CLIENT_SECRET", 400) from None
                    raise SpotifyApiError(TOKEN_PATH, f"token refresh for {label} failed: {exc.error}") from None
            info = self._with_retries(TOKEN_PATH, refresh)
            self.stats.token_refreshes += 1
            rotated = info.get("refresh_token")
            if rotated and rotated != current["refresh_token"]:
                current["refresh_token"] = rotated
                if on_rotate is not None:
                    on_rotate(rotated)
            return info["access_token"]

        session = Session(label, fetch, self._make_client)
        session.client()
        return session

    # ---- the call policy ---------------------------------------------------------------------
    def get(self, session: Session, name: str, params: dict[str, Any] | None = None, **path: str) -> Any:
        """GET one spec operation (`ENDPOINTS[name]`) with `params`, as `session`, under the retry policy."""
        endpoint = ENDPOINTS[name]
        url = endpoint.path.format(**path)
        params = dict(params or {})
        limit = params.get("limit")
        if endpoint.page_limit is not None and limit is not None and not 1 <= int(limit) <= endpoint.page_limit:
            raise ValueError(f"{endpoint.label}: limit {limit} is outside the spec's 1-{endpoint.page_limit}")
        return self.call(endpoint.label, session, lambda client: client.get(url, params))

    def call(self, endpoint: str, session: Session, fn: Callable[[spotipy.Spotify], Any]) -> Any:
        """Run one request under the retry policy; a 401 gets one fresh token and one more try."""
        refreshed = False
        while True:
            try:
                return self._with_retries(endpoint, lambda: self._checked(fn(session.client())))
            except Unauthorized:
                if refreshed:
                    raise
                refreshed = True
                session.refresh()

    def _checked(self, result: Any) -> Any:
        if result is None:  # spotipy returns None when the body is not JSON
            self.stats.malformed += 1
            raise _Malformed()
        return result

    def _with_retries(self, endpoint: str, fn: Callable[[], Any]) -> Any:
        import requests
        from spotipy.exceptions import SpotifyException

        last: str = ""
        for attempt in range(1, self.policy.max_attempts + 1):
            self.stats.calls += 1
            wait: float | None = None
            try:
                return fn()
            except SpotifyException as exc:
                status = exc.http_status
                if status == 429:
                    self.stats.throttled += 1
                    wait = _retry_after(exc)
                    if wait is not None and wait > self.policy.max_retry_after_s:
                        resume = self.now().astimezone(dt.UTC) + dt.timedelta(seconds=wait)
                        raise RateLimitExceeded(endpoint, wait, exc.reason, resume) from None
                    last = "429" + (f" (Retry-After {wait:.0f} s)" if wait is not None else " without Retry-After")
                elif status == 401:
                    raise Unauthorized(endpoint, f"HTTP 401: {_message(exc)}", 401) from None
                elif status == 403:
                    raise Forbidden(endpoint, f"HTTP 403: {_message(exc)}", 403) from None
                elif status == 404:
                    raise NotFound(endpoint, f"HTTP 404: {_message(exc)}", 404) from None
                elif status is not None and status >= 500:
                    self.stats.server_errors += 1
                    last = f"HTTP {status}"
                else:
                    raise SpotifyApiError(endpoint, f"HTTP {status}: {_message(exc)}", status) from None
            except _Malformed:
                last = "response body is not valid JSON"
            except (requests.Timeout, requests.ConnectionError) as exc:
                last = type(exc).__name__
            if attempt < self.policy.max_attempts:
                self.stats.retries += 1
                self.sleep(wait if wait is not None else self._backoff(attempt))
        raise SpotifyUnavailable(endpoint, f"gave up after {self.policy.max_attempts} attempts: {last}")

    def _backoff(self, attempt: int) -> float:
        # Full jitter: spreads retries from parallel workers instead of synchronising them.
        cap = min(self.policy.backoff_max_s, self.policy.backoff_base_s * 2 ** (attempt - 1))
        return self._rng.uniform(0, cap)

    # ---- paging ------------------------------------------------------------------------------
    def offset_pages(self, session: Session, name: str, params: dict[str, Any] | None = None,
                     **path: str) -> Iterator[dict]:
        """Every item of an offset-paged operation, requesting `limit` = the spec's maximum and the next offset
        ourselves, until a page is empty, has no `next`, or the `total` is reached."""
        limit = ENDPOINTS[name].page_limit
        offset = 0
        for _ in range(MAX_PAGES):
            page = self.get(session, name, {**(params or {}), "limit": limit, "offset": offset}, **path)
            items = page.get("items") if isinstance(page, dict) else None
            if not items:
                return
            yield from items
            offset += len(items)
            total = page.get("total")
            if not page.get("next") or (isinstance(total, int) and offset >= total):
                return

    # ---- endpoints ---------------------------------------------------------------------------
    def search(self, q: str, kind: str, limit: int = 1) -> dict:
        return self.get(self.app, "search", {"q": q, "type": kind, "limit": limit})

    def artists(self, ids: Iterable[str]) -> tuple[dict[str, dict], dict[str, str]]:
        """({id: artist}, {id: why it could not be read}) for every id."""
        return self._batched("artists", "artist", "artists", list(dict.fromkeys(ids)))

    def tracks(self, ids: Iterable[str]) -> tuple[dict[str, dict], dict[str, str]]:
        """({id: track}, {id: why it could not be read}) for every id."""
        return self._batched("tracks", "track", "tracks", list(dict.fromkeys(ids)))

    def _batched(self, batch: str, single: str, key: str, ids: list[str]) -> tuple[dict[str, dict], dict[str, str]]:
        """Batch GETs when the app may (extended quota), one GET per id otherwise. A batch refused (403: a
        development-mode app) or failing after its retries falls back to single GETs, so one bad batch costs
        nothing but time; an id whose single GET still fails is returned with its reason."""
        found: dict[str, dict] = {}
        failed: dict[str, str] = {}
        size = ENDPOINTS[batch].max_ids or 1
        for start in range(0, len(ids), size):
            chunk = ids[start:start + size]
            rest = chunk
            if self.batch_available is not False:
                try:
                    answer = self.get(self.app, batch, {"ids": ",".join(chunk)})
                    self.batch_available = True
                    objects = answer.get(key) if isinstance(answer, dict) else None
                    # Matched by id: Spotify answers null for an unknown id, a spec-strict server leaves it out.
                    for obj in objects if isinstance(objects, list) else []:
                        if isinstance(obj, dict) and obj.get("id") in chunk:
                            found[obj["id"]] = obj
                    rest = [i for i in chunk if i not in found]
                except Forbidden:
                    self.batch_available = False
                    self.stats.batch_fallbacks += 1
                except RunWideFailure:
                    raise
                except SpotifyApiError as exc:  # 5xx after the retries, or any other refusal of this batch
                    self.stats.batch_fallbacks += 1
                    logging.getLogger(__name__).info("%s failed (%s): single GETs instead", batch, exc)
            for ident in rest:
                try:
                    found[ident] = self.get(self.app, single, id=ident)
                except NotFound:
                    failed[ident] = f"{ENDPOINTS[single].label}: not found (404)"
                except RunWideFailure:
                    raise
                except SpotifyApiError as exc:
                    failed[ident] = str(exc)
        return found, failed

    def artist_albums(self, artist_id: str, include_groups: Iterable[str]) -> Iterator[dict]:
        groups = ",".join(include_groups)
        return self.offset_pages(self.app, "artist_albums", {"include_groups": groups}, id=artist_id)

    def album_tracks(self, album_id: str) -> Iterator[dict]:
        return self.offset_pages(self.app, "album_tracks", id=album_id)

    def playlist(self, playlist_id: str, session: Session | None = None) -> dict:
        return self.get(session or self.app, "playlist", {"additional_types": "track"}, playlist_id=playlist_id)

    def playlist_items(self, playlist_id: str, session: Session | None = None) -> Iterator[dict]:
        return self.offset_pages(session or self.app, "playlist_items", {"additional_types": "track"},
                                 playlist_id=playlist_id)

    def my_playlists(self, session: Session) -> Iterator[dict]:
        return self.offset_pages(session, "my_playlists")

    def me(self, session: Session) -> dict:
        return self.get(session, "me")

    def recently_played(self, session: Session, after_ms: int) -> list[dict]:
        """Plays newer than `after_ms`, newest first: the latest page, then pages back in time by the `before`
        cursor until a play at or before `after_ms` shows up (development-mode apps only ever see the latest 50).
        Paging back with `before` is the unambiguous direction: every page is "the newest plays older than X"."""
        out: list[dict] = []
        before: int | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"limit": ENDPOINTS["recently_played"].page_limit}
            if before is not None:
                params["before"] = before
            page = self.get(session, "recently_played", params)
            items = [i for i in (page.get("items") or [])] if isinstance(page, dict) else []
            if not items:
                break
            stamps = [_played_ms(i) for i in items]
            out.extend(i for i, ms in zip(items, stamps, strict=True) if ms is None or ms > after_ms)
            known = [ms for ms in stamps if ms is not None]
            if not known or min(known) <= after_ms:
                break
            cursor = (page.get("cursors") or {}).get("before")
            nxt = int(cursor) if isinstance(cursor, str) and cursor.isdigit() else min(known)
            if before is not None and nxt >= before:
                break  # no progress: the server repeats itself
            before = nxt
        return out


class _Malformed(Exception):
    pass


def _played_ms(item: Any) -> int | None:
    value = item.get("played_at") if isinstance(item, dict) else None
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return int(moment.timestamp() * 1000)


def _retry_after(exc: SpotifyException) -> float | None:
    headers = exc.headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _message(exc: SpotifyException) -> str:
    return str(exc.msg).split("\n")[-1].strip()
