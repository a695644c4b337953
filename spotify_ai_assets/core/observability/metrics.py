"""Run and asset metrics, exported in Prometheus format (textfile or pushgateway) and, optionally, as OpenTelemetry.

A finished run becomes a `RunMetrics`: its duration and status, and per materialized asset the step duration, rows
in and out, bytes written, quarantined records, and the Spotify API's calls, 429s and retries. Label values are
job, asset and status only (never run ids or user data), so series stay few.

- Textfile (node exporter's textfile collector): `write_textfile` keeps running totals in a JSON file next to the
  .prom file, so `*_total` series are real counters across runs, and last-run values as gauges. The file is
  written aside and moved into place, as the collector requires.
- Pushgateway: `push` sends the same registry, grouped by job.
- OpenTelemetry: `export_otlp` sends the figures as metrics and the run as a trace (a span per step) to an OTLP/HTTP
  endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

PREFIX = "spotify_ai"
COUNTED = ("rows_out", "rows_in", "bytes_written", "quarantined", "api_calls", "api_throttled", "api_retries")


@dataclass(frozen=True)
class AssetMetrics:
    asset: str
    partition: str | None = None
    step_seconds: float | None = None
    rows_in: int = 0
    rows_out: int = 0
    bytes_written: int = 0
    quarantined: int = 0
    api_calls: int = 0
    api_throttled: int = 0
    api_retries: int = 0


@dataclass(frozen=True)
class RunMetrics:
    run_id: str
    job: str
    status: str  # "success" or "failure"
    trace_id: str
    started_at: float  # unix seconds
    ended_at: float
    assets: list[AssetMetrics] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return max(0.0, self.ended_at - self.started_at)


def _state_path(textfile: Path) -> Path:
    return textfile.with_name(textfile.name + ".state.json")


def _accumulate(state: dict, run: RunMetrics) -> dict:
    runs = state.setdefault("runs_total", {})
    key = f"{run.job}|{run.status}"
    runs[key] = runs.get(key, 0) + 1
    assets = state.setdefault("assets_total", {})
    for a in run.assets:
        totals = assets.setdefault(a.asset, {})
        totals["materializations"] = totals.get("materializations", 0) + 1
        for name in COUNTED:
            totals[name] = totals.get(name, 0) + getattr(a, name)
    last = state.setdefault("last_run", {})
    last[run.job] = {"status": run.status, "duration_s": run.duration_s, "ended_at": run.ended_at}
    steps = state.setdefault("last_step_seconds", {})
    for a in run.assets:
        if a.step_seconds is not None:
            steps[a.asset] = a.step_seconds
    return state


def registry_from_state(state: dict):  # -> prometheus_client.CollectorRegistry
    from prometheus_client import CollectorRegistry, Counter, Gauge

    registry = CollectorRegistry()
    runs = Counter(f"{PREFIX}_runs", "Finished runs", ["job", "status"], registry=registry)
    for key, n in state.get("runs_total", {}).items():
        job, status = key.split("|", 1)
        runs.labels(job, status).inc(n)
    counters = {name: Counter(f"{PREFIX}_asset_{name}", f"Sum of {name.replace('_', ' ')} over materializations",
                              ["asset"], registry=registry) for name in ("materializations", *COUNTED)}
    for asset, totals in state.get("assets_total", {}).items():
        for name, value in totals.items():
            if name in counters and value:
                counters[name].labels(asset).inc(value)
    duration = Gauge(f"{PREFIX}_run_duration_seconds", "Duration of the job's last run", ["job", "status"],
                     registry=registry)
    ended = Gauge(f"{PREFIX}_run_last_end_timestamp_seconds", "When the job's last run ended", ["job", "status"],
                  registry=registry)
    for job, last in state.get("last_run", {}).items():
        duration.labels(job, last["status"]).set(last["duration_s"])
        ended.labels(job, last["status"]).set(last["ended_at"])
    step = Gauge(f"{PREFIX}_asset_step_seconds", "Duration of the asset's last step", ["asset"], registry=registry)
    for asset, seconds in state.get("last_step_seconds", {}).items():
        step.labels(asset).set(seconds)
    return registry


def write_textfile(path: str | os.PathLike, run: RunMetrics) -> dict:
    """Add `run` to the running totals next to `path` and rewrite the .prom file; returns the new state."""
    from prometheus_client import write_to_textfile

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    state_file = _state_path(target)
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    if run.run_id in state.get("runs_seen", []):
        return state  # a replayed sensor tick must not count a run twice
    state = _accumulate(state, run)
    state["runs_seen"] = [*state.get("runs_seen", []), run.run_id][-1000:]
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".state.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
    os.replace(tmp, state_file)
    write_to_textfile(str(target), registry_from_state(state))  # writes aside and renames
    return state


def push(gateway: str, run: RunMetrics, timeout_s: float = 10.0) -> None:
    """Push this run's figures to a Prometheus pushgateway, grouped by job (replacing the job's previous push)."""
    from prometheus_client import push_to_gateway

    registry = registry_from_state(_accumulate({}, run))
    push_to_gateway(gateway, job=f"{PREFIX}_{run.job}", registry=registry, timeout=timeout_s)


def export_otlp(endpoint: str, run: RunMetrics, service: str = "spotify_ai_assets") -> None:
    """The run as an OpenTelemetry trace (a span per materialized asset) and its figures as metrics, over OTLP/HTTP."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    base = endpoint.rstrip("/")
    resource = Resource.create({"service.name": service})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
    tracer = tracer_provider.get_tracer(service)
    attrs = {"dagster.run_id": run.run_id, "dagster.job": run.job, "spotify_ai.trace_id": run.trace_id,
             "dagster.status": run.status}
    start_ns, end_ns = int(run.started_at * 1e9), int(run.ended_at * 1e9)
    root = tracer.start_span(f"run {run.job}", start_time=start_ns, attributes=attrs)
    from opentelemetry import trace

    with trace.use_span(root, end_on_exit=False):
        for a in run.assets:
            span = tracer.start_span(f"asset {a.asset}", start_time=start_ns, attributes={
                **attrs, "dagster.asset": a.asset, "dagster.partition": a.partition or "",
                **{f"spotify_ai.{k}": getattr(a, k) for k in COUNTED}})
            span.end(end_time=start_ns + int((a.step_seconds or 0) * 1e9))
    root.end(end_time=end_ns)
    tracer_provider.shutdown()

    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = meter_provider.get_meter(service)
    meter.create_histogram(f"{PREFIX}.run.duration", unit="s").record(run.duration_s, {"job": run.job,
                                                                                        "status": run.status})
    for name in COUNTED:
        counter = meter.create_counter(f"{PREFIX}.asset.{name}")
        for a in run.assets:
            counter.add(getattr(a, name), {"asset": a.asset, "job": run.job})
    data = reader.get_metrics_data()
    exporter = OTLPMetricExporter(endpoint=f"{base}/v1/metrics")
    exporter.export(data)
    exporter.shutdown()
    meter_provider.shutdown()


def as_json(run: RunMetrics) -> str:
    return json.dumps(asdict(run), sort_keys=True)
