"""Backups, restores and the restore drill against a real local folder and a real S3 API (moto server)."""

from __future__ import annotations

import datetime as dt
import hashlib

import boto3
import pytest

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.maintenance import backup, lakefiles, restore, retention
from spotify_ai_assets.core.maintenance.storage import LocalStore, ObjectStore, open_store
from spotify_ai_assets_tests.maintenance_fixtures import fill_lake, moto_endpoint, now, s3_bucket  # noqa: F401


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "backups")
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return open_store(f"s3://{bucket}/nightly", s3_client=boto3.client("s3", endpoint_url=endpoint))


@pytest.fixture
def lake(tmp_path) -> Lake:
    lake = Lake(str(tmp_path / "lake"))
    fill_lake(lake)
    return lake


def _digests(lake: Lake) -> dict[str, str]:
    return {f.path: hashlib.sha256(lakefiles.read_bytes(lake, f.path)).hexdigest() for f in lakefiles.list_files(lake)}


def test_backup_then_restore_gives_back_every_file_and_row(lake: Lake, store: ObjectStore, tmp_path):
    result = backup.take_backup(lake, store, code_version="test", now=now(), partition_key="2026-01-06")
    manifest = backup.load_manifest(store, result.backup_id)
    assert {e.path for e in manifest.entries} == set(_digests(lake))
    assert all(len(e.sha256) == 64 and e.size > 0 for e in manifest.entries)
    assert manifest.source_partitions["listening_events"] == ["2026-01-05", "2026-01-06"]
    assert manifest.rows_by_table()["listening_events"] == 19
    assert manifest.code_version == "test" and manifest.partition_key == "2026-01-06"

    target = Lake(str(tmp_path / "restored"))
    report = restore.restore(store, result.backup_id, target, salt="s")
    assert _digests(target) == _digests(lake)
    assert report.rows_by_table["listening_events"] == target.read("listening_events", "2026-01-05").num_rows \
        + target.read("listening_events", "2026-01-06").num_rows


