"""Erasure that is total and proven (issue 22, items 2 and 7), through Dagster: ids that are any string a record can
hold are found and removed everywhere (lake, quarantine, landing, backups), `erasure_complete` fails on a trace in
the instance's event logs, and a request file outside the requests folder is refused, not read or deleted."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.maintenance import backup, erasure, lakefiles
from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets.settings import Settings

HOSTILE = ["o'brien \"q\" / x", "Zoë 🎧 ✓", "a\\b;DROP TABLE users;--", "  spaced id  ", "<script>x</script>"]


def _request(settings: Settings, name: str, user: str) -> None:
    folder = Path(settings.erasure_requests_root)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps({"user_id": user, "requester": "dpo@example",
                                           "requested_at": dt.datetime.now(dt.UTC).isoformat()}))


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    return next(e.event_specific_data for e in result.all_events
                if e.event_type_value == "ASSET_CHECK_EVALUATION")


def _plant(lake: Lake, landing: Path, user: str) -> None:
    day = "2026-01-05"
    lake.write("listening_events", pa.table({"user_id": [user, "keep_me"], "track_id": ["t1", "t2"]}), day)
    lake.write("quarantine/listening_events", pa.table({
        "record_ref": ["export-00.jsonl:3", "export-00.jsonl:4"], "field": ["ms_played", "ms_played"],
        "reason": ["not a number", "not a number"],
        "raw": [json.dumps({"user_id": user, "ms_played": "x"}), json.dumps({"user_id": "keep_me"})]}), day)
    folder = landing / "events" / f"date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "export-00.jsonl").write_text(json.dumps({"user_id": user, "track_id": "t1"}) + "\n"
                                            + json.dumps({"user_id": "keep_me", "track_id": "t2"}) + "\n")


def _holds(blob: bytes, user: str) -> bool:
    return any(form.encode() in blob for form in erasure.encodings(user))


@pytest.mark.parametrize("user", HOSTILE)
def test_an_id_of_any_characters_is_erased_from_lake_quarantine_landing_and_backups(sandbox_environ, user):
    settings = Settings.from_environ(sandbox_environ)
    lake = Lake(settings.lake_root)
    _plant(lake, Path(settings.landing_root), user)
    defs = build_defs(sandbox_environ)
    store = defs.resources["backup"].store()
    backup.take_backup(lake, store, code_version="t", now=dt.datetime.now(dt.UTC))
    _request(settings, "r.json", user)

    result = defs.resolve_job_def("gdpr_erasure_job").execute_in_process(
        run_config={"ops": {"gdpr_erasure": {"config": {"request_file": "r.json"}}}})
    assert result.success and _check(result).passed

    blobs = [lakefiles.read_bytes(lake, f.path) for f in lakefiles.list_files(lake, include_excluded=True)]
    blobs += [p.read_bytes() for p in Path(settings.landing_root).rglob("*") if p.is_file()]
    blobs += [store.get(k) for k in store.list("")]
    assert not any(_holds(b, user) for b in blobs)
    assert lake.read("listening_events", "2026-01-05")["user_id"].to_pylist() == ["keep_me"]
    assert b"keep_me" in Path(settings.landing_root, "events/date=2026-01-05/export-00.jsonl").read_bytes()
    assert not Path(settings.erasure_requests_root, "r.json").exists()


def test_the_completeness_check_fails_on_a_raw_id_in_the_instance_event_log(sandbox_environ):
    settings = Settings.from_environ(sandbox_environ)
    user = "leaky user/1"

    @dg.op
    def leaky(context) -> None:
        context.log.warning(f"user {user!r} must reconnect")  # what an unfixed asset would log

    instance = dg.DagsterInstance.ephemeral()
    dg.GraphDefinition(name="leaky", node_defs=[leaky]).to_job().execute_in_process(instance=instance)
    _request(settings, "r.json", user)
    result = build_defs(sandbox_environ).resolve_job_def("gdpr_erasure_job").execute_in_process(
        run_config={"ops": {"gdpr_erasure": {"config": {"request_file": "r.json"}}}}, instance=instance,
        raise_on_error=False)
    check = _check(result)
    assert not check.passed
    places = [p["path"] for p in check.metadata["leftovers"].value]
    assert any(p.startswith("instance: run ") and "(events)" in p for p in places)
    assert Path(settings.erasure_requests_root, "r.json").exists()  # the request stays open
    audit_files = [f for f in lakefiles.list_files(Lake(settings.lake_root), include_excluded=True)
                   if f.path.startswith(erasure.AUDIT)]
    audit = json.loads(lakefiles.read_bytes(Lake(settings.lake_root), audit_files[0].path))
    assert audit["complete"] is False and audit["leftovers"] >= 1


def test_a_request_file_outside_the_requests_folder_is_refused_not_processed_or_deleted(sandbox_environ, tmp_path):
    settings = Settings.from_environ(sandbox_environ)
    lake = Lake(settings.lake_root)
    _plant(lake, Path(settings.landing_root), "victim")
    outside = tmp_path / "elsewhere.json"
    outside.write_text(json.dumps({"user_id": "victim", "requester": "x", "requested_at": "2026-01-06T00:00:00Z"}))
    Path(settings.erasure_requests_root).mkdir(parents=True, exist_ok=True)
    link = Path(settings.erasure_requests_root, "link.json")
    link.symlink_to(outside)
    job = build_defs(sandbox_environ).resolve_job_def("gdpr_erasure_job")
    for given in (str(outside), "../../elsewhere.json", "link.json"):
        result = job.execute_in_process(run_config={"ops": {"gdpr_erasure": {"config": {"request_file": given}}}},
                                        raise_on_error=False)
        assert not result.success
        assert outside.exists()
        assert "victim" in lake.read("listening_events", "2026-01-05")["user_id"].to_pylist()
    assert not erasure.read_log(lake)
