"""The Dagster shell of backups: backup_job against a real S3 API (moto server) through dagster-aws's S3Resource,
the blocking restore drill, retention, and restore_job."""

from __future__ import annotations

import hashlib

import pytest

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.maintenance import backup as backups_core
from spotify_ai_assets.core.maintenance import lakefiles
from spotify_ai_assets.core.observability.audit import AUDIT_TABLE
from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets.lib.resources.maintenance import BackupTargetResource
from spotify_ai_assets.settings import Settings
from spotify_ai_assets_tests.maintenance_fixtures import fill_lake, moto_endpoint, s3_bucket  # noqa: F401

DAY = "2026-01-06"


@pytest.fixture
def environ(sandbox_environ, s3_bucket, moto_endpoint) -> dict[str, str]:  # noqa: F811
    env = {**sandbox_environ, "SPOTIFY_AI_BACKUP_URL": f"s3://{s3_bucket}/nightly", "AWS_ENDPOINT_URL": moto_endpoint,
           "SPOTIFY_AI_BACKUP_KEEP": "1,0,0"}
    fill_lake(Lake(Settings.from_environ(env).lake_root))
    return env


def _digests(lake: Lake) -> dict[str, str]:
    return {f.path: hashlib.sha256(lakefiles.read_bytes(lake, f.path)).hexdigest() for f in lakefiles.list_files(lake)}


def test_backup_job_backs_up_to_s3_drills_a_restore_and_restore_job_brings_it_back(environ, tmp_path):
    defs = build_defs(environ)
    job = defs.resolve_job_def("backup_job")
    first = job.execute_in_process(partition_key=DAY)
    assert first.success
    mat = first.asset_materializations_for_node("lake_backup")[0].metadata
    assert mat["objects_copied"].value == mat["objects"].value - 1  # two partitions share their bytes
    assert mat["target"].value.startswith("s3://backups-")
    drill = next(e for e in first.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION")
    assert drill.event_specific_data.passed
    assert "| listening_events | 2 | 19 | 19 | 0 |" in drill.event_specific_data.metadata["result"].value

    # Each step of the first run appended its audit records to the lake after the backup was taken: the repeat
    # copies those new files and nothing else.
    live = Lake(Settings.from_environ(environ).lake_root)
    audited = [live.path(AUDIT_TABLE, k) for k in live.partitions(AUDIT_TABLE) if k.startswith(first.run_id)]
    repeat = job.execute_in_process(partition_key=DAY)
    meta = repeat.asset_materializations_for_node("lake_backup")[0].metadata
    assert (meta["objects_copied"].value, meta["bytes_copied"].value) == (
        len(audited), sum(live.fs.get_file_info(p).size for p in audited)) != (0, 0)
    retention = repeat.asset_materializations_for_node("backup_retention")[0].metadata
    assert retention["pruned"].value == 1 and retention["kept"].value == 1  # keep 1 daily: the same day's older one

    store = defs.resources["backup"].store()
    [backup_id] = backups_core.list_backups(store)
    target = tmp_path / "restored"
    result = defs.resolve_job_def("restore_job").execute_in_process(run_config={"ops": {"restore_backup": {
        "config": {"backup_id": backup_id, "target_lake": str(target)}}}})
    assert result.success
    restored, now = _digests(Lake(str(target))), _digests(live)
    # The live lake has since gained the audit records of the runs after the backup; everything else is identical.
    assert {p: d for p, d in now.items() if p in restored or not p.startswith(f"{AUDIT_TABLE}/")} == restored


def test_a_corrupted_object_fails_the_blocking_drill_names_it_and_skips_retention(environ):
    defs = build_defs(environ)
    job = defs.resolve_job_def("backup_job")
    assert job.execute_in_process(partition_key=DAY).success
    store = BackupTargetResource(url=environ["SPOTIFY_AI_BACKUP_URL"],
                                 s3_endpoint_url=environ["AWS_ENDPOINT_URL"]).store()
    manifest = backups_core.load_manifest(store, backups_core.list_backups(store)[0])
    victim = next(e for e in manifest.entries if e.path.startswith("user_features/"))
    store.put(backups_core.object_key(victim.sha256), b"not the bytes you backed up")

    # The next night reuses the (now corrupted) object instead of copying it: the drill must catch that.
    result = job.execute_in_process(partition_key=DAY, raise_on_error=False)
    assert not result.success
    check = next(e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION")
    assert not check.event_specific_data.passed
    assert victim.path in check.event_specific_data.description
    assert not result.asset_materializations_for_node("backup_retention")