def test_a_repeat_backup_of_an_unchanged_lake_copies_nothing(lake: Lake, store: ObjectStore):
    first = backup.take_backup(lake, store, code_version="t", now=now())
    distinct = {e.sha256 for e in first.manifest.entries}
    assert len(distinct) < len(first.manifest.entries)  # two partitions hold the same bytes: stored once
    assert first.objects_copied == len(distinct) and first.bytes_copied > 0
    repeat = backup.take_backup(lake, store, code_version="t", now=now() + dt.timedelta(days=1))
    assert (repeat.objects_copied, repeat.bytes_copied, repeat.files_hashed) == (0, 0, 0)
    assert repeat.backup_id != first.backup_id and len(backup.list_backups(store)) == 2

    import pyarrow as pa
    lake.write("daily_user_stats", pa.table({"user_id": ["x"], "plays": [1]}), "2026-01-06")
    third = backup.take_backup(lake, store, code_version="t", now=now() + dt.timedelta(days=2))
    assert third.objects_copied == 1  # only the rewritten partition


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_damaged_object_is_named_by_verify_drill_and_restore(lake: Lake, store: ObjectStore, tmp_path, damage):
    result = backup.take_backup(lake, store, code_version="t", now=now())
    victim = next(e for e in result.manifest.entries if e.path == "daily_user_stats/date=2026-01-05/part-0.parquet")
    key = backup.object_key(victim.sha256)
    if damage == "corrupt":
        data = bytearray(store.get(key))
        data[len(data) // 2] ^= 0xFF
        store.put(key, bytes(data))
    else:
        store.delete(key)

    problems = restore.verify(store, result.manifest)
    assert len(problems) == 1 and victim.path in problems[0] and key in problems[0]
    assert problems[0].startswith("corrupted" if damage == "corrupt" else "missing")

    report = restore.drill(store, result.backup_id, tmp_path / "scratch")
    assert not report.passed and victim.path in report.problems[0]

    target = Lake(str(tmp_path / "target"))
    with pytest.raises(restore.BackupDamaged, match=victim.path):
        restore.restore(store, result.backup_id, target, salt="s")
    assert lakefiles.list_files(target) == []  # verified before anything is written

    # The lake still holds those bytes: repair re-copies them and the backup restores again.
    assert restore.repair(store, result.backup_id, lake) == ([victim.path], [])
    assert restore.verify(store, result.manifest) == []


def test_the_drill_passes_on_a_sound_backup_with_row_counts_per_table(lake: Lake, store: ObjectStore, tmp_path):
    result = backup.take_backup(lake, store, code_version="t", now=now())
    report = restore.drill(store, result.backup_id, tmp_path / "scratch")
    assert report.passed, report.problems
    rows = {t: (expected, got) for t, _, expected, got, _ in report.tables}
    assert rows["listening_events"] == (19, 19) and rows["user_features"] == (3, 3)
    assert "| listening_events | 2 | 19 | 19 | 0 |" in report.markdown()


def test_restore_mirrors_the_backup_into_a_lake_with_extra_files(lake: Lake, store: ObjectStore):
    import pyarrow as pa
    result = backup.take_backup(lake, store, code_version="t", now=now())
    lake.write("new_table", pa.table({"a": [1]}), "2026-01-07")
    lake.write("daily_user_stats", pa.table({"user_id": ["x"], "plays": [1]}), "2026-01-06")
    report = restore.restore(store, result.backup_id, lake, salt="s")
    assert report.files_removed == ["new_table/date=2026-01-07/part-0.parquet"]
    assert report.files_written == 1
    assert lake.read("daily_user_stats", "2026-01-06").num_rows == 3


def _info(day: str, good: bool = True, hour: int = 2) -> retention.BackupInfo:
    at = dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")
    return retention.BackupInfo(backup.new_backup_id(at), at, good)


def test_retention_keeps_daily_weekly_monthly_and_the_last_good():
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(70)]  # Jan 1 .. Mar 11
    infos = [_info(d.isoformat(), good=d <= dt.date(2026, 3, 5)) for d in days]
    infos.append(_info("2026-03-11", good=False, hour=1))  # an earlier backup the same day
    keep, prune = retention.plan(infos, retention.Policy(daily=3, weekly=2, monthly=2))
    kept_days = sorted({i.created_at.date().isoformat() for i in infos if i.backup_id in keep})
    # daily: Mar 11, 10, 9; weekly: the week of Mar 9 (its newest is Mar 11) and of Mar 2 (Mar 8);
    # monthly: March (Mar 11) and February (Feb 28); the last good one: Mar 5.
    assert kept_days == ["2026-02-28", "2026-03-05", "2026-03-08", "2026-03-09", "2026-03-10", "2026-03-11"]
    assert len(keep) == 6 and len(keep) + len(prune) == len(infos)
    # Nothing good in the window at all: the last good one is still kept.
    keep, _ = retention.plan([_info("2026-01-01"), _info("2026-03-01", good=False), _info("2026-03-02", good=False)],
                             retention.Policy(daily=2, weekly=0, monthly=0))
    assert keep == [_info("2026-01-01").backup_id, _info("2026-03-01").backup_id, _info("2026-03-02").backup_id]


def test_prune_deletes_old_backups_and_only_unreferenced_objects(lake: Lake, store: ObjectStore, tmp_path):
    import pyarrow as pa
    ids = []
    for i in range(4):
        lake.write("daily_user_stats", pa.table({"user_id": ["x"] * (i + 1), "plays": [i] * (i + 1)}), "2026-01-06")
        result = backup.take_backup(lake, store, code_version="t", now=now() + dt.timedelta(days=i))
        backup.record_drill(store, result.backup_id, {"passed": i < 3})
        ids.append(result.backup_id)
    report = retention.prune(store, retention.Policy(daily=1, weekly=0, monthly=0))
    assert report.kept == [ids[2], ids[3]]  # the newest, and the newest good one
    assert report.pruned == ids[:2] and report.objects_deleted == 2  # the two partition versions only they had
    assert backup.list_backups(store) == [ids[2], ids[3]]
    for backup_id in report.kept:
        assert restore.verify(store, backup.load_manifest(store, backup_id)) == []


