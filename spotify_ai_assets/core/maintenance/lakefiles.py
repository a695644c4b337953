"""The lake seen as plain files (relative paths), for backups, restores and erasure: any table, report or model
under the lake root, on a local folder or S3, through the lake's own pyarrow filesystem."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from spotify_ai_assets.core.kernel.lake import Lake

# Compliance records (erasure log, audit) live in the lake but are never backed up or restored over: restoring an
# old backup must not roll back the record of an erasure.
COMPLIANCE_PREFIX = "_compliance/"
HEALTH_PREFIX = "_health/"
EXCLUDED_PREFIXES = (COMPLIANCE_PREFIX, HEALTH_PREFIX)


@dataclass(frozen=True)
class LakeFile:
    path: str
    size: int
    mtime_ns: int | None


def lake_base(lake: Lake) -> str:
    return lake.root[len("s3://"):] if lake.root.startswith("s3://") else lake.root


def _full(lake: Lake, path: str) -> str:
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in path.split("/")):
        raise ValueError(f"lake path {path!r} is not a plain relative name")
    return f"{lake_base(lake)}/{path}"


def list_files(lake: Lake, include_excluded: bool = False) -> list[LakeFile]:
    """Every data file under the lake root; in-flight `.tmp` files and other hidden names are skipped."""
    base = lake_base(lake)
    infos = lake.fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    files = []
    for info in infos:
        if info.type != pafs.FileType.File or info.base_name.startswith("."):
            continue
        rel = info.path[len(base):].lstrip("/")
        if not include_excluded and rel.startswith(EXCLUDED_PREFIXES):
            continue
        files.append(LakeFile(rel, info.size or 0, info.mtime_ns))
    return sorted(files, key=lambda f: f.path)


def read_bytes(lake: Lake, path: str) -> bytes:
    with lake.fs.open_input_stream(_full(lake, path)) as f:
        return f.read()


def write_bytes(lake: Lake, path: str, data: bytes) -> None:
    """Replace one file whole or not at all (written aside, then moved into place)."""
    lake.put_bytes(_full(lake, path), data)


def delete(lake: Lake, path: str) -> None:
    full = _full(lake, path)
    if lake.fs.get_file_info(full).type == pafs.FileType.File:
        lake.fs.delete_file(full)


def delete_dir(lake: Lake, path: str) -> None:
    """Remove a folder and what is in it (a pruned partition), so listings no longer show it."""
    full = _full(lake, path)
    if lake.fs.get_file_info(full).type == pafs.FileType.Directory:
        lake.fs.delete_dir(full)


def parquet_rows(data: bytes) -> int:
    return pq.ParquetFile(io.BytesIO(data)).metadata.num_rows


def table_and_partition(path: str) -> tuple[str, str | None]:
    """`listening_events/date=2026-01-05/part-0.parquet` -> ("listening_events", "2026-01-05"); files outside a
    partition folder belong to their folder with no partition."""
    parts = path.split("/")[:-1]
    for i, segment in enumerate(parts):
        if segment.startswith(("date=", "key=")):
            return "/".join(parts[:i]) or ".", segment.split("=", 1)[1]
    return "/".join(parts) or ".", None
