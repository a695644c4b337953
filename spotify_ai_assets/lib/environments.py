"""The one environment seam: every deployment's resources are built here, from `Settings`.

`local` (default) runs on the sandbox with no credentials and no servers; `branch` and `prod` talk to real
Spotify with secrets from the environment (`EnvVar`, resolved at run time, never stored in config) and write
to their own lake prefix and token-store schema.
"""

from __future__ import annotations

import dagster as dg

from spotify_ai_assets.lib.resources.core import (
    AlertsResource,
    AudioLandingResource,
    LakeResource,
    LandingResource,
    SandboxAudioLandingResource,
    SandboxLandingResource,
    SandboxSpotifyResource,
    SandboxTokenStoreResource,
    SpotifyResource,
    TokenStoreResource,
)
from spotify_ai_assets.lib.resources.maintenance import BackupTargetResource, ComplianceResource, HealthResource
from spotify_ai_assets.lib.resources.observability import ObservabilityResource
from spotify_ai_assets.settings import Settings

RESOURCE_KEYS = ("lake", "spotify", "token_store", "landing", "audio_landing", "alerts", "backup", "compliance",
                 "health", "observability")


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    lake = LakeResource(root=settings.lake_root, s3_endpoint_url=settings.s3_endpoint_url)
    if settings.env == "local":
        sandbox = {"seed": settings.sandbox_seed, "scale": settings.sandbox_scale}
        resources: dict[str, dg.ConfigurableResource] = {
            "lake": lake,
            "spotify": SandboxSpotifyResource(watchlist_path=settings.watchlist_path, **sandbox),
            "token_store": SandboxTokenStoreResource(path=settings.token_store_path, **sandbox),
            "landing": SandboxLandingResource(root=settings.landing_root, **sandbox),
            "audio_landing": SandboxAudioLandingResource(root=settings.audio_landing_root, **sandbox),
            "alerts": AlertsResource(path=settings.alerts_path),
        }
    else:
        resources = {
            "lake": lake,
            "spotify": SpotifyResource(
                client_id=dg.EnvVar("SPOTIFY_CLIENT_ID"), client_secret=dg.EnvVar("SPOTIFY_CLIENT_SECRET"),
                api_url=settings.api_url, accounts_url=settings.accounts_url, watchlist_path=settings.watchlist_path,
            ),
            "token_store": TokenStoreResource(dsn=dg.EnvVar("SPOTIFY_AI_TOKEN_DB"),
                                              schema_name=settings.token_store_schema),
            "landing": LandingResource(root=settings.landing_root),
            "audio_landing": AudioLandingResource(root=settings.audio_landing_root),
            "alerts": AlertsResource(path=settings.alerts_path),
        }
    resources.update(_maintenance(settings))
    assert tuple(resources) == RESOURCE_KEYS
    return resources


def _maintenance(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    daily, weekly, monthly = settings.backup_retention
    salt: str | dg.EnvVar = settings.erasure_salt_default if settings.env == "local" else dg.EnvVar(
        "SPOTIFY_AI_ERASURE_SALT")
    return {
        "backup": BackupTargetResource(url=settings.backup_url, s3_endpoint_url=settings.s3_endpoint_url,
                                       keep_daily=daily, keep_weekly=weekly, keep_monthly=monthly),
        "compliance": ComplianceResource(requests_root=settings.erasure_requests_root, salt=salt),
        "health": HealthResource(disk_path=settings.home, min_free_disk_gib=settings.min_free_disk_gib),
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
