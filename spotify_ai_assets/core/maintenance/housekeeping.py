"""Retention of raw landing files and quarantine records: day folders older than the retention are removed, and
what was removed is returned so the job can report it. (Dagster's own run records, event logs and compute logs
are pruned by the shell, which holds the instance.)"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.maintenance import lakefiles

_DAY_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Pruned:
    where: str
    day: str
    files: int
    bytes: int


def _older(day: str, today: dt.date, keep_days: int) -> bool:
    return dt.date.fromisoformat(day) < today - dt.timedelta(days=keep_days)


def prune_landing(root: str | Path, keep_days: int, today: dt.date) -> list[Pruned]:
    """Remove `<root>/<kind>/date=YYYY-MM-DD/` folders older than `keep_days` (the exports were ingested long ago;
    the lake and its backups hold the result)."""
    base, pruned = Path(root), []
    if not base.is_dir():
        return []
    for kind in sorted(p for p in base.iterdir() if p.is_dir()):
        for day_dir in sorted(p for p in kind.iterdir() if p.is_dir()):
            m = _DAY_DIR.match(day_dir.name)
            if m and _older(m.group(1), today, keep_days):
                files = [f for f in day_dir.rglob("*") if f.is_file()]
                pruned.append(Pruned(f"landing/{kind.name}", m.group(1), len(files),
                                     sum(f.stat().st_size for f in files)))
                shutil.rmtree(day_dir)
    return pruned


def prune_quarantine(lake: Lake, keep_days: int, today: dt.date) -> list[Pruned]:
    """Remove quarantine partitions (`quarantine/<table>/date=.../`) older than `keep_days`."""
    groups: dict[tuple[str, str], list[lakefiles.LakeFile]] = {}
    for f in lakefiles.list_files(lake):
        if not f.path.startswith("quarantine/"):
            continue
        table, day = lakefiles.table_and_partition(f.path)
        if day and re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) and _older(day, today, keep_days):
            groups.setdefault((table, day), []).append(f)
    pruned = []
    for (table, day), files in sorted(groups.items()):
        for f in files:
            lakefiles.delete(lake, f.path)
        lakefiles.delete_dir(lake, files[0].path.rsplit("/", 1)[0])
        pruned.append(Pruned(table, day, len(files), sum(f.size for f in files)))
    return pruned


def prune_temporary_files(lake: Lake, older_than: dt.timedelta, now: dt.datetime,
                          store_temporaries: list[tuple[str, float]] = ()) -> list[Pruned]:
    """Orphans of killed writes: `.<uuid>.tmp` files in the lake (and the local backup target) untouched for
    `older_than`. A write in progress keeps touching its file, and none lasts anywhere near the threshold, so a
    live write is never removed."""
    cutoff_ns = (now - older_than).timestamp() * 1e9
    pruned = []
    for f in lakefiles.temporary_files(lake):
        if f.mtime_ns is not None and f.mtime_ns < cutoff_ns:
            lake.fs.delete_file(f"{lakefiles.lake_base(lake)}/{f.path}")
            pruned.append(Pruned("lake temporary", f.path, 1, f.size))
    for path, mtime in store_temporaries:
        if mtime * 1e9 < cutoff_ns:
            p = Path(path)
            size = p.stat().st_size if p.exists() else 0
            p.unlink(missing_ok=True)
            pruned.append(Pruned("backup temporary", p.name, 1, size))
    return pruned
