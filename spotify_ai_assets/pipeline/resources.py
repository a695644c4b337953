"""Resources: thin Dagster wrappers over the pure core, each with a live and a sandbox flavour."""


import datetime as dt
from functools import lru_cache
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from spotify_ai_assets.core.lake import Lake
from spotify_ai_assets.core.listening import export_files
from spotify_ai_assets.core.spotify_api import RetryPolicy, SpotifyGateway
from spotify_ai_assets.core.tokens import FileTokenStore, PostgresTokenStore, TokenStore
from spotify_ai_assets.core.watchlist import Watchlist


@lru_cache(maxsize=4)
def sandbox_world(seed: int, scale: str):
    from spotify_ai_assets.sandbox.world import World

    return World(seed=seed, scale=scale)


class LakeResource(dg.ConfigurableResource):
    """The lake root: a local folder or `s3://bucket/prefix` (AWS_ENDPOINT_URL for S3-compatible stores)."""

    root: str
    s3_endpoint_url: str | None = None

    def lake(self) -> Lake:
        return Lake(self.root, s3_endpoint_url=self.s3_endpoint_url)


class SpotifyResource(dg.ConfigurableResource):
    """Spotify Web API through spotipy, with timeouts, bounded Retry-After and backoff (see core.spotify_api)."""

    client_id: str
    client_secret: str
    api_url: str = "https://api.spotify.com/v1/"
    accounts_url: str = "https://accounts.spotify.com/"
    watchlist_path: str | None = None
    timeout_s: float = 10.0
    max_retry_after_s: float = 30.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0

    def policy(self) -> RetryPolicy:
        return RetryPolicy(max_retry_after_s=self.max_retry_after_s, max_attempts=self.max_attempts,
                           backoff_base_s=self.backoff_base_s, backoff_max_s=self.backoff_max_s)

    def gateway(self) -> SpotifyGateway:
        return SpotifyGateway(
            api_url=self.api_url, accounts_url=self.accounts_url, client_id=self.client_id,
            client_secret=self.client_secret, timeout_s=self.timeout_s, policy=self.policy(),
        )

    def default_watchlist(self) -> Watchlist:
        if not self.watchlist_path:
            raise dg.DagsterInvariantViolationError(
                "no watchlist: set SPOTIFY_AI_WATCHLIST to a YAML file or pass artists/playlists in run config")
        return Watchlist.load(self.watchlist_path)

    def see_world_at_end_of(self, day: dt.date) -> None:
        """Live Spotify is always 'now'; only the sandbox can be looked at as of a past day."""


class SandboxSpotifyResource(SpotifyResource):
    """The sandbox world served by the local Spotify Web API emulator, started on loopback per process.

    Ingestion goes through real spotipy and real HTTP; the emulator's clock follows the partition, so a
    run sees the world as it was when that day ended (like the daily schedule does in production).
    """

    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    seed: int = 7
    scale: str = "small"
    mode: str = "development"
    _emulator: object | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from spotify_ai_assets.emulator import SpotifyEmulator

        self._emulator = SpotifyEmulator(sandbox_world(self.seed, self.scale), mode=self.mode,
                                         client_id=self.client_id, client_secret=self.client_secret).start()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._emulator is not None:
            self._emulator.stop()  # type: ignore[attr-defined]

    def gateway(self) -> SpotifyGateway:
        emu = self._emulator
        if emu is None:
            raise dg.DagsterInvariantViolationError("sandbox emulator not started (resource used outside a run)")
        return SpotifyGateway(api_url=emu.api_url, accounts_url=emu.accounts_url,  # type: ignore[attr-defined]
                              client_id=self.client_id, client_secret=self.client_secret, timeout_s=self.timeout_s,
                              policy=self.policy())

    def default_watchlist(self) -> Watchlist:
        if self.watchlist_path:
            return Watchlist.load(self.watchlist_path)
        from spotify_ai_assets.emulator.additions import sandbox_watchlist

        # The emulator's own playlists too: 137 items (pages of 50) and a collaborative one only its collaborator reads.
        w = sandbox_watchlist(sandbox_world(self.seed, self.scale))
        return Watchlist.of(w["artists"], w["playlists"], "sandbox watchlist")

    def see_world_at_end_of(self, day: dt.date) -> None:
        if self._emulator is not None:
            self._emulator.clock = dt.datetime.combine(day, dt.time(23, 59, 59, 999000), dt.UTC)  # type: ignore[attr-defined]


