"""Paging for critical failures through PagerDuty's Events API v2 (or anything that speaks it).

Who gets woken: a failed blocking check (severity critical: bad data was stopped from flowing on), and a failed run
nobody was watching, one started by a schedule, a sensor or a backfill (severity error). A run someone launched by
hand fails in front of them and goes to Sentry only. The dedup key is the run and check, so a sensor that
re-evaluates never pages twice for one failure. What is sent passes the same scrubber as Sentry events.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from spotify_ai_assets.core.observability.scrub import Scrubber
from spotify_ai_assets.core.observability.sentry import FailureReport

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
UNATTENDED_TAGS = ("dagster/schedule_name", "dagster/sensor_name", "dagster/backfill")


class PagingError(RuntimeError):
    """The paging endpoint refused the event or stayed unreachable."""


def should_page(report: FailureReport, run_tags: dict[str, str]) -> bool:
    return report.check is not None or any(tag in run_tags for tag in UNATTENDED_TAGS)


def dedup_key(report: FailureReport) -> str:
    return f"spotify_ai:{report.run_id}:{report.check or 'run'}:{report.asset or ''}"[:255]


def event(report: FailureReport, routing_key: str, source: str, scrubber: Scrubber) -> dict[str, Any]:
    """An Events API v2 trigger; the routing key is the only secret in it, and it stays out of the payload."""
    payload = scrubber({
        "summary": f"{report.title} ({report.partition or 'unpartitioned'})"[:1024],
        "source": source,
        "severity": "critical" if report.check else "error",
        "component": report.asset or report.job,
        "group": report.job,
        "class": "blocking_check" if report.check else "run_failure",
        "custom_details": {**report.tags(), **report.extra},
    })
    return {"routing_key": routing_key, "event_action": "trigger", "dedup_key": dedup_key(report),
            "payload": payload, "links": [{"href": report.run_url, "text": "Dagster run"}]}


def send(url: str, body: dict[str, Any], timeout_s: float = 10.0, attempts: int = 3) -> str:
    """POST one event; retries 429 and 5xx with backoff, raises PagingError otherwise. Returns the dedup key."""
    data = json.dumps(body).encode()
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                answer = json.loads(response.read() or b"{}")
                return str(answer.get("dedup_key") or body["dedup_key"])
        except urllib.error.HTTPError as exc:
            if exc.code != 429 and exc.code < 500:
                raise PagingError(f"paging endpoint {url} refused the event: HTTP {exc.code} "
                                  f"{exc.read()[:200].decode(errors='replace')}") from None
            reason = f"HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError) as exc:
            reason = str(getattr(exc, "reason", exc))
        if attempt + 1 < attempts:
            time.sleep(0.5 * 2 ** attempt)
    raise PagingError(f"paging endpoint {url} unreachable after {attempts} attempts: {reason}")