def test_the_restore_command_restores_verifies_and_names_damage(lake: Lake, tmp_path):
    import json
    import os
    import subprocess
    import sys

    store = LocalStore(tmp_path / "backups")
    result = backup.take_backup(lake, store, code_version="t", now=now())
    env = {**os.environ, "SPOTIFY_AI_HOME": str(tmp_path / "home"), "SPOTIFY_AI_BACKUP_URL": str(tmp_path / "backups")}
    cmd = [sys.executable, "-m", "spotify_ai_assets.maintenance"]
    listed = subprocess.run([*cmd, "backups"], env=env, capture_output=True, text=True, check=True)
    assert listed.stdout.startswith(result.backup_id)
    into = tmp_path / "restored"
    out = subprocess.run([*cmd, "restore", result.backup_id, "--into", str(into)], env=env, capture_output=True,
                         text=True, check=True)
    assert json.loads(out.stdout)["files_written"] == len(result.manifest.entries)
    assert _digests(Lake(str(into))) == _digests(lake)

    victim = result.manifest.entries[0]
    store.put(backup.object_key(victim.sha256), b"garbage")
    bad = subprocess.run([*cmd, "verify", result.backup_id], env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and victim.path in bad.stdout
    bad = subprocess.run([*cmd, "restore", result.backup_id, "--into", str(tmp_path / "other")], env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 1 and victim.path in bad.stdout


def test_the_backup_command_drills_its_backup_and_the_listing_says_so(lake: Lake, tmp_path):
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "SPOTIFY_AI_HOME": str(tmp_path / "home"), "SPOTIFY_AI_BACKUP_URL": str(tmp_path / "backups")}
    cmd = [sys.executable, "-m", "spotify_ai_assets.maintenance"]
    empty = subprocess.run([*cmd, "backups"], env=env, capture_output=True, text=True, check=True)
    assert empty.stdout.strip() == f"no backups in {tmp_path / 'backups'}"
    made = subprocess.run([*cmd, "backup", "--lake", lake.root], env=env, capture_output=True, text=True, check=True)
    report = json.loads(made.stdout)
    assert report["drill"] == {"passed": True, "objects_checked": report["objects"], "problems": []}
    undrilled = subprocess.run([*cmd, "backup", "--lake", lake.root, "--no-drill"], env=env, capture_output=True,
                               text=True, check=True)
    assert "drill" not in json.loads(undrilled.stdout)
    listed = subprocess.run([*cmd, "backups"], env=env, capture_output=True, text=True, check=True).stdout
    states = {line.split()[0]: line.split("  ", 2)[2] for line in listed.splitlines()}
    assert states == {report["backup_id"]: "good (restore drill passed)",
                      json.loads(undrilled.stdout)["backup_id"]: "not drilled"}


def test_a_backup_restores_into_an_s3_lake_on_the_moto_server(lake: Lake, moto_endpoint, s3_bucket):  # noqa: F811
    store = LocalStore(lake.root + "_backups")
    result = backup.take_backup(lake, store, code_version="t", now=now())
    s3_lake = Lake(f"s3://{s3_bucket}/lake", s3_endpoint_url=moto_endpoint)
    report = restore.restore(store, result.backup_id, s3_lake, salt="s")
    assert report.files_written == len(result.manifest.entries)
    assert _digests(s3_lake) == _digests(lake)
    assert s3_lake.read("listening_events", "2026-01-06").num_rows == 10


def test_the_maintenance_core_and_command_load_without_dagster():
    import subprocess
    import sys

    code = ("import sys\n"
            "import spotify_ai_assets.maintenance, spotify_ai_assets.core.maintenance.erasure\n"
            "import spotify_ai_assets.core.maintenance.health, spotify_ai_assets.core.maintenance.housekeeping\n"
            "print('dagster' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"], out.stdout + out.stderr
