"""Failure alerts: a failed run and its failed blocking check arrive at a local Sentry endpoint, scrubbed; the
critical ones page a local PagerDuty Events API v2 endpoint, scrubbed, once each."""

import gzip
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import dagster as dg
import pytest

from spotify_ai_assets.core.observability import paging, sentry
from spotify_ai_assets.core.observability.scrub import REDACTED, Scrubber
from spotify_ai_assets.defs.observability.failure_alerts import failure_alerts_sensor
from spotify_ai_assets.lib.resources.observability import ObservabilityResource
from spotify_ai_assets.lib.trace import TRACE_TAG

from .local_http import serving

SECRET = "planted-client-secret-7f3a9c"
USER = "userq2xk8d1m0z"


class _Recorder(BaseHTTPRequestHandler):
    envelopes: list[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.envelopes.append([json.loads(line) for line in body.splitlines() if line.strip()])
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sentry_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    _Recorder.envelopes = []
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", SECRET)
    with serving(_Recorder) as url:
        yield url.replace("http://", "http://public0key@") + "/42"


@dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2026-01-01"),
          check_specs=[dg.AssetCheckSpec("rows_present", asset="plays_by_user", blocking=True)])
def plays_by_user(context: dg.AssetExecutionContext):
    # A check that fails, then a crash whose message carries a secret and a user's e-mail: neither may reach Sentry.
    yield dg.AssetCheckResult(check_name="rows_present", passed=False, severity=dg.AssetCheckSeverity.ERROR,
                              metadata={"user_id": USER})
    raise RuntimeError(f"token refresh failed with {SECRET} for {USER}@example.com")


def _events() -> list[dict]:
    return [item for env in _Recorder.envelopes for item in env if "message" in item or "tags" in item]


def _fail_and_alert(instance: dg.DagsterInstance, resource: ObservabilityResource, tags: dict[str, str]) -> str:
    """Run plays_by_user into its failure, then give that failure to the sensor; returns the run id."""
    result = dg.materialize([plays_by_user], partition_key="2026-01-05", instance=instance, raise_on_error=False,
                            tags=tags)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="failure_alerts_sensor", dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id), dagster_event=result.get_run_failure_event(),
        resources={"observability": resource},
    ).for_run_failure()
    failure_alerts_sensor(context)
    return result.run_id


def test_a_failed_run_and_its_blocking_check_reach_sentry_scrubbed(sentry_endpoint: str) -> None:
    resource = ObservabilityResource(sentry_dsn=sentry_endpoint, environment="test",
                                     webserver_url="http://dagster.example:3000")
    with dg.instance_for_test() as instance:
        run_id = _fail_and_alert(instance, resource, {TRACE_TAG: "trace-abc123"})
        sentry.flush()

    events = _events()
    assert len(events) == 2, _Recorder.envelopes
    by_title = {e["message"].split(" (")[0] if isinstance(e["message"], str) else e["message"]["formatted"]: e
                for e in events}
    run_event = by_title["run of __ephemeral_asset_job__ failed"]
    check_event = by_title["blocking check plays_by_user:rows_present failed"]
    for event in (run_event, check_event):
        tags = event["tags"]
        assert tags["run_id"] == run_id and tags["trace_id"] == "trace-abc123"
        assert tags["partition"] == "2026-01-05" and tags["job"] == "__ephemeral_asset_job__"
        assert f"http://dagster.example:3000/runs/{run_id}" in event["message"]
        assert event["environment"] == "test" and event["level"] == "error"
    assert check_event["tags"]["asset"] == "plays_by_user" and check_event["tags"]["check"] == "rows_present"
    assert run_event["contexts"]["dagster"]["failed_steps"] == ["plays_by_user"]
    # The crash's message is kept for on-call, minus its secret and the user's address.
    assert run_event["contexts"]["dagster"]["errors"] == [
        f"RuntimeError: token refresh failed with {REDACTED} for {REDACTED}"]
    # The envelope header names the DSN's public key, as the protocol requires; the events themselves never do.
    payload = json.dumps([item for envelope in _Recorder.envelopes for item in envelope[1:]])
    for leak in (SECRET, USER, "example.com", "public0key"):
        assert leak not in payload, leak
    assert run_event["release"].startswith("spotify_ai_assets@")


def test_without_a_dsn_nothing_is_sent(sentry_endpoint: str) -> None:
    assert not ObservabilityResource(sentry_dsn="").sentry_on()
    assert _Recorder.envelopes == []


