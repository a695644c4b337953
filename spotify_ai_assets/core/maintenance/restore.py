"""Restores: check every object of a backup against its manifest, then write it into a target lake.

A backup is verified whole before anything is written, so a corrupted or missing object (named in the error with
the lake path it stands for) never leaves a half-restored lake. After the files are in place the erasure log is
re-applied, so restoring an old backup never brings an erased user back. The restore drill restores into a
scratch folder and compares checksums and row counts with the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.maintenance import erasure, lakefiles
from spotify_ai_assets.core.maintenance.backup import NOT_BACKED_UP, Manifest, load_manifest, object_key
from spotify_ai_assets.core.maintenance.storage import MissingObject, ObjectStore


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


def verify(store: ObjectStore, manifest: Manifest) -> list[str]:
    """Every problem with the backup's objects, each naming the lake path, the object and what is wrong."""
    problems = []
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


def restore(store: ObjectStore, backup_id: str, target: Lake, *, salt: str | None,
            mirror: bool = True) -> RestoreReport:
    """Restore `backup_id` into `target`. With `mirror`, lake files the backup does not have are removed (the
    compliance records are kept). With a `salt`, the erasure log (the target's and the backup target's) is
    re-applied afterwards; only a scratch drill passes None."""
    manifest = load_manifest(store, backup_id)
    problems = verify(store, manifest)
    if problems:
        raise BackupDamaged(backup_id, problems)
    report = RestoreReport(backup_id, target.root)
    wanted = {e.path for e in manifest.entries}
    existing = {f.path: f for f in lakefiles.list_files(target) if not f.path.startswith(NOT_BACKED_UP)}
    for e in manifest.entries:
        data = store.get(object_key(e.sha256))
        if hashlib.sha256(data).hexdigest() != e.sha256:  # changed since verify: never write unchecked bytes
            raise BackupDamaged(backup_id, [f"corrupted object {object_key(e.sha256)} for {e.path} (during restore)"])
        current = existing.get(e.path)
        if current is None or current.size != e.size or hashlib.sha256(
                lakefiles.read_bytes(target, e.path)).hexdigest() != e.sha256:
            lakefiles.write_bytes(target, e.path, data)
            report.files_written += 1
            report.bytes_written += len(data)
        if e.rows is not None:
            table = lakefiles.table_and_partition(e.path)[0]
            report.rows_by_table[table] = report.rows_by_table.get(table, 0) + e.rows
    if mirror:
        for path in sorted(set(existing) - wanted):
            lakefiles.delete(target, path)
            report.files_removed.append(path)
    if salt is not None:
        log = erasure.read_log(target, store)
        report.erasures_reapplied = len(log)
        scrub = erasure.scrub_lake(target, salt, {e.subject_hash for e in log})
        report.erasure_removals = scrub.total
    return report


def repair(store: ObjectStore, backup_id: str, lake: Lake) -> tuple[list[str], list[str]]:
    """Re-copy damaged objects of a backup from the lake where the lake still holds those exact bytes.

    Incremental backups reuse stored objects, so a corrupted object would otherwise fail every later drill.
    Returns (repaired, unrecoverable) lake paths; unrecoverable ones changed in the lake since the backup."""
    manifest = load_manifest(store, backup_id)
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
