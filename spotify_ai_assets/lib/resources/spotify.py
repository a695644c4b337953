"""The Spotify Web API: live (real Spotify, secrets from the environment) or the sandbox (the synthetic world
served by the loopback emulator). Assets see only `SpotifyResource`."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod

import dagster as dg
from pydantic import PrivateAttr

from spotify_ai_assets.core.ingestion.watchlist import Watchlist
from spotify_ai_assets.core.kernel.spotify_api import RetryPolicy, SpotifyGateway
from spotify_ai_assets.lib.resources.sandbox_world import SandboxWorldResource


class SpotifyResource(dg.ConfigurableResource, ABC):
    """Spotify through spotipy, with timeouts, bounded Retry-After and backoff (see core.kernel.spotify_api)."""

    watchlist_path: str | None = None
    timeout_s: float = 10.0
    max_retry_after_s: float = 30.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0

    @abstractmethod
    def gateway(self, day: dt.date) -> SpotifyGateway:
        """A gateway for a run about `day`. Live Spotify is always "now"; the sandbox shows the world as it was when
        `day` ended, as the daily schedule sees it in production."""

    @abstractmethod
    def default_watchlist(self) -> Watchlist:
        """The artists and playlists to ingest when run config names none."""

    def _policy(self) -> RetryPolicy:
        return RetryPolicy(max_retry_after_s=self.max_retry_after_s, max_attempts=self.max_attempts,
                           backoff_base_s=self.backoff_base_s, backoff_max_s=self.backoff_max_s)


class LiveSpotifyResource(SpotifyResource):
    """The real Web API (or any implementation of it at `api_url`), app credentials as EnvVars."""

    client_id: str
    client_secret: str
    api_url: str
    accounts_url: str

    def gateway(self, day: dt.date) -> SpotifyGateway:
        return SpotifyGateway(api_url=self.api_url, accounts_url=self.accounts_url, client_id=self.client_id,
                              client_secret=self.client_secret, timeout_s=self.timeout_s, policy=self._policy())

    def default_watchlist(self) -> Watchlist:
        if not self.watchlist_path:
            raise dg.DagsterInvariantViolationError(
                "no watchlist: set SPOTIFY_AI_WATCHLIST to a YAML file or pass artists/playlists in run config")
        return Watchlist.load(self.watchlist_path)


class SandboxSpotifyResource(SpotifyResource):
    """The sandbox world served by the local Spotify Web API emulator, started on loopback per process: ingestion
    goes through real spotipy and real HTTP."""

    world: SandboxWorldResource
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    mode: str = "development"
    # The emulator checks each operation's first 20 answers against the spec and then one in `response_sample` (1:
    # every answer, as the tests do): answer checks were half of a catalog crawl's time.
    response_sample: int = 10
    _emulator: object | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from spotify_ai_assets.emulator import SpotifyEmulator

        self._emulator = SpotifyEmulator(self.world.world(), mode=self.mode, client_id=self.client_id,
                                         client_secret=self.client_secret,
                                         response_sample=self.response_sample).start()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._emulator is not None:
            self._emulator.stop()  # type: ignore[attr-defined]

    def gateway(self, day: dt.date) -> SpotifyGateway:
        emu = self._emulator
        if emu is None:
            raise dg.DagsterInvariantViolationError("sandbox emulator not started (resource used outside a run)")
        emu.clock = dt.datetime.combine(day, dt.time(23, 59, 59, 999000), dt.UTC)  # type: ignore[attr-defined]
        return SpotifyGateway(api_url=emu.api_url, accounts_url=emu.accounts_url,  # type: ignore[attr-defined]
                              client_id=self.client_id, client_secret=self.client_secret, timeout_s=self.timeout_s,
                              policy=self._policy())

    def default_watchlist(self) -> Watchlist:
        if self.watchlist_path:
            return Watchlist.load(self.watchlist_path)
        from spotify_ai_assets.emulator.additions import sandbox_watchlist

        # The emulator's own playlists too: 137 items (pages of 50) and a collaborative one only its collaborator reads.
        w = sandbox_watchlist(self.world.world())
        return Watchlist.of(w["artists"], w["playlists"], "sandbox watchlist")
