"""Backups of the whole lake (tables, reports, models) into a content-addressed object store.

Layout in the target:
    objects/<sha[:2]>/<sha256>          each distinct file content once: an unchanged file is never copied again
    backups/<backup id>/manifest.json    every file with its size, SHA-256 and row count (Parquet), the source
                                         partitions per table, the code version; written last, so a backup without
                                         a manifest never happened
    backups/<backup id>/drill.json       the restore drill's verdict (see restore.py): "good" means it passed

Repeat backups skip re-reading a file whose size and modification time match the previous manifest, so a nightly
backup of an unchanged lake lists, compares and writes one manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from spotify_ai_assets.core.maintenance import lakefiles
from spotify_ai_assets.core.maintenance.storage import MissingObject, ObjectStore

if TYPE_CHECKING:
    from spotify_ai_assets.core.kernel.lake import Lake

MANIFEST_VERSION = 1
# Branch deployments write under the prod lake's `branches/` prefix: they are not prod data and are not backed up.
NOT_BACKED_UP = ("branches/",)


def object_key(sha256: str) -> str:
    return f"objects/{sha256[:2]}/{sha256}"


def manifest_key(backup_id: str) -> str:
    return f"backups/{backup_id}/manifest.json"


def drill_key(backup_id: str) -> str:
    return f"backups/{backup_id}/drill.json"


def new_backup_id(now: dt.datetime) -> str:
    """Sortable by time: 20260105T021500123456Z."""
    return now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    sha256: str
    rows: int | None
    mtime_ns: int | None


@dataclass
class Manifest:
    backup_id: str
    created_at: str
    code_version: str
    lake_root: str
    partition_key: str | None
    entries: list[Entry]
    source_partitions: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({
            "version": MANIFEST_VERSION, "backup_id": self.backup_id, "created_at": self.created_at,
            "code_version": self.code_version, "lake_root": self.lake_root, "partition_key": self.partition_key,
            "source_partitions": self.source_partitions,
            "objects": [e.__dict__ for e in self.entries],
        }, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str) -> Manifest:
        try:
            raw = json.loads(text)
            return cls(backup_id=raw["backup_id"], created_at=raw["created_at"], code_version=raw["code_version"],
                       lake_root=raw["lake_root"], partition_key=raw.get("partition_key"),
                       source_partitions=raw.get("source_partitions", {}),
                       entries=[Entry(**o) for o in raw["objects"]])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"manifest {where} is malformed: {exc!r}") from None

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries)

    def rows_by_table(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for e in self.entries:
            if e.rows is not None:
                table = lakefiles.table_and_partition(e.path)[0]
                totals[table] = totals.get(table, 0) + e.rows
        return totals


@dataclass(frozen=True)
class BackupResult:
    manifest: Manifest
    objects_copied: int
    bytes_copied: int
    objects_reused: int
    files_hashed: int

    @property
    def backup_id(self) -> str:
        return self.manifest.backup_id


def list_backups(store: ObjectStore) -> list[str]:
    """Backup ids with a manifest, oldest first."""
    return sorted({k.split("/")[1] for k in store.list("backups/") if k.endswith("/manifest.json")})


def load_manifest(store: ObjectStore, backup_id: str) -> Manifest:
    try:
        text = store.get(manifest_key(backup_id)).decode()
    except MissingObject:
        raise MissingObject(f"backup {backup_id!r} has no manifest in {store.url}") from None
    return Manifest.from_json(text, f"{store.url}/{manifest_key(backup_id)}")


def drill_verdict(store: ObjectStore, backup_id: str) -> dict | None:
    try:
        return json.loads(store.get(drill_key(backup_id)))
    except MissingObject:
        return None


def record_drill(store: ObjectStore, backup_id: str, verdict: dict) -> None:
    store.put(drill_key(backup_id), json.dumps(verdict, indent=1, sort_keys=True).encode())


def take_backup(lake: Lake, store: ObjectStore, *, code_version: str, now: dt.datetime,
                partition_key: str | None = None, backup_id: str | None = None) -> BackupResult:
    """Copy every lake file not already in the store, then write the manifest."""
    backup_id = backup_id or new_backup_id(now)
    previous = _previous_entries(store)
    present = set(store.list("objects/"))
    entries: list[Entry] = []
    copied = bytes_copied = reused = hashed = 0
    for f in lakefiles.list_files(lake):
        if f.path.startswith(NOT_BACKED_UP):
            continue
        known = previous.get(f.path)
        if known and known.size == f.size and known.mtime_ns == f.mtime_ns and f.mtime_ns is not None \
                and object_key(known.sha256) in present:
            entries.append(known)  # unchanged since the last backup: neither read nor copied
            reused += 1
            continue
        data = lakefiles.read_bytes(lake, f.path)
        hashed += 1
        sha = hashlib.sha256(data).hexdigest()
        rows = lakefiles.parquet_rows(data) if f.path.endswith(".parquet") else None
        entries.append(Entry(f.path, len(data), sha, rows, f.mtime_ns))
        if object_key(sha) in present:
            reused += 1
            continue
        store.put(object_key(sha), data)
        present.add(object_key(sha))
        copied += 1
        bytes_copied += len(data)
    partitions: dict[str, set[str]] = {}
    for e in entries:
        table, key = lakefiles.table_and_partition(e.path)
        partitions.setdefault(table, set())
        if key is not None:
            partitions[table].add(key)
    manifest = Manifest(backup_id=backup_id, created_at=now.astimezone(dt.UTC).isoformat(),
                        code_version=code_version, lake_root=lake.root, partition_key=partition_key,
                        entries=entries, source_partitions={t: sorted(k) for t, k in sorted(partitions.items())})
    store.put(manifest_key(backup_id), manifest.to_json().encode())
    return BackupResult(manifest, copied, bytes_copied, reused, hashed)


def _previous_entries(store: ObjectStore) -> dict[str, Entry]:
    ids = list_backups(store)
    if not ids:
        return {}
    return {e.path: e for e in load_manifest(store, ids[-1]).entries}
