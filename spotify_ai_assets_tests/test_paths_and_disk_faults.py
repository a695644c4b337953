"""Paths are data and disks fill up (issue 22, items 2, 7 and 8): a restore validates its whole manifest before it
writes anything, a restore killed with SIGKILL changes nothing live, a full disk names the file and leaves no
partial set of reports, and housekeeping removes orphan `.tmp` files of killed writes but never a live one."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from spotify_ai_assets.core.kernel.lake import Lake, LakeWriteError
from spotify_ai_assets.core.maintenance import backup, lakefiles, restore
from spotify_ai_assets.core.maintenance.storage import LocalStore
from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets.settings import Settings
from spotify_ai_assets_tests.maintenance_fixtures import fill_lake, now


def _digests(lake: Lake) -> dict[str, str]:
    return {f.path: hashlib.sha256(lakefiles.read_bytes(lake, f.path)).hexdigest()
            for f in lakefiles.list_files(lake, include_excluded=True)}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spotify_ai_assets.maintenance", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_a_manifest_entry_escaping_the_lake_fails_verify_and_restore_writes_nothing(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    fill_lake(lake)
    store = LocalStore(tmp_path / "backups")
    result = backup.take_backup(lake, store, code_version="t", now=now())
    manifest = json.loads(store.get(backup.manifest_key(result.backup_id)))
    good = manifest["objects"][0]
    manifest["objects"].append({**good, "path": "../../../escape.parquet"})
    store.put(backup.manifest_key(result.backup_id), json.dumps(manifest).encode())
    target = Lake(str(tmp_path / "restored" / "lake"))
    before = _digests(lake)

    verified = _cli("verify", result.backup_id, "--target", str(tmp_path / "backups"))
    assert verified.returncode == 1 and "../../../escape.parquet" in verified.stdout
    restored = _cli("restore", result.backup_id, "--target", str(tmp_path / "backups"), "--into", target.root)
    assert restored.returncode == 1 and "unsafe path" in restored.stdout
    assert not Path(target.root).exists() or not any(Path(target.root).rglob("*"))
    assert not list(tmp_path.rglob("escape.parquet"))
    assert _cli("restore", result.backup_id, "--target", str(tmp_path / "backups"),
                "--into", lake.root).returncode == 1
    assert _digests(lake) == before


def _big_lake(root: Path, files: int) -> Lake:
    lake = Lake(str(root))
    for n in range(files):
        lake.write(f"t{n % 10}", pa.table({"user_id": [f"u{i}" for i in range(2000)], "v": list(range(2000))}),
                   f"2026-01-{1 + n // 10:02d}")
    return lake


def test_a_restore_killed_with_sigkill_changes_nothing_live(tmp_path):
    lake = _big_lake(tmp_path / "lake", 200)
    store = LocalStore(tmp_path / "backups")
    result = backup.take_backup(lake, store, code_version="t", now=now())
    # The live lake moves on: every file differs from the backup, so the restore has 200 files to write.
    for f in lakefiles.list_files(lake):
        table, day = f.path.split("/")[0], f.path.split("/")[1].split("=")[1]
        lake.write(table, pa.table({"user_id": ["new"], "v": [1]}), day)
    before = _digests(lake)
    proc = subprocess.Popen([sys.executable, "-m", "spotify_ai_assets.maintenance", "restore", result.backup_id,
                             "--target", str(tmp_path / "backups"), "--into", lake.root],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = Path(lake.root, "_staging")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (staging.exists() and len(list(staging.rglob("*.parquet"))) > 20):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert not list(staging.glob("*.commit.json")), "the kill landed after the commit point: make the lake bigger"
    live = {p: d for p, d in _digests(lake).items() if not p.startswith("_staging/")}
    assert live == before  # nothing live changed
    # The abandoned staging folder is removed by housekeeping; a new restore then succeeds whole.
    assert restore.remove_abandoned_staging(lake, dt.timedelta(0), dt.datetime.now(dt.UTC) + dt.timedelta(1))
    report = restore.restore(store, result.backup_id, lake, salt="s")
    assert report.files_written == 200
    assert not staging.exists() or not any(staging.rglob("*"))
    assert lake.read("t0", "2026-01-01").num_rows == 2000


def test_a_restore_killed_after_its_commit_point_is_rolled_forward(tmp_path):
    lake = _big_lake(tmp_path / "lake", 20)
    store = LocalStore(tmp_path / "backups")
    result = backup.take_backup(lake, store, code_version="t", now=now())
    wanted = _digests(lake)
    for n in range(10):
        lake.write(f"t{n}", pa.table({"user_id": ["new"], "v": [1]}), "2026-01-01")
    # A committed journal whose moves did not happen yet (the kill came right after the commit point).
    staging = lakefiles.sub_lake(lake, "_staging/restore-x")
    moves = [f"t{n}/date=2026-01-01/part-0.parquet" for n in range(10)]
    for path in moves:
        lakefiles.write_bytes(staging, path, store.get(backup.object_key(next(
            e.sha256 for e in backup.load_manifest(store, result.backup_id).entries if e.path == path))))
    lakefiles.write_bytes(lake, "_staging/restore-x.commit.json", json.dumps(
        {"restore_id": "restore-x", "backup_id": result.backup_id, "staging": "_staging/restore-x", "moves": moves,
         "removals": []}).encode())
    assert restore.recover(lake) == ["restore-x"]
    assert _digests(lake) == wanted


@pytest.fixture
def full_disk(tmp_path) -> Path:
    """A 1 MiB filesystem (tmpfs), so writes really fail with ENOSPC."""
    mount = tmp_path / "small_disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_names_the_file_and_leaves_the_previous_report_set(full_disk):
    lake = Lake(str(full_disk / "lake"))
    previous = {f"artist{n}.html": b"<html>old</html>" for n in range(3)}
    lake.replace_files("reports/artist_daily", previous, "2026-01-05")
    new = {f"artist{n}.html": os.urandom(200_000) for n in range(10)}
    with pytest.raises(LakeWriteError, match=r"could not write .*reports/artist_daily/date=2026-01-05/artist\d\.html"
                                             r".*(No space left on device|[Ee]rrno 28)"):
        lake.replace_files("reports/artist_daily", new, "2026-01-05")
    folder = full_disk / "lake" / "reports" / "artist_daily" / "date=2026-01-05"
    assert sorted(p.name for p in folder.iterdir()) == sorted(previous)  # all or none: no partial set, no .tmp
    assert all(lake.read_file("reports/artist_daily", name, "2026-01-05") == b"<html>old</html>" for name in previous)
    with pytest.raises(LakeWriteError, match=r"could not write .*/big/date=2026-01-05/part-0.parquet"):
        lake.write("big", pa.table({"x": [os.urandom(64).hex() for _ in range(40_000)]}), "2026-01-05")
    assert not list((full_disk / "lake").rglob("*.tmp"))


def test_housekeeping_removes_orphan_temporary_files_but_never_a_live_write(sandbox_environ):
    settings = Settings.from_environ(sandbox_environ)
    lake = Lake(settings.lake_root)
    fill_lake(lake)
    folder = Path(lake.path("listening_events", "2026-01-05")).parent
    orphan, live = folder / f".{uuid.uuid4().hex}.tmp", folder / f".{uuid.uuid4().hex}.tmp"
    orphan.write_bytes(b"x" * 1000)
    live.write_bytes(b"y" * 10)
    hours_ago = time.time() - 10 * 3600
    os.utime(orphan, (hours_ago, hours_ago))
    store_dir = Path(settings.backup_url, "objects", "ab")
    store_dir.mkdir(parents=True)
    backup_orphan = store_dir / f".abc.{uuid.uuid4().hex}.tmp"
    backup_orphan.write_bytes(b"z")
    os.utime(backup_orphan, (hours_ago, hours_ago))

    result = build_defs(sandbox_environ).resolve_job_def("housekeeping_job").execute_in_process()
    assert result.success
    assert not orphan.exists() and not backup_orphan.exists() and live.exists()
    observed = next(e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION")
    assert observed.event_specific_data.asset_observation.metadata["temporary_files_deleted"].value == 2