class TokenStoreResource(dg.ConfigurableResource):
    """Connected users' refresh tokens: a local JSON file, or a PostgreSQL table when `dsn` is set."""

    path: str | None = None
    dsn: str | None = None
    schema_name: str = "spotify_ai"

    def store(self) -> TokenStore:
        if self.dsn:
            return PostgresTokenStore(self.dsn, self.schema_name)
        if not self.path:
            raise dg.DagsterInvariantViolationError("token store needs a file path or a PostgreSQL dsn")
        return FileTokenStore(self.path)


class SandboxTokenStoreResource(TokenStoreResource):
    """The sandbox's connected users, seeded into the token file on first use."""

    seed: int = 7
    scale: str = "small"

    def store(self) -> TokenStore:
        store = super().store()
        if isinstance(store, FileTokenStore) and not store.path.exists():
            world = sandbox_world(self.seed, self.scale)
            for u in world.connected_users:
                store.add_user(world.user_ids[int(u)], world.refresh_token(int(u)))
        return store


class LandingResource(dg.ConfigurableResource):
    """The landing folder where the backend drops hourly event exports (`events/date=YYYY-MM-DD/`)."""

    root: str

    def day_dir(self, day: dt.date) -> Path:
        return Path(self.root, "events", f"date={day.isoformat()}")

    def delivered_files(self, day: dt.date) -> list[str]:
        """Export files already in the landing folder for `day` (what the sensor watches)."""
        return export_files(self.day_dir(day))

    def export_files(self, day: dt.date) -> list[str]:
        return self.delivered_files(day)

    def days_with_files(self) -> list[str]:
        base = Path(self.root, "events")
        if not base.is_dir():
            return []
        return sorted(p.name[len("date="):] for p in base.iterdir() if p.is_dir() and p.name.startswith("date="))


class SandboxLandingResource(LandingResource):
    """The sandbox backend delivers a day's exports when they are first asked for (deterministically)."""

    seed: int = 7
    scale: str = "small"
    export_format: str = "mixed"
    bad_record_rate: float = 0.002

    def export_files(self, day: dt.date) -> list[str]:
        from spotify_ai_assets.sandbox.exports import ensure_day_exports

        ensure_day_exports(sandbox_world(self.seed, self.scale), self.root, day, fmt=self.export_format,
                           bad_rate=self.bad_record_rate)
        return self.delivered_files(day)


class AudioLandingResource(dg.ConfigurableResource):
    """The folder where artists and partners deliver audio files named `<spotify track id>.<wav|flac|ogg|mp3>`."""

    root: str

    def directory(self) -> Path:
        return Path(self.root)

    def deliver(self, day: dt.date) -> list[str]:
        """Real deliveries arrive on their own; only the sandbox writes files here."""
        return []

    def file_for(self, track_id: str) -> Path | None:
        from spotify_ai_assets.audio.landing import file_for

        return file_for(self.directory(), track_id)

    def truth(self) -> dict[str, dict] | None:
        """Known tempo and key per track id, where the environment has a ground truth (the sandbox)."""
        return None


class SandboxAudioLandingResource(AudioLandingResource):
    """The sandbox synthesizes music-like clips at each track's true tempo and key and delivers a few a day."""

    seed: int = 7
    scale: str = "small"
    per_day: int = 6

    def deliver(self, day: dt.date) -> list[str]:
        from spotify_ai_assets.sandbox import audio

        world = sandbox_world(self.seed, self.scale)
        written = []
        for n, index in enumerate(audio.deliveries(world, day, self.per_day)):
            fmt = ("wav", "flac", "ogg", "mp3")[n % 4]
            if not (self.directory() / f"{world.track_ids[index]}.{fmt}").exists():
                written.append(str(audio.write_clip(world, index, self.directory(), fmt=fmt)))
        return written

    def truth(self) -> dict[str, dict] | None:
        from spotify_ai_assets.audio.landing import landed_files
        from spotify_ai_assets.sandbox import audio

        world = sandbox_world(self.seed, self.scale)
        index = {tid: i for i, tid in enumerate(world.track_ids)}
        landed = [index[p.stem] for p in landed_files(self.directory()) if p.stem in index]
        return audio.truth(world, landed)


class AlertsResource(dg.ConfigurableResource):
    """Where alerts go. For now a local JSON-lines log (one alert per key, so re-runs never alert twice); the
    observability work puts Sentry and paging behind the same `send`."""

    path: str

    def send(self, alerts: list) -> list:
        from spotify_ai_assets.core.alerts import LocalAlertLog

        return LocalAlertLog(self.path).send(alerts)
