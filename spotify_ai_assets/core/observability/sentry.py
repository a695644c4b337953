"""Sentry through sentry-sdk: one init per process, events built from plain facts, scrubbed before they are sent."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from spotify_ai_assets.core.observability.scrub import Scrubber, secrets_from

_initialised: dict[str, bool] = {}


@dataclass(frozen=True)
class FailureReport:
    """What an on-call person needs about a failed run or check; no payloads, no user data."""

    title: str
    run_id: str
    job: str
    trace_id: str
    run_url: str
    level: str = "error"
    asset: str | None = None
    partition: str | None = None
    check: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def tags(self) -> dict[str, str]:
        tags = {"run_id": self.run_id, "job": self.job, "trace_id": self.trace_id}
        tags.update({k: v for k, v in (("asset", self.asset), ("partition", self.partition),
                                       ("check", self.check)) if v})
        return tags


def init(dsn: str, environment: str, release: str | None = None) -> bool:
    """Start sentry-sdk once per process and DSN; False (and nothing sent, ever) without a DSN."""
    if not dsn:
        return False
    if _initialised.get(dsn):
        return True
    import sentry_sdk

    scrubber = Scrubber([*secrets_from(dict(os.environ)), dsn])

    def before_send(event: dict, hint: dict) -> dict:
        return scrubber(event)

    sentry_sdk.init(dsn=dsn, environment=environment, release=release,
                    before_send=before_send, default_integrations=False, auto_enabling_integrations=False,
                    traces_sample_rate=0.0)
    _initialised.clear()
    _initialised[dsn] = True
    return True


def send(report: FailureReport) -> str | None:
    """Send one event; returns its event id."""
    import sentry_sdk

    with sentry_sdk.new_scope() as scope:
        for k, v in report.tags().items():
            scope.set_tag(k, v)
        scope.set_context("dagster", {"run_url": report.run_url, **report.tags(), **report.extra})
        scope.fingerprint = [report.job, report.asset or "", report.check or "", report.title]
        return sentry_sdk.capture_message(f"{report.title} ({report.run_url})", level=report.level)


def flush(timeout_s: float = 5.0) -> None:
    import sentry_sdk

    sentry_sdk.flush(timeout=timeout_s)
