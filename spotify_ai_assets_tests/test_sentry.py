"""Sentry alerts: a failed run and its failed blocking check arrive at a local Sentry endpoint, scrubbed."""

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from spotify_ai_assets.observability import sentry
from spotify_ai_assets.observability.scrub import REDACTED, Scrubber
from spotify_ai_assets.pipeline.observability.resource import ObservabilityResource
from spotify_ai_assets.pipeline.observability.sentry_alerts import sentry_failure_sensor
from spotify_ai_assets.pipeline.observability.trace import TRACE_TAG

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
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Recorder.envelopes = []
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", SECRET)
    yield f"http://public0key@127.0.0.1:{server.server_address[1]}/42"
    server.shutdown()


@dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2026-01-01"),
          check_specs=[dg.AssetCheckSpec("rows_present", asset="plays_by_user", blocking=True)])
def plays_by_user(context: dg.AssetExecutionContext):
    # A check that fails, then a crash whose message carries a secret and a user's e-mail: neither may reach Sentry.
    yield dg.AssetCheckResult(check_name="rows_present", passed=False, severity=dg.AssetCheckSeverity.ERROR,
                              metadata={"user_id": USER})
    raise RuntimeError(f"token refresh failed with {SECRET} for {USER}@example.com")


def _events() -> list[dict]:
    return [item for env in _Recorder.envelopes for item in env if "message" in item or "tags" in item]


def test_a_failed_run_and_its_blocking_check_reach_sentry_scrubbed(sentry_endpoint: str) -> None:
    resource = ObservabilityResource(sentry_dsn=sentry_endpoint, environment="test",
                                     webserver_url="http://dagster.example:3000")
    with dg.instance_for_test() as instance:
        result = dg.materialize([plays_by_user], partition_key="2026-01-05", instance=instance, raise_on_error=False,
                                tags={TRACE_TAG: "trace-abc123"})
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        context = dg.build_run_status_sensor_context(
            sensor_name="sentry_failure_sensor", dagster_instance=instance, dagster_run=run,
            dagster_event=result.get_run_failure_event(), resources={"observability": resource},
        ).for_run_failure()
        sentry_failure_sensor(context)
        sentry.flush()

    events = _events()
    assert len(events) == 2, _Recorder.envelopes
    by_title = {e["message"].split(" (")[0] if isinstance(e["message"], str) else e["message"]["formatted"]: e
                for e in events}
    run_event = by_title["run of __ephemeral_asset_job__ failed"]
    check_event = by_title["blocking check plays_by_user:rows_present failed"]
    for event in (run_event, check_event):
        tags = event["tags"]
        assert tags["run_id"] == result.run_id and tags["trace_id"] == "trace-abc123"
        assert tags["partition"] == "2026-01-05" and tags["job"] == "__ephemeral_asset_job__"
        assert f"http://dagster.example:3000/runs/{result.run_id}" in event["message"]
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