def test_the_scrubber_removes_secrets_and_personal_data_wherever_they_hide() -> None:
    scrub = Scrubber([SECRET, "short"])
    event = {
        "message": f"failed: Bearer abcdefgh12345678 and {SECRET} mailed to ana.lopez@example.org",
        "extra": {"refresh_token": "AQD-xyz", "user_id": USER, "nested": [{"password": "hunter22"},
                                                                            {"note": f"x{SECRET}y"}]},
        "request": {"headers": {"Authorization": "Basic dXNlcjpwYXNz", "Accept": "json"}},
        "tags": {"job": "daily_refresh_job", "count": 3},
    }
    clean = scrub(event)
    assert clean["message"] == f"failed: Bearer {REDACTED} and {REDACTED} mailed to {REDACTED}"
    assert clean["extra"]["refresh_token"] == REDACTED and clean["extra"]["user_id"] == REDACTED
    assert clean["extra"]["nested"] == [{"password": REDACTED}, {"note": f"x{REDACTED}y"}]
    assert clean["request"]["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert clean["tags"] == {"job": "daily_refresh_job", "count": 3}
    assert scrub("a short word") == "a short word"  # values under 6 characters are not treated as secrets


class _PagerDuty(BaseHTTPRequestHandler):
    events: list[dict] = []
    fail_first: int = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _PagerDuty.fail_first:
            _PagerDuty.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        if body.get("event_action") != "trigger" or not body.get("routing_key"):
            self.send_response(400)
            self.end_headers()
            self.wfile.write(b'{"status":"invalid event","errors":["routing_key missing"]}')
            return
        _PagerDuty.events.append(body)
        self.send_response(202)
        self.end_headers()
        self.wfile.write(json.dumps({"status": "success", "dedup_key": body["dedup_key"]}).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def pagerduty() -> Iterator[str]:
    _PagerDuty.events, _PagerDuty.fail_first = [], 0
    with serving(_PagerDuty) as url:
        yield f"{url}/v2/enqueue"


ROUTING_KEY = "R0UT1NGKEYplanted0000000000000"


def test_critical_failures_page_once_each_scrubbed(pagerduty: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", SECRET)
    resource = ObservabilityResource(pagerduty_routing_key=ROUTING_KEY, pagerduty_url=pagerduty, environment="prod",
                                     webserver_url="http://dagster.example:3000")
    with dg.instance_for_test() as instance:
        # Launched by hand: the person sees the failed run; only the failed blocking check pages.
        manual = _fail_and_alert(instance, resource, {TRACE_TAG: "trace-manual"})
        assert [e["payload"]["class"] for e in _PagerDuty.events] == ["blocking_check"]
        # Started by a schedule: nobody is watching, the run failure pages too.
        scheduled = _fail_and_alert(instance, resource, {"dagster/schedule_name": "daily_refresh_schedule"})
    check_page, run_page, scheduled_check = _PagerDuty.events
    assert [e["payload"]["class"] for e in _PagerDuty.events[1:]] == ["run_failure", "blocking_check"]
    assert check_page["routing_key"] == ROUTING_KEY and check_page["event_action"] == "trigger"
    assert check_page["payload"]["severity"] == "critical" and run_page["payload"]["severity"] == "error"
    assert check_page["payload"]["summary"] == "blocking check plays_by_user:rows_present failed (2026-01-05)"
    assert check_page["payload"]["custom_details"]["trace_id"] == "trace-manual"
    assert check_page["links"] == [{"href": f"http://dagster.example:3000/runs/{manual}", "text": "Dagster run"}]
    assert run_page["payload"]["custom_details"]["run_id"] == scheduled
    assert len({e["dedup_key"] for e in _PagerDuty.events}) == 3 and scheduled in scheduled_check["dedup_key"]
    payloads = json.dumps([e["payload"] for e in _PagerDuty.events])
    for leak in (SECRET, USER, "example.com", ROUTING_KEY):
        assert leak not in payloads, leak
    assert run_page["payload"]["custom_details"]["errors"] == [
        f"RuntimeError: token refresh failed with {REDACTED} for {REDACTED}"]


def test_paging_retries_an_outage_and_names_a_refusal(pagerduty: str) -> None:
    report = sentry.FailureReport(title="blocking check a:b failed", run_id="r1", job="j", trace_id="t",
                                  run_url="http://x/runs/r1", asset="a", check="b")
    body = paging.event(report, ROUTING_KEY, "test", Scrubber())
    _PagerDuty.fail_first = 2
    assert paging.send(pagerduty, body) == paging.dedup_key(report)
    assert len(_PagerDuty.events) == 1
    with pytest.raises(paging.PagingError, match=r"HTTP 400.*routing_key missing") as refused:
        paging.send(pagerduty, {**body, "routing_key": ""})
    assert ROUTING_KEY not in str(refused.value)
    assert not ObservabilityResource().paging_on()
