"""Structured logs: the instance config shipped in dagster.yaml writes JSON lines that carry the trace id."""

import json
from pathlib import Path

import dagster as dg
import yaml

from spotify_ai_assets.lib.trace import TRACE_TAG

REPO = Path(__file__).resolve().parents[1]
SECRET = "planted-log-secret-5b1e0c"


@dg.asset
def chatty(context: dg.AssetExecutionContext) -> None:
    context.log.info(f"calling the API with {SECRET} for ana@example.org")


def test_every_log_line_is_json_with_the_runs_trace_id(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", SECRET)
    python_logs = yaml.safe_load((REPO / "dagster.yaml").read_text())["python_logs"]
    handler = python_logs["dagster_handler_config"]["handlers"]["json_lines"]
    log = tmp_path / "logs" / "spotify_ai.jsonl"  # its folder does not exist yet: the handler makes it
    handler["filename"] = str(log)
    with dg.instance_for_test(overrides={"python_logs": python_logs}) as instance:
        result = dg.materialize([chatty], instance=instance, tags={TRACE_TAG: "trace-77"})
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) > 3 and {line["run_id"] for line in lines} == {result.run_id}
    assert {line["trace_id"] for line in lines} == {"trace-77"}
    assert {"STEP_START", "STEP_SUCCESS"} <= {line.get("event") for line in lines}
    said = next(line for line in lines if line["message"].startswith("calling the API"))
    assert said["step"] == "chatty" and said["level"] == "info"
    assert said["message"] == "calling the API with [redacted] for [redacted]"
