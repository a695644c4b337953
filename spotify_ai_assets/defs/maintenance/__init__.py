"""Maintenance and compliance in Dagster: nightly lake backups with a restore drill, restore job, retention,
GDPR erasure requests, health checks and freshness. The logic lives in `spotify_ai_assets.maintenance`."""
