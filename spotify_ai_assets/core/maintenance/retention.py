"""Which backups to keep: the newest of each of the last N days, M ISO weeks and K months that have backups, and
always the newest good one (its restore drill passed), whatever its age. Objects no kept manifest refers to are
then garbage."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from spotify_ai_assets.core.maintenance.backup import (
    drill_key,
    drill_verdict,
    list_backups,
    load_manifest,
    manifest_key,
    object_key,
)
from spotify_ai_assets.core.maintenance.storage import ObjectStore


@dataclass(frozen=True)
class Policy:
    daily: int = 7
    weekly: int = 4
    monthly: int = 6

    @classmethod
    def parse(cls, text: str, name: str = "retention") -> Policy:
        """"7,4,6" -> daily 7, weekly 4, monthly 6."""
        try:
            d, w, m = (int(x) for x in text.split(","))
        except ValueError:
            raise ValueError(f"{name}={text!r} must be three integers 'daily,weekly,monthly', e.g. '7,4,6'") from None
        if min(d, w, m) < 0 or d + w + m == 0:
            raise ValueError(f"{name}={text!r}: counts must be >= 0 and not all zero")
        return cls(d, w, m)


@dataclass(frozen=True)
class BackupInfo:
    backup_id: str
    created_at: dt.datetime
    good: bool  # its restore drill passed
    drilled: bool = False  # a drill verdict exists (passed or not)


def plan(backups: list[BackupInfo], policy: Policy) -> tuple[list[str], list[str]]:
    """(keep, prune), both oldest first."""
    newest_first = sorted(backups, key=lambda b: b.created_at, reverse=True)
    keep: set[str] = set()
    for count, bucket in ((policy.daily, lambda d: d.date()),
                          (policy.weekly, lambda d: tuple(d.isocalendar())[:2]),
                          (policy.monthly, lambda d: (d.year, d.month))):
        seen: list[object] = []
        for b in newest_first:
            key = bucket(b.created_at)
            if key in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(key)
            keep.add(b.backup_id)
    good = next((b for b in newest_first if b.good), None)
    if good is not None:
        keep.add(good.backup_id)  # never prune the last backup known to restore
    ordered = [b.backup_id for b in sorted(backups, key=lambda b: b.created_at)]
    return [i for i in ordered if i in keep], [i for i in ordered if i not in keep]


def describe(store: ObjectStore) -> list[BackupInfo]:
    infos = []
    for backup_id in list_backups(store):
        verdict = drill_verdict(store, backup_id)
        created = dt.datetime.fromisoformat(load_manifest(store, backup_id).created_at)
        infos.append(BackupInfo(backup_id, created, bool(verdict and verdict.get("passed")), verdict is not None))
    return infos


@dataclass(frozen=True)
class PruneReport:
    kept: list[str]
    pruned: list[str]
    objects_deleted: int


def prune(store: ObjectStore, policy: Policy) -> PruneReport:
    """Delete the backups past retention, then every object no kept manifest refers to."""
    keep, drop = plan(describe(store), policy)
    for backup_id in drop:
        store.delete(manifest_key(backup_id))  # the manifest first: a half-pruned backup is simply gone
        store.delete(drill_key(backup_id))
    referenced = {object_key(e.sha256) for b in keep for e in load_manifest(store, b).entries}
    garbage = [k for k in store.list("objects/") if k not in referenced]
    for key in garbage:
        store.delete(key)
    return PruneReport(keep, drop, len(garbage))
