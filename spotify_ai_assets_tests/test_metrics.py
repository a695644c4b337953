"""Run and asset metrics read back from a Prometheus textfile, a pushgateway and an OTLP/HTTP collector."""

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import dagster as dg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from spotify_ai_assets.core.observability.metrics import write_textfile
from spotify_ai_assets.defs.ingestion.catalog import spotify_catalog
from spotify_ai_assets.defs.ingestion.listening_events import listening_events
from spotify_ai_assets.defs.observability.run_metrics import run_metrics
from spotify_ai_assets.lib.environments import build_resources
from spotify_ai_assets.lib.resources.observability import ObservabilityResource
from spotify_ai_assets.settings import Settings

from .conftest import DAY
from .local_http import serving


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((self.command, self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", self.headers.get("Content-Type", "text/plain"))
        self.end_headers()

    do_PUT = do_POST = _record

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.received = []
    with serving(_Collector) as url:
        yield url


@pytest.fixture(scope="module")
def ingest_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dg.DagsterInstance, dg.DagsterRun]]:
    environ = {"SPOTIFY_AI_HOME": str(tmp_path_factory.mktemp("home")), "SPOTIFY_AI_SANDBOX_SCALE": "tiny"}
    with dg.instance_for_test() as instance:
        result = dg.materialize([spotify_catalog, listening_events], partition_key=DAY.isoformat(), instance=instance,
                                resources=build_resources(Settings.from_environ(environ)))
        assert result.success
        yield instance, instance.get_run_by_id(result.run_id)


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_runs_figures_come_from_its_events(ingest_run) -> None:
    instance, run = ingest_run
    figures = run_metrics(instance, run, "success")
    by_asset = {a.asset: a for a in figures.assets}
    assert set(by_asset) == {"spotify_artists", "spotify_albums", "spotify_tracks", "listening_events"}
    events = instance.get_latest_materialization_event(dg.AssetKey("listening_events")).asset_materialization
    ev = by_asset["listening_events"]
    assert ev.rows_out == events.metadata["dagster/row_count"].value > 0
    assert ev.rows_in == events.metadata["export_records"].value + events.metadata["recently_played_rows"].value
    assert ev.bytes_written == events.metadata["bytes"].value and ev.step_seconds > 0
    quarantine = next(e for e in instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
        if e.event_log_entry.dagster_event.event_specific_data.check_name == "quarantine"
        and e.event_log_entry.dagster_event.event_specific_data.asset_key == dg.AssetKey("listening_events"))
    assert ev.quarantined == quarantine.event_log_entry.dagster_event.event_specific_data.metadata[
        "quarantined"].value > 0  # the sandbox's exports carry a few bad records on purpose
    assert by_asset["spotify_artists"].api_calls > 0
    assert figures.duration_s > 0 and figures.job == "__ephemeral_asset_job__"


def test_the_textfile_counts_each_run_once_and_reads_back(ingest_run, tmp_path: Path) -> None:
    instance, run = ingest_run
    figures = run_metrics(instance, run, "success")
    prom = tmp_path / "metrics" / "spotify_ai.prom"
    resource = ObservabilityResource(metrics_textfile=str(prom))
    assert resource.export_metrics(figures) == ["textfile"]
    resource.export_metrics(figures)  # a replayed sensor tick
    samples = _samples(prom.read_text())
    job = figures.job
    assert samples[("spotify_ai_runs_total", (("job", job), ("status", "success")))] == 1
    ev = next(a for a in figures.assets if a.asset == "listening_events")
    assert samples[("spotify_ai_asset_rows_out_total", (("asset", "listening_events"),))] == ev.rows_out
    assert samples[("spotify_ai_asset_quarantined_total", (("asset", "listening_events"),))] == ev.quarantined
    assert samples[("spotify_ai_run_duration_seconds", (("job", job), ("status", "success")))] == pytest.approx(
        figures.duration_s)
    # Another run of the job adds to the counters.
    write_textfile(prom, figures.__class__(**{**figures.__dict__, "run_id": "another-run"}))
    samples = _samples(prom.read_text())
    assert samples[("spotify_ai_runs_total", (("job", job), ("status", "success")))] == 2
    assert samples[("spotify_ai_asset_rows_out_total", (("asset", "listening_events"),))] == 2 * ev.rows_out


def test_pushgateway_and_otlp_receive_the_run(ingest_run, collector: str) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    instance, run = ingest_run
    figures = run_metrics(instance, run, "success")
    resource = ObservabilityResource(pushgateway_url=collector, otlp_endpoint=collector)
    assert resource.export_metrics(figures) == ["pushgateway", "otlp"]

    pushed = [(path, body) for method, path, body in _Collector.received if path.startswith("/metrics/job/")]
    assert [p for p, _ in pushed] == [f"/metrics/job/spotify_ai_{figures.job}"]
    samples = _samples(pushed[0][1].decode())
    ev = next(a for a in figures.assets if a.asset == "listening_events")
    assert samples[("spotify_ai_asset_rows_out_total", (("asset", "listening_events"),))] == ev.rows_out

    posts = [ExportTraceServiceRequest.FromString(b) for _, p, b in _Collector.received if p == "/v1/traces"]
    spans = {s.name: s for t in posts for rs in t.resource_spans for ss in rs.scope_spans for s in ss.spans}
    assert {f"run {figures.job}", "asset listening_events", "asset spotify_artists"} <= set(spans)
    run_span = spans[f"run {figures.job}"]
    assert spans["asset listening_events"].parent_span_id == run_span.span_id
    attrs = {a.key: a.value.string_value for a in run_span.attributes}
    assert attrs["dagster.run_id"] == run.run_id and attrs["spotify_ai.trace_id"] == figures.trace_id

    exported = ExportMetricsServiceRequest.FromString(next(b for _, p, b in _Collector.received
                                                           if p == "/v1/metrics"))
    points = {(m.name, next(a.value.string_value for a in dp.attributes if a.key == "asset")): dp.as_int
              for rm in exported.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
              if m.HasField("sum") for dp in m.sum.data_points}
    assert points[("spotify_ai.asset.rows_out", "listening_events")] == ev.rows_out
