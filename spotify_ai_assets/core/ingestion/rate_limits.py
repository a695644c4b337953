"""Long rate limits: a step stops at once and says when it may resume; a sensor requests the partition again then.

A 429 whose `Retry-After` is beyond what a step may wait (`RetryPolicy.max_retry_after_s`) must not keep a run
process asleep for an hour or a day (`QUOTA_EXCEEDED`), nor hold a run slot with a delayed step retry. The step
fails with the endpoint and the UTC time it may resume, and records that time in the failure's metadata
(`RESUME_AT`), where `due_retries` finds it once the time has passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from spotify_ai_assets.core.kernel.spotify_api import RateLimitExceeded

RESUME_AT = "spotify_rate_limited_until"
ENDPOINT = "spotify_rate_limited_endpoint"
REASON = "spotify_rate_limit_reason"


def stop_message(exc: RateLimitExceeded, waited_at_most_s: float) -> str:
    return (f"Spotify rate limit on {exc.endpoint}: Retry-After {exc.retry_after_s:.0f} s (reason: "
            f"{exc.reason or 'n/a'}) is longer than the {waited_at_most_s:.0f} s a step may wait, so the step "
            f"stopped without writing anything. The partition may resume at {iso(exc.resume_at)}; "
            f"spotify_rate_limit_retry_sensor requests it again then.")


def stop_metadata(exc: RateLimitExceeded) -> dict[str, str]:
    return {RESUME_AT: iso(exc.resume_at), ENDPOINT: exc.endpoint, REASON: exc.reason or "n/a",
            "retry_after_s": f"{exc.retry_after_s:.0f}"}


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return moment if moment.tzinfo else None


@dataclass(frozen=True)
class StoppedRun:
    """A run that ended on a long rate limit."""

    run_id: str
    job_name: str
    partition: str | None
    resume_at: dt.datetime
    stopped_at: float  # run creation timestamp (seconds), to tell later runs of the partition from earlier ones


def due_retries(stopped: Iterable[StoppedRun], now: dt.datetime, succeeded_since: set[tuple[str, str | None]]
                ) -> list[StoppedRun]:
    """The stopped runs to request again now: their resume time has passed, and the partition has not succeeded
    since (an operator may have re-run it). One per (job, partition): the latest stop wins."""
    latest: dict[tuple[str, str | None], StoppedRun] = {}
    for run in stopped:
        key = (run.job_name, run.partition)
        if key not in latest or run.stopped_at > latest[key].stopped_at:
            latest[key] = run
    return sorted((r for key, r in latest.items() if r.resume_at <= now and key not in succeeded_since),
                  key=lambda r: (r.resume_at, r.run_id))
