"""The audit trail: one append-only record per materialization with its trace id, content hash and origin."""

import datetime as dt
import hashlib
from pathlib import Path

import dagster as dg
import pytest

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.observability.audit import AUDIT_TABLE, AuditExists, append, read_run, started_by
from spotify_ai_assets.definitions import load_defs_folder
from spotify_ai_assets.defs.observability.audit_trail import audit_run
from spotify_ai_assets.defs.observability.finished_runs import finished_run_success_sensor, trace_id_sensor
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.observability import ObservabilityResource
from spotify_ai_assets.lib.trace import TRACE_TAG, trace_id_of
from spotify_ai_assets.sandbox.world import EPOCH, World

from .sandbox_lake import write_daily_stats

DAY = EPOCH + dt.timedelta(days=10)


def _sensor_context(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, name: str,
                    resources: dict) -> dg.RunStatusSensorContext:
    run = instance.get_run_by_id(result.run_id)
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS)
    return dg.build_run_status_sensor_context(sensor_name=name, dagster_instance=instance, dagster_run=run,
                                              dagster_event=event, resources=resources)


def test_every_materialization_of_a_run_gets_one_audit_record_with_no_daemon(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_daily_stats(World(seed=7, scale="tiny"), lake, EPOCH, DAY, ("daily_track_country_stats",
                                                                       "daily_artist_stats"))
    resources = {"lake": LakeResource(root=lake.root)}
    sensor_resources = {**resources, "observability": ObservabilityResource()}
    loaded = load_defs_folder()  # as a user's test takes the assets: the audit hooks come with them
    assets = [loaded.get_assets_def("track_trends"), loaded.get_assets_def("platform_daily_report")]
    with dg.instance_for_test() as instance:
        result = dg.materialize(assets, partition_key=DAY.isoformat(), instance=instance, resources=resources,
                                tags={TRACE_TAG: "trace-42", "dagster/schedule_name": "daily_refresh_schedule"})
        assert result.success
        audited = read_run(lake, result.run_id)  # written by the steps themselves: no sensor has run
        assert sorted(audited["asset"].to_pylist()) == ["platform_daily_report", "track_trends"]
        for _ in range(2):  # the daemon's catch-up, and a replayed tick, write nothing twice
            finished_run_success_sensor(_sensor_context(instance, result, "finished_run_success_sensor",
                                                        sensor_resources))

    rows = {r["asset"]: r for r in read_run(lake, result.run_id).to_pylist()}
    assert set(rows) == {"track_trends", "platform_daily_report"}  # once each, despite two ticks
    trends = rows["track_trends"]
    assert trends["run_id"] == result.run_id and trends["trace_id"] == "trace-42"
    assert trends["started_by"] == "schedule:daily_refresh_schedule" and trends["partition"] == DAY.isoformat()
    assert trends["rows"] == lake.row_count("track_trends", DAY.isoformat())
    assert trends["code_version"] == "track_trends-v5" and trends["package_version"]
    stored = Path(lake.path("track_trends", DAY.isoformat())).read_bytes()
    assert trends["content_sha256"] == hashlib.sha256(stored).hexdigest()
    report = rows["platform_daily_report"]
    assert report["rows"] is None and report["uri"].endswith("report.html")
    assert report["content_sha256"] == hashlib.sha256(
        lake.read_file("reports/platform_daily", "report.html", DAY.isoformat())).hexdigest()
    assert {"user_id", "metadata"}.isdisjoint(read_run(lake, result.run_id).column_names)


def test_audit_records_are_never_rewritten(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    with dg.instance_for_test() as instance:
        @dg.asset
        def small() -> dg.MaterializeResult:
            return dg.MaterializeResult(metadata={"dagster/row_count": 3})

        result = dg.materialize([small], instance=instance)
        assert audit_run(instance, instance.get_run_by_id(result.run_id), lake) == 1
        assert audit_run(instance, instance.get_run_by_id(result.run_id), lake) == 0
    with pytest.raises(AuditExists):
        append(lake, result.run_id, "small", [])
    assert read_run(lake, result.run_id)["rows"].to_pylist() == [3]
    assert lake.partitions(AUDIT_TABLE) == [f"{result.run_id}.small"]


def test_trace_ids_follow_the_caller_then_the_root_run() -> None:
    assert trace_id_of(dg.DagsterRun(job_name="j", run_id="r2", tags={TRACE_TAG: "from-caller"})) == "from-caller"
    # A retry or re-execution of r1 carries r1 as its root run: the same trace.
    assert trace_id_of(dg.DagsterRun(job_name="j", run_id="r3", root_run_id="r1", parent_run_id="r2")) == "r1"
    assert trace_id_of(dg.DagsterRun(job_name="j", run_id="r1")) == "r1"


def test_a_run_without_a_trace_id_is_tagged_with_one() -> None:
    with dg.instance_for_test() as instance:
        @dg.asset
        def tiny() -> None:
            pass

        result = dg.materialize([tiny], instance=instance)
        run = instance.get_run_by_id(result.run_id)
        assert TRACE_TAG not in run.tags
        event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_START)
        trace_id_sensor(dg.build_run_status_sensor_context(sensor_name="trace_id_sensor", dagster_instance=instance,
                                                           dagster_run=run, dagster_event=event))
        assert instance.get_run_by_id(result.run_id).tags[TRACE_TAG] == result.run_id


def test_started_by_names_the_origin_of_a_run() -> None:
    assert started_by({"dagster/sensor_name": "event_exports_sensor"}) == "sensor:event_exports_sensor"
    assert started_by({"dagster/backfill": "abc"}) == "backfill:abc"
    assert started_by({"dagster/from_automation_condition": "true"}) == "automation"
    assert started_by({"user": "ana"}) == "user:ana"
    assert started_by({}) == "manual"


def test_a_failed_step_audits_what_it_materialized_and_each_step_logs_one_hook_event(tmp_path: Path) -> None:
    from spotify_ai_assets.defs.observability.audit_trail import AUDIT_HOOK, audit_hooks

    @dg.multi_asset(specs=[dg.AssetSpec("first_half"), dg.AssetSpec("second_half")], can_subset=False)
    def halves():
        yield dg.MaterializeResult(asset_key="first_half")
        raise RuntimeError("the second half broke")

    @dg.asset
    def whole() -> None:
        return None

    lake = Lake(str(tmp_path / "lake"))
    with dg.instance_for_test() as instance:
        result = dg.materialize([halves.with_hooks(audit_hooks), whole.with_hooks(audit_hooks)], instance=instance,
                                resources={"lake": LakeResource(root=lake.root)}, raise_on_error=False)
        assert not result.success
        hook_events = [e for e in result.all_events if e.event_type in (dg.DagsterEventType.HOOK_COMPLETED,
                                                                           dg.DagsterEventType.HOOK_SKIPPED,
                                                                           dg.DagsterEventType.HOOK_ERRORED)]
        # One per step, success or failure alike, and none skipped.
        assert sorted((e.step_key, e.event_type) for e in hook_events) == [
            ("halves", dg.DagsterEventType.HOOK_COMPLETED), ("whole", dg.DagsterEventType.HOOK_COMPLETED)]
        assert all(AUDIT_HOOK in (e.message or "") for e in hook_events)
    assert sorted(read_run(lake, result.run_id)["asset"].to_pylist()) == ["first_half", "whole"]
