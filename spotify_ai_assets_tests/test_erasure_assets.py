"""GDPR erasure in Dagster: the sensor starts one run per request file, the run erases the user everywhere (real
folders, the sandbox token file), the blocking completeness check passes and fails on a planted leftover, the
30-day deadline check flags an old open request, and restore_job of an older backup keeps the user erased."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.tokens import FileTokenStore
from spotify_ai_assets.core.maintenance import erasure, lakefiles
from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets.defs.maintenance.gdpr import erasure_deadline, gdpr_requests_sensor
from spotify_ai_assets.settings import Settings
from spotify_ai_assets_tests.maintenance_fixtures import fill_lake


@pytest.fixture
def setup(sandbox_environ):
    settings = Settings.from_environ(sandbox_environ)
    lake = Lake(settings.lake_root)
    fill_lake(lake)
    tokens = FileTokenStore(settings.token_store_path)
    tokens.add_user("bob_77", "rt-bob")
    tokens.add_user("carol-x", "rt-carol")
    return sandbox_environ, settings, lake, tokens


def _write_request(settings: Settings, name: str, user: str, when: dt.datetime) -> str:
    folder = Path(settings.erasure_requests_root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps({"user_id": user, "requested_at": when.isoformat(), "requester": "privacy@example"}))
    return str(path)


def _check(result: dg.ExecuteInProcessResult, name: str):
    return next(e.event_specific_data for e in result.all_events
                if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.check_name == name)


def test_a_request_file_becomes_one_run_that_erases_the_user_everywhere(setup):
    environ, settings, lake, tokens = setup
    defs = build_defs(environ)
    path = _write_request(settings, "req-1.json", "bob_77", dt.datetime.now(dt.UTC))
    Path(settings.erasure_requests_root, "broken.json").write_text("{")  # logged, never started

    with dg.build_sensor_context(resources={"compliance": defs.resources["compliance"]}) as ctx:
        first = gdpr_requests_sensor(ctx)
    assert len(first.run_requests) == 1
    request = first.run_requests[0]
    assert request.run_key.startswith("erasure:") and "bob_77" not in request.run_key
    # Neither the user id nor the file name (which may hold it) goes into run config, stored in the instance.
    assert request.run_config["ops"]["gdpr_erasure"]["config"] == {"request_key": request.run_key[len("erasure:"):]}
    assert "req-1" not in json.dumps(request.run_config) and "bob_77" not in json.dumps(request.run_config)
    with dg.build_sensor_context(resources={"compliance": defs.resources["compliance"]}, cursor=first.cursor) as ctx:
        assert gdpr_requests_sensor(ctx).run_requests == []  # the cursor remembers the files handed out

    result = defs.resolve_job_def("gdpr_erasure_job").execute_in_process(run_config=request.run_config)
    assert result.success
    check = _check(result, "erasure_complete")
    assert check.passed, check.metadata
    meta = result.asset_materializations_for_node("gdpr_erasure")[0].metadata
    assert meta["token_store_removed"].value is True and meta["files_rewritten"].value == 7
    assert tokens.all_user_ids() == ["carol-x"]
    assert not Path(path).exists()  # the request file named the user: gone once done
    audit = erasure.read_audit(lake, meta["request_key"].value)
    assert audit["run_id"] == result.run_id and audit["removed"]["listening_events"] == 6
    assert "bob_77" not in json.dumps(audit) and "privacy@example" not in json.dumps(audit)
    for f in lakefiles.list_files(lake, include_excluded=True):
        assert not re.search(rb"bob_77(?!7)", lakefiles.read_bytes(lake, f.path)), f.path

    # A leftover planted afterwards (a table another job wrote from stale data): the next erasure's check fails
    # and names where.
    lake.write("recommendations", pa.table({"user_id": ["bob_77"], "track_id": ["t1"]}), "2026-01-07")
    _write_request(settings, "req-2.json", "carol-x", dt.datetime.now(dt.UTC))
    again = defs.resolve_job_def("gdpr_erasure_job").execute_in_process(
        run_config={"ops": {"gdpr_erasure": {"config": {"request_file": "req-2.json"}}}}, raise_on_error=False)
    assert not again.success
    failed = _check(again, "erasure_complete")
    assert not failed.passed
    assert failed.metadata["leftovers"].value == [
        {"path": "recommendations/date=2026-01-07/part-0.parquet", "kind": "rows", "count": 1}]


def test_a_request_open_for_more_than_30_days_fails_the_deadline_check(setup):
    environ, settings, _, _ = setup
    defs = build_defs(environ)
    resources = {"lake": defs.resources["lake"], "compliance": defs.resources["compliance"]}
    _write_request(settings, "recent.json", "carol-x", dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    assert erasure_deadline(**resources).passed
    _write_request(settings, "old.json", "bob_77", dt.datetime.now(dt.UTC) - dt.timedelta(days=31))
    result = erasure_deadline(**resources)
    assert not result.passed and len(result.metadata["overdue"].value) == 1
    assert result.metadata["overdue"].value[0]["days_open"] >= 31


def test_restore_job_of_an_older_backup_keeps_the_erased_user_erased(setup):
    environ, settings, lake, _ = setup
    defs = build_defs(environ)
    assert defs.resolve_job_def("backup_job").execute_in_process(partition_key="2026-01-06").success
    backup_id = defs.resources["backup"].store().list("backups/")[0].split("/")[1]
    _write_request(settings, "bob.json", "bob_77", dt.datetime(2026, 1, 6, 10, tzinfo=dt.UTC))
    erased = defs.resolve_job_def("gdpr_erasure_job").execute_in_process(run_config={"ops": {"gdpr_erasure": {
        "config": {"request_file": "bob.json"}}}})
    assert erased.success

    restored = defs.resolve_job_def("restore_job").execute_in_process(
        run_config={"ops": {"restore_backup": {"config": {"backup_id": backup_id}}}})
    assert restored.success
    for day in ("2026-01-05", "2026-01-06"):
        assert "bob_77" not in lake.read("listening_events", day)["user_id"].to_pylist()
    salt = settings.erasure_salt_default
    assert erasure.leftovers(lake, salt, [erasure.subject_hash(salt, "bob_77")]) == []
    assert lake.read("listening_events", "2026-01-05").num_rows == 6  # everyone else came back
