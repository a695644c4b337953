"""The one environment seam: every deployment's resources are built here, from `Settings`.

`local` (default) runs on the sandbox with no credentials and no servers; `branch` and `prod` talk to real
Spotify with secrets from the environment (`EnvVar`, resolved at run time, never stored in config) and write
to their own lake prefix and token-store schema.
"""

from __future__ import annotations

import dagster as dg

from spotify_ai_assets.lib.resources.alerts import AlertsResource
from spotify_ai_assets.lib.resources.audio_landing import LiveAudioLandingResource, SandboxAudioLandingResource
from spotify_ai_assets.lib.resources.ground_truth import NoGroundTruthResource, SandboxGroundTruthResource
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.landing import LiveLandingResource, SandboxLandingResource
from spotify_ai_assets.lib.resources.maintenance import BackupTargetResource, ComplianceResource, HealthResource
from spotify_ai_assets.lib.resources.observability import ObservabilityResource
from spotify_ai_assets.lib.resources.sandbox_world import SandboxWorldResource
from spotify_ai_assets.lib.resources.spotify import LiveSpotifyResource, SandboxSpotifyResource
from spotify_ai_assets.lib.resources.tokens import PostgresTokenStoreResource, SandboxTokenStoreResource
from spotify_ai_assets.settings import Settings

RESOURCE_KEYS = ("lake", "spotify", "token_store", "landing", "audio_landing", "ground_truth", "alerts", "backup",
                 "compliance", "health", "observability")


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    resources = _sandbox(settings) if settings.env == "local" else _live(settings)
    resources.update(_shared(settings))
    return {key: resources[key] for key in RESOURCE_KEYS}


def _sandbox(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    world = SandboxWorldResource(seed=settings.sandbox_seed, scale=settings.sandbox_scale)
    return {
        "spotify": SandboxSpotifyResource(world=world, watchlist_path=settings.watchlist_path),
        "token_store": SandboxTokenStoreResource(world=world, path=settings.token_store_path),
        "landing": SandboxLandingResource(world=world, root=settings.landing_root),
        "audio_landing": SandboxAudioLandingResource(world=world, root=settings.audio_landing_root),
        "ground_truth": SandboxGroundTruthResource(world=world),
    }


def _live(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "spotify": LiveSpotifyResource(
            client_id=dg.EnvVar("SPOTIFY_CLIENT_ID"), client_secret=dg.EnvVar("SPOTIFY_CLIENT_SECRET"),
            api_url=settings.api_url, accounts_url=settings.accounts_url, watchlist_path=settings.watchlist_path),
        "token_store": PostgresTokenStoreResource(dsn=dg.EnvVar("SPOTIFY_AI_TOKEN_DB"),
                                                  schema_name=settings.token_store_schema),
        "landing": LiveLandingResource(root=settings.landing_root),
        "audio_landing": LiveAudioLandingResource(root=settings.audio_landing_root),
        "ground_truth": NoGroundTruthResource(),
    }


def _shared(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The same kind of resource in every environment: only where it points changes."""
    daily, weekly, monthly = settings.backup_retention
    salt: str | dg.EnvVar = settings.erasure_salt_default if settings.env == "local" else dg.EnvVar(
        "SPOTIFY_AI_ERASURE_SALT")
    return {
        "lake": LakeResource(root=settings.lake_root, s3_endpoint_url=settings.s3_endpoint_url),
        "alerts": AlertsResource(path=settings.alerts_path),
        "backup": BackupTargetResource(url=settings.backup_url, s3_endpoint_url=settings.s3_endpoint_url,
                                       keep_daily=daily, keep_weekly=weekly, keep_monthly=monthly),
        "compliance": ComplianceResource(requests_root=settings.erasure_requests_root, salt=salt),
        "health": HealthResource(disk_path=settings.home, min_free_disk_gib=settings.min_free_disk_gib,
                                 run_dead_after_s=settings.run_dead_after_s),
        # The DSN carries a key: an EnvVar, resolved in the process that sends, never stored in config.
        "observability": ObservabilityResource(
            sentry_dsn=dg.EnvVar("SENTRY_DSN") if settings.sentry_enabled else "", environment=settings.env,
            pagerduty_routing_key=dg.EnvVar("PAGERDUTY_ROUTING_KEY") if settings.paging_enabled else "",
            pagerduty_url=settings.pagerduty_url,
            webserver_url=settings.webserver_url, metrics_textfile=settings.metrics_textfile,
            pushgateway_url=settings.pushgateway_url, otlp_endpoint=settings.otlp_endpoint),
    }


def storage_targets(settings: Settings) -> dict[str, str]:
    """Where each environment writes: used to prove prod and branch never share a target."""
    return {"lake": settings.lake_root, "token_store_schema": settings.token_store_schema,
            "landing": settings.landing_root, "audio_landing": settings.audio_landing_root,
            "backup": settings.backup_url, "erasure_requests": settings.erasure_requests_root}
