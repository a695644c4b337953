"""Restores: check a backup's manifest and every object, write it into a staging area, erase there, check again,
then switch it in.

1. The manifest is data: every entry's path must be a plain relative name inside the lake (no `..`, no absolute
   path, no compliance/staging folder), every checksum 64 hex digits, no path twice. Then every object is read
   and checked against its SHA-256 and size. Any problem fails `verify` and the restore before anything is written.
2. Files that differ from the live lake are written under `_staging/<restore id>/` in the target lake (same
   filesystem, so the switch is a rename), never over live files.
3. The erasure log (the target's and the backup target's) is applied to the staging area, which is then checked:
   every file is there, untouched files match their checksums, and no logged user is left in it.
4. A journal `_staging/<restore id>.commit.json` listing every move and removal is written whole: the commit point.
   Its moves are applied, then the journal is removed. A restore killed before the commit point changed nothing
   live (its staging folder is removed by the next restore or by housekeeping); one killed after it is rolled
   forward by `recover` (run first by every restore and by housekeeping), and every file it holds was already
   erased and checked.

The restore drill restores into a scratch folder the same way and compares checksums and row counts with the
manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.maintenance import erasure, lakefiles
from spotify_ai_assets.core.maintenance.backup import NOT_BACKED_UP, Manifest, load_manifest, object_key
from spotify_ai_assets.core.maintenance.storage import MissingObject, ObjectStore

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
COMMIT_SUFFIX = ".commit.json"


class BackupDamaged(RuntimeError):
    """Objects of a backup are missing or do not match their checksum; `problems` names each one."""

    def __init__(self, backup_id: str, problems: list[str]):
        self.backup_id = backup_id
        self.problems = problems
        shown = "; ".join(problems[:10]) + (f"; ... {len(problems) - 10} more" if len(problems) > 10 else "")
        super().__init__(f"backup {backup_id} is damaged ({len(problems)} problem(s)): {shown}")


@dataclass
class RestoreReport:
    backup_id: str
    target: str
    files_written: int = 0
    bytes_written: int = 0
    files_removed: list[str] = field(default_factory=list)
    rows_by_table: dict[str, int] = field(default_factory=dict)
    erasures_reapplied: int = 0
    erasure_removals: int = 0
    staging: str = ""


def manifest_problems(manifest: Manifest) -> list[str]:
    """Every entry that must never be written: a path outside the lake or into its reserved folders, a checksum
    that is not one (it becomes an object key), a duplicate path, a negative size. Checked before any object."""
    problems, seen = [], set()
    for n, e in enumerate(manifest.entries):
        where = f"manifest entry {n} ({e.path!r})"
        problem = lakefiles.path_problem(e.path)
        if problem:
            problems.append(f"unsafe path in {where}: {problem}")
            continue
        if e.path.startswith(lakefiles.EXCLUDED_PREFIXES):
            problems.append(f"unsafe path in {where}: a reserved folder ({e.path.split('/', 1)[0]}/)")
        if e.path in seen:
            problems.append(f"duplicate path in {where}")
        seen.add(e.path)
        if not isinstance(e.sha256, str) or not _SHA256.match(e.sha256):
            problems.append(f"bad checksum in {where}: {str(e.sha256)[:80]!r} is not 64 hex digits")
        if not isinstance(e.size, int) or isinstance(e.size, bool) or e.size < 0:
            problems.append(f"bad size in {where}: {e.size!r}")
        if e.rows is not None and (not isinstance(e.rows, int) or e.rows < 0):
            problems.append(f"bad row count in {where}: {e.rows!r}")
    return problems


def verify(store: ObjectStore, manifest: Manifest) -> list[str]:
    """Every problem with the backup: unsafe manifest entries first (then no object is read), else every object's
    checksum and size, each problem naming the lake path, the object and what is wrong."""
    problems = manifest_problems(manifest)
    if problems:
        return problems
    for e in manifest.entries:
        key = object_key(e.sha256)
        try:
            data = store.get(key)
        except MissingObject:
            problems.append(f"missing object {key} for {e.path}")
            continue
        got = hashlib.sha256(data).hexdigest()
        if got != e.sha256 or len(data) != e.size:
            problems.append(f"corrupted object {key} for {e.path}: sha256 {got[:12]}..., {len(data)} bytes, "
                            f"expected {e.sha256[:12]}..., {e.size} bytes")
    return problems


def _live_files(target: Lake) -> dict[str, lakefiles.LakeFile]:
    return {f.path: f for f in lakefiles.list_files(target) if not f.path.startswith(NOT_BACKED_UP)}


def _same(target: Lake, current: lakefiles.LakeFile | None, size: int, sha: str) -> bool:
    return current is not None and current.size == size and hashlib.sha256(
        lakefiles.read_bytes(target, current.path)).hexdigest() == sha


def restore(store: ObjectStore, backup_id: str, target: Lake, *, salt: str | None,
            mirror: bool = True) -> RestoreReport:
    """Restore `backup_id` into `target` through a staging area (see the module docstring). With `mirror`, lake
    files the backup does not have are removed (the compliance records are kept). With a `salt`, the erasure log
    is applied in the staging area before anything is switched in; only a scratch drill passes None."""
    manifest = load_manifest(store, backup_id)
    problems = verify(store, manifest)
    if problems:
        raise BackupDamaged(backup_id, problems)
    recover(target)
    restore_id = f"restore-{backup_id}-{uuid.uuid4().hex[:8]}"
    staging_prefix = f"{lakefiles.STAGING_PREFIX}{restore_id}"
    staging = lakefiles.sub_lake(target, staging_prefix)
    report = RestoreReport(backup_id, target.root, staging=staging_prefix)
    live = _live_files(target)
    staged: dict[str, str] = {}  # lake path -> sha256 expected
    for e in manifest.entries:
        if e.rows is not None:
            table = lakefiles.table_and_partition(e.path)[0]
            report.rows_by_table[table] = report.rows_by_table.get(table, 0) + e.rows
        if _same(target, live.get(e.path), e.size, e.sha256):
            continue  # the live file already is this version
        data = store.get(object_key(e.sha256))
        if hashlib.sha256(data).hexdigest() != e.sha256:  # changed since verify: never write unchecked bytes
            _abandon(target, staging_prefix)
            raise BackupDamaged(backup_id, [f"corrupted object {object_key(e.sha256)} for {e.path} (during restore)"])
        lakefiles.write_bytes(staging, e.path, data)
        staged[e.path] = e.sha256
        report.bytes_written += len(data)
    erased: set[str] = set()
    if salt is not None:
        log = erasure.read_log(target, store)
        report.erasures_reapplied = len(log)
        hashes = {entry.subject_hash for entry in log}
        scrub = erasure.scrub_lake(staging, salt, hashes)
        report.erasure_removals = scrub.total
        erased = {r.path for r in scrub.removals}
        left = erasure.scrub_lake(staging, salt, hashes, apply=False).removals
        if left:
            _abandon(target, staging_prefix)
            raise RuntimeError(f"restore of {backup_id}: erased users still in the staged files "
                               f"{[r.path for r in left][:10]}; nothing was switched in")
    _check_staging(staging, staged, erased, backup_id, target, staging_prefix)
    removals = sorted(set(live) - {e.path for e in manifest.entries}) if mirror else []
    journal = {"restore_id": restore_id, "backup_id": backup_id, "staging": staging_prefix,
               "moves": sorted(staged), "removals": removals}
    lakefiles.write_bytes(target, f"{staging_prefix}{COMMIT_SUFFIX}", json.dumps(journal, sort_keys=True).encode())
    _apply(target, journal)
    report.files_written = len(staged)
    report.files_removed = removals
    return report


def _check_staging(staging: Lake, staged: dict[str, str], erased: set[str], backup_id: str, target: Lake,
                   staging_prefix: str) -> None:
    """Before the switch: every staged file is there; those the erasure did not touch match their checksum."""
    problems = []
    for path, sha in staged.items():
        try:
            data = lakefiles.read_bytes(staging, path)
        except FileNotFoundError:
            problems.append(f"staged {path} is missing")
            continue
        if path not in erased and hashlib.sha256(data).hexdigest() != sha:
            problems.append(f"staged {path} does not match its checksum")
    if problems:
        _abandon(target, staging_prefix)
        raise BackupDamaged(backup_id, problems)


def _apply(target: Lake, journal: dict) -> None:
    """Carry out a committed journal; safe to repeat (a move already done is skipped)."""
    staging_prefix = journal["staging"]
    for path in journal["moves"]:
        source = f"{staging_prefix}/{path}"
        if lakefiles.exists(target, source):
            lakefiles.move(target, source, path)
    for path in journal["removals"]:
        lakefiles.delete(target, path)
    lakefiles.delete(target, f"{staging_prefix}{COMMIT_SUFFIX}")
    lakefiles.delete_dir(target, staging_prefix)


def _abandon(target: Lake, staging_prefix: str) -> None:
    lakefiles.delete_dir(target, staging_prefix)


def pending_restores(target: Lake) -> tuple[list[dict], list[str]]:
    """(committed journals not yet fully applied, staging folders with no journal: abandoned or in progress)."""
    journals, folders = [], set()
    for f in lakefiles.list_files(target, include_excluded=True):
        if not f.path.startswith(lakefiles.STAGING_PREFIX):
            continue
        rest = f.path[len(lakefiles.STAGING_PREFIX):]
        if "/" not in rest and rest.endswith(COMMIT_SUFFIX):
            journals.append(json.loads(lakefiles.read_bytes(target, f.path)))
        elif "/" in rest:
            folders.add(lakefiles.STAGING_PREFIX + rest.split("/", 1)[0])
    committed = {j["staging"] for j in journals}
    return journals, sorted(folders - committed)


def recover(target: Lake) -> list[str]:
    """Roll forward every committed restore a kill interrupted (its files were erased and checked before the
    commit). Returns the restore ids completed."""
    journals, _ = pending_restores(target)
    for journal in journals:
        _apply(target, journal)
    return [j["restore_id"] for j in journals]


def remove_abandoned_staging(target: Lake, older_than: dt.timedelta, now: dt.datetime) -> list[str]:
    """Staging folders of restores killed before their commit point, untouched for `older_than` (a restore in
    progress writes into its folder all the time): removed. They never changed anything live."""
    _, folders = pending_restores(target)
    newest: dict[str, int] = {}
    for f in lakefiles.list_files(target, include_excluded=True):
        for folder in folders:
            if f.path.startswith(folder + "/"):
                newest[folder] = max(newest.get(folder, 0), f.mtime_ns or 0)
    cutoff = (now - older_than).timestamp() * 1e9
    gone = [folder for folder in folders if newest.get(folder, 0) < cutoff]
    for folder in gone:
        lakefiles.delete_dir(target, folder)
    return gone


def repair(store: ObjectStore, backup_id: str, lake: Lake) -> tuple[list[str], list[str]]:
    """Re-copy damaged objects of a backup from the lake where the lake still holds those exact bytes.

    Incremental backups reuse stored objects, so a corrupted object would otherwise fail every later drill.
    Returns (repaired, unrecoverable) lake paths; unrecoverable ones changed in the lake since the backup."""
    manifest = load_manifest(store, backup_id)
    unsafe = manifest_problems(manifest)
    if unsafe:  # a manifest that points outside the lake is not repaired from the lake
        raise BackupDamaged(backup_id, unsafe)
    damaged = {p.split(" for ", 1)[1].split(":", 1)[0] for p in verify(store, manifest)}
    repaired, lost = [], []
    for e in manifest.entries:
        if e.path not in damaged:
            continue
        try:
            data = lakefiles.read_bytes(lake, e.path)
        except FileNotFoundError:
            data = b""
        if hashlib.sha256(data).hexdigest() == e.sha256:
            store.put(object_key(e.sha256), data)
            repaired.append(e.path)
        else:
            lost.append(e.path)
    return repaired, lost


@dataclass
class DrillReport:
    backup_id: str
    passed: bool
    problems: list[str]
    tables: list[tuple[str, int, int, int, int]]  # table, files, expected rows, restored rows, checksum mismatches
    objects: int
    bytes: int

    def verdict(self, now: dt.datetime) -> dict:
        return {"passed": self.passed, "problems": self.problems, "objects": self.objects, "bytes": self.bytes,
                "checked_at": now.astimezone(dt.UTC).isoformat()}

    def markdown(self) -> str:
        lines = ["| table | files | rows in manifest | rows restored | checksum mismatches |",
                 "| --- | ---: | ---: | ---: | ---: |"]
        lines += [f"| {t} | {f} | {e} | {r} | {m} |" for t, f, e, r, m in self.tables]
        if self.problems:
            lines += ["", "**Problems**", "", *[f"- {p}" for p in self.problems[:50]]]
        return "\n".join(lines)


def drill(store: ObjectStore, backup_id: str, scratch: str | Path) -> DrillReport:
    """Restore into an empty scratch folder, then re-read every file: checksum and row count against the manifest."""
    manifest = load_manifest(store, backup_id)
    scratch_lake = Lake(str(Path(scratch).absolute()))
    try:
        restore(store, backup_id, scratch_lake, salt=None, mirror=True)
    except BackupDamaged as exc:
        return DrillReport(backup_id, False, exc.problems, [], len(manifest.entries), manifest.total_bytes)
    problems: list[str] = []
    per_table: dict[str, list[int]] = {}
    for e in manifest.entries:
        table = lakefiles.table_and_partition(e.path)[0]
        stats = per_table.setdefault(table, [0, 0, 0, 0])
        stats[0] += 1
        data = lakefiles.read_bytes(scratch_lake, e.path)
        if hashlib.sha256(data).hexdigest() != e.sha256:
            stats[3] += 1
            problems.append(f"restored {e.path} does not match its checksum")
        if e.rows is not None:
            rows = lakefiles.parquet_rows(data)
            stats[1] += e.rows
            stats[2] += rows
            if rows != e.rows:
                problems.append(f"restored {e.path} has {rows} rows, manifest says {e.rows}")
    tables = [(t, s[0], s[1], s[2], s[3]) for t, s in sorted(per_table.items())]
    return DrillReport(backup_id, not problems, problems, tables, len(manifest.entries), manifest.total_bytes)
