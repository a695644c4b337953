"""Environment contract, read once when definitions are built (never at import time).

Each default lives in one place: the field's default below. `from_environ` falls back to it (`_default`), and
resources take every value from here, so a default is never written twice."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spotify_ai_assets.core.observability.paging import EVENTS_URL as PAGERDUTY_EVENTS_URL

ENVIRONMENTS = ("local", "branch", "prod")
DEFAULT_API_URL = "https://api.spotify.com/v1/"
DEFAULT_ACCOUNTS_URL = "https://accounts.spotify.com/"


SANDBOX_SCALES = ("tiny", "small", "medium", "bench")
EXECUTORS = ("auto", "in_process", "multiprocess", "celery")
DEFAULT_CELERY_BROKER = "redis://127.0.0.1:6379/0"
# Defaults that resources share with Settings (a resource built by hand, in a test, gets the same value).
DEFAULT_BACKUP_RETENTION = (7, 4, 6)  # newest backups kept per day, ISO week, month
DEFAULT_MIN_FREE_DISK_GIB = 1.0
# A started run whose worker's heartbeat is older than this is dead (core/maintenance/liveness.py).
DEFAULT_RUN_DEAD_AFTER_S = 180.0
DEFAULT_WEBSERVER_URL = "http://127.0.0.1:3000"


class SettingsError(ValueError):
    """A missing or malformed environment variable, named in the message."""


@dataclass(frozen=True)
class Settings:
    env: str
    home: str
    lake_root: str
    landing_root: str
    audio_landing_root: str
    alerts_path: str
    watchlist_path: str | None
    token_store_path: str
    token_store_schema: str
    branch: str | None
    s3_endpoint_url: str | None
    api_url: str = DEFAULT_API_URL
    accounts_url: str = DEFAULT_ACCOUNTS_URL
    sandbox_scale: str = "small"
    sandbox_seed: int = 7
    # Maintenance (issue 7): backup target, retention, GDPR requests, health thresholds.
    backup_url: str = ""
    backup_retention: tuple[int, int, int] = DEFAULT_BACKUP_RETENTION
    erasure_requests_root: str = ""
    erasure_salt_default: str = "sandbox-erasure-salt"
    min_free_disk_gib: float = DEFAULT_MIN_FREE_DISK_GIB
    # Run liveness (issue 22): run workers stamp a heartbeat this often; a started run silent longer is failed.
    run_heartbeat_s: float = 30.0
    run_dead_after_s: float = DEFAULT_RUN_DEAD_AFTER_S
    # Execution (issues 9, 19): how steps run, and the Celery broker and result backend when they run on workers.
    # `auto`: each job's own default (lib/executors.py: light jobs in the run's process, the rest multiprocess).
    executor: str = "auto"
    celery_broker: str = DEFAULT_CELERY_BROKER
    celery_backend: str = DEFAULT_CELERY_BROKER
    # How often a Celery run's worker looks at its steps' results (lib/executors.py celery_poll says why 0.2 s).
    celery_poll_s: float = 0.2
    # Seconds the machine's shared Great Expectations suite server stays up after its last suite (issue 19,
    # core/quality/suite_server.py): GX is imported once per machine, not once per run. 0: no server.
    suite_server_idle_s: float = 120.0
    # Observability (issue 8): Sentry is on when SENTRY_DSN is set (the DSN itself is resolved as an EnvVar).
    sentry_enabled: bool = False
    # Paging is on when PAGERDUTY_ROUTING_KEY is set (resolved as an EnvVar); PAGERDUTY_EVENTS_URL for a proxy.
    paging_enabled: bool = False
    pagerduty_url: str = PAGERDUTY_EVENTS_URL
    webserver_url: str = DEFAULT_WEBSERVER_URL
    metrics_textfile: str = ""
    pushgateway_url: str = ""
    otlp_endpoint: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        env = environ.get("SPOTIFY_AI_ENV", "local").strip().lower()
        if env not in ENVIRONMENTS:
            raise SettingsError(f"SPOTIFY_AI_ENV={env!r} is not one of {', '.join(ENVIRONMENTS)}")
        home = str(Path(environ.get("SPOTIFY_AI_HOME", ".spotify_ai")).absolute())
        branch = _branch_name(environ) if env == "branch" else None

        lake = environ.get("SPOTIFY_AI_LAKE")
        dsn = environ.get("SPOTIFY_AI_TOKEN_DB")
        if env == "local":
            lake = lake or str(Path(home, "lake"))
        else:
            for name, value in (("SPOTIFY_AI_LAKE", lake), ("SPOTIFY_AI_TOKEN_DB", dsn)):
                if not value:
                    raise SettingsError(f"{name} must be set when SPOTIFY_AI_ENV={env}")
            # A branch deployment writes under its own prefix so it can never touch prod objects.
            if env == "branch":
                lake = f"{lake.rstrip('/')}/branches/{branch}"
        assert lake is not None
        # Backups: a folder per environment under the home locally; branches back up under their own prefix.
        # Unset in branch/prod, they go next to the lake (`<lake>_backups`); production should name another bucket.
        backup_url = environ.get("SPOTIFY_AI_BACKUP_URL")
        if env == "local":
            backup_url = backup_url or str(Path(home, "backups", env))
        else:
            backup_url = backup_url or f"{environ['SPOTIFY_AI_LAKE'].rstrip('/')}_backups"
            if env == "branch":
                backup_url = f"{backup_url.rstrip('/')}/branches/{branch}"
        heartbeat = _number(environ, "SPOTIFY_AI_RUN_HEARTBEAT_S", _default("run_heartbeat_s"))
        dead_after = _number(environ, "SPOTIFY_AI_RUN_DEAD_AFTER_S", _default("run_dead_after_s"))
        if heartbeat <= 0 or dead_after < 3 * heartbeat:
            raise SettingsError(f"SPOTIFY_AI_RUN_DEAD_AFTER_S={dead_after:g} must be at least 3 heartbeats "
                                f"(SPOTIFY_AI_RUN_HEARTBEAT_S={heartbeat:g}, > 0): a live run may miss a beat")
        celery_poll = _number(environ, "SPOTIFY_AI_CELERY_POLL_S", _default("celery_poll_s"))
        if not 0 < celery_poll <= 5:
            raise SettingsError(f"SPOTIFY_AI_CELERY_POLL_S={celery_poll:g} must be above 0 and at most 5 seconds")
        suite_idle = _number(environ, "SPOTIFY_AI_SUITE_SERVER_IDLE_S", _default("suite_server_idle_s"))
        if not 0 <= suite_idle <= 86_400:
            raise SettingsError(f"SPOTIFY_AI_SUITE_SERVER_IDLE_S={suite_idle:g} must be 0 (no suite server) to 86400 "
                                "seconds")
        schema = {"local": "spotify_ai_local", "prod": "spotify_ai"}.get(env, f"spotify_ai_branch_{branch}")
        return cls(
            env=env,
            home=home,
            lake_root=lake,
            landing_root=environ.get("SPOTIFY_AI_LANDING", str(Path(home, "landing"))),
            audio_landing_root=environ.get("SPOTIFY_AI_AUDIO_LANDING", str(Path(home, "audio_landing"))),
            alerts_path=environ.get("SPOTIFY_AI_ALERTS_FILE", str(Path(home, "alerts.jsonl"))),
            watchlist_path=environ.get("SPOTIFY_AI_WATCHLIST") or None,
            token_store_path=environ.get("SPOTIFY_AI_TOKEN_FILE", str(Path(home, "tokens.json"))),
            token_store_schema=schema,
            api_url=environ.get("SPOTIFY_API_URL", _default("api_url")),
            accounts_url=environ.get("SPOTIFY_ACCOUNTS_URL", _default("accounts_url")),
            branch=branch,
            sandbox_scale=_choice(environ, "SPOTIFY_AI_SANDBOX_SCALE", _default("sandbox_scale"), SANDBOX_SCALES),
            sandbox_seed=_integer(environ, "SPOTIFY_AI_SANDBOX_SEED", _default("sandbox_seed")),
            s3_endpoint_url=environ.get("AWS_ENDPOINT_URL") or None,
            backup_url=backup_url,
            backup_retention=_retention(environ.get("SPOTIFY_AI_BACKUP_KEEP",
                                                    ",".join(map(str, _default("backup_retention"))))),
            erasure_requests_root=environ.get("SPOTIFY_AI_ERASURE_REQUESTS", str(Path(home, "erasure_requests"))),
            # Branch and prod resolve the salt from the environment at run time (EnvVar), never from config.
            erasure_salt_default=environ.get("SPOTIFY_AI_ERASURE_SALT", _default("erasure_salt_default"))
            if env == "local" else "",
            min_free_disk_gib=_number(environ, "SPOTIFY_AI_MIN_FREE_DISK_GIB", _default("min_free_disk_gib")),
            run_heartbeat_s=heartbeat,
            run_dead_after_s=dead_after,
            executor=_choice(environ, "SPOTIFY_AI_EXECUTOR", _default("executor"), EXECUTORS),
            celery_broker=_celery_broker(environ),
            celery_backend=environ.get("SPOTIFY_AI_CELERY_BACKEND") or _celery_backend(_celery_broker(environ)),
            celery_poll_s=celery_poll,
            suite_server_idle_s=suite_idle,
            sentry_enabled=bool(environ.get("SENTRY_DSN", "").strip()),
            paging_enabled=bool(environ.get("PAGERDUTY_ROUTING_KEY", "").strip()),
            pagerduty_url=environ.get("PAGERDUTY_EVENTS_URL") or PAGERDUTY_EVENTS_URL,
            webserver_url=environ.get("DAGSTER_WEBSERVER_URL", _default("webserver_url")).rstrip("/"),
            # Set to an empty value to turn the textfile off.
            metrics_textfile=environ.get("SPOTIFY_AI_METRICS_TEXTFILE", str(Path(home, "metrics", "spotify_ai.prom"))),
            pushgateway_url=environ.get("SPOTIFY_AI_PUSHGATEWAY", ""),
            otlp_endpoint=environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
        )


def _default(name: str) -> Any:
    """The default of Settings field `name` (its one home)."""
    return {f.name: f.default for f in dataclasses.fields(Settings)}[name]


def _celery_broker(environ: Mapping[str, str]) -> str:
    broker = environ.get("SPOTIFY_AI_CELERY_BROKER") or DEFAULT_CELERY_BROKER
    if not broker.startswith(("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")):
        raise SettingsError(f"SPOTIFY_AI_CELERY_BROKER={broker!r} is not a redis:// or amqp:// URL")
    return broker


def _celery_backend(broker: str) -> str:
    # Redis keeps results itself; RabbitMQ sends them back over the broker (rpc://).
    return broker if broker.startswith("redis") else "rpc://"


def _branch_name(environ: Mapping[str, str]) -> str:
    raw = environ.get("SPOTIFY_AI_BRANCH") or environ.get("DAGSTER_CLOUD_GIT_BRANCH")
    if not raw:
        raise SettingsError("SPOTIFY_AI_BRANCH (or DAGSTER_CLOUD_GIT_BRANCH) must be set when SPOTIFY_AI_ENV=branch")
    # The name becomes a path segment and a SQL schema name: keep it to a safe alphabet.
    slug = re.sub(r"[^a-z0-9_]+", "_", raw.lower()).strip("_")
    if not slug:
        raise SettingsError(f"branch name {raw!r} has no usable characters")
    # Distinct branch names must never share a prefix or schema: when the slug is not the name itself (characters
    # replaced, or cut to length), a hash of the name keeps "a-b" apart from "a_b".
    if slug != raw or len(slug) > 40:
        slug = f"{slug[:32]}_{hashlib.sha1(raw.encode()).hexdigest()[:7]}"
    return slug


def _choice(environ: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = environ.get(name, default).strip().lower()
    if value not in allowed:
        raise SettingsError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def _integer(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None


def _retention(raw: str) -> tuple[int, int, int]:
    try:
        daily, weekly, monthly = (int(x) for x in raw.split(","))
    except ValueError:
        raise SettingsError(f"SPOTIFY_AI_BACKUP_KEEP={raw!r} must be 'daily,weekly,monthly' counts, e.g. '7,4,6'"
                            ) from None
    if min(daily, weekly, monthly) < 0 or daily + weekly + monthly == 0:
        raise SettingsError(f"SPOTIFY_AI_BACKUP_KEEP={raw!r}: counts must be >= 0 and not all zero")
    return daily, weekly, monthly


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
