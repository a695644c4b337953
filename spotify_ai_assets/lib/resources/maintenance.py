"""Resources of the maintenance domain (built for every environment in `spotify_ai_assets.lib.environments`)."""

from __future__ import annotations

import dagster as dg

from spotify_ai_assets.core.maintenance.retention import Policy
from spotify_ai_assets.core.maintenance.storage import LocalStore, ObjectStore, S3Store, split_s3_url
from spotify_ai_assets.settings import DEFAULT_BACKUP_RETENTION, DEFAULT_MIN_FREE_DISK_GIB, DEFAULT_RUN_DEAD_AFTER_S


class BackupTargetResource(dg.ConfigurableResource):
    """Where backups go: a folder, or `s3://bucket/prefix` through dagster-aws's S3Resource (boto3), with
    `s3_endpoint_url` (AWS_ENDPOINT_URL) for S3-compatible stores."""

    url: str
    s3_endpoint_url: str | None = None
    keep_daily: int = DEFAULT_BACKUP_RETENTION[0]
    keep_weekly: int = DEFAULT_BACKUP_RETENTION[1]
    keep_monthly: int = DEFAULT_BACKUP_RETENTION[2]

    def store(self) -> ObjectStore:
        if not self.url.startswith("s3://"):
            return LocalStore(self.url)
        from dagster_aws.s3 import S3Resource

        bucket, prefix = split_s3_url(self.url)
        return S3Store(S3Resource(endpoint_url=self.s3_endpoint_url).get_client(), bucket, prefix)

    def policy(self) -> Policy:
        return Policy(self.keep_daily, self.keep_weekly, self.keep_monthly)


class ComplianceResource(dg.ConfigurableResource):
    """GDPR erasure: the folder requests arrive in, and the salt that hashes user ids in the log and audit
    (an EnvVar outside the sandbox)."""

    requests_root: str
    salt: str


class HealthResource(dg.ConfigurableResource):
    """Thresholds of the health checks."""

    disk_path: str
    min_free_disk_gib: float = DEFAULT_MIN_FREE_DISK_GIB
    # A started run whose worker has not stamped its heartbeat for this long is dead (core/maintenance/liveness.py).
    run_dead_after_s: float = DEFAULT_RUN_DEAD_AFTER_S
