"""The lake seen as plain files (relative paths), for backups, restores and erasure: any table, report or model
under the lake root, on a local folder or S3, through the lake's own pyarrow filesystem."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

# pyarrow is imported where a lake is used, so that importing this module (the definitions do) stays cheap.
if TYPE_CHECKING:
    from spotify_ai_assets.core.kernel.lake import Lake

# Compliance records (erasure log, audit) live in the lake but are never backed up or restored over: restoring an
# old backup must not roll back the record of an erasure.
COMPLIANCE_PREFIX = "_compliance/"
HEALTH_PREFIX = "_health/"
# A restore is written here first, checked, then switched in (see restore.py); never backed up or mirrored.
STAGING_PREFIX = "_staging/"
EXCLUDED_PREFIXES = (COMPLIANCE_PREFIX, HEALTH_PREFIX, STAGING_PREFIX)


@dataclass(frozen=True)
class LakeFile:
    path: str
    size: int
    mtime_ns: int | None


def lake_base(lake: Lake) -> str:
    return lake.root[len("s3://"):] if lake.root.startswith("s3://") else lake.root


def path_problem(path: object) -> str | None:
    """Why `path` is not a plain relative name inside the lake (None when it is): a path read from a manifest is
    data, and must never reach outside the lake (`..`, absolute, backslashes, control characters)."""
    if not isinstance(path, str) or not path:
        return "not a non-empty string"
    if path.startswith("/") or "\\" in path:
        return "absolute or with a backslash"
    if any(ord(c) < 32 or c == "\x7f" for c in path):
        return "holds a control character"
    if any(p in ("", ".", "..") for p in path.split("/")):
        return "has an empty, '.' or '..' segment"
    return None


def _full(lake: Lake, path: str) -> str:
    problem = path_problem(path)
    if problem:
        raise ValueError(f"lake path {path!r} is not a plain relative name ({problem})")
    return f"{lake_base(lake)}/{path}"


def list_files(lake: Lake, include_excluded: bool = False) -> list[LakeFile]:
    """Every data file under the lake root; in-flight `.tmp` files and other hidden names are skipped (see
    `temporary_files`), and so are the compliance, health and staging folders unless `include_excluded`."""
    import pyarrow.fs as pafs
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


def temporary_files(lake: Lake) -> list[LakeFile]:
    """In-flight writes (`.<uuid>.tmp`, see Lake.put_bytes) anywhere under the lake root: a live write or the
    orphan of a killed one (housekeeping tells them apart by age)."""
    import pyarrow.fs as pafs

    base = lake_base(lake)
    infos = lake.fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    return sorted((LakeFile(i.path[len(base):].lstrip("/"), i.size or 0, i.mtime_ns) for i in infos
                   if i.type == pafs.FileType.File and i.base_name.startswith(".") and i.base_name.endswith(".tmp")),
                  key=lambda f: f.path)


def sub_lake(lake: Lake, prefix: str) -> Lake:
    """A lake rooted at `prefix` inside `lake` (same filesystem and credentials): where a restore is staged."""
    problem = path_problem(prefix.rstrip("/"))
    if problem:
        raise ValueError(f"prefix {prefix!r} is not a plain relative name ({problem})")
    return lake.child(prefix.rstrip("/"))


def move(lake: Lake, source: str, dest: str) -> None:
    """Move one file inside the lake (a rename locally: atomic; on S3 a server-side copy, then a delete)."""
    src, dst = _full(lake, source), _full(lake, dest)
    lake.fs.create_dir(dst.rsplit("/", 1)[0], recursive=True)
    lake.fs.move(src, dst)


def exists(lake: Lake, path: str) -> bool:
    import pyarrow.fs as pafs
    return lake.fs.get_file_info(_full(lake, path)).type == pafs.FileType.File


def read_bytes(lake: Lake, path: str) -> bytes:
    with lake.fs.open_input_stream(_full(lake, path)) as f:
        return f.read()


def write_bytes(lake: Lake, path: str, data: bytes) -> None:
    """Replace one file whole or not at all (written aside, then moved into place)."""
    lake.put_bytes(_full(lake, path), data)


def delete(lake: Lake, path: str) -> None:
    import pyarrow.fs as pafs
    full = _full(lake, path)
    if lake.fs.get_file_info(full).type == pafs.FileType.File:
        lake.fs.delete_file(full)


def delete_dir(lake: Lake, path: str) -> None:
    """Remove a folder and what is in it (a pruned partition), so listings no longer show it."""
    import pyarrow.fs as pafs
    full = _full(lake, path)
    if lake.fs.get_file_info(full).type == pafs.FileType.Directory:
        lake.fs.delete_dir(full)


def parquet_rows(data: bytes) -> int:
    import pyarrow.parquet as pq
    return pq.ParquetFile(io.BytesIO(data)).metadata.num_rows


def table_and_partition(path: str) -> tuple[str, str | None]:
    """`listening_events/date=2026-01-05/part-0.parquet` -> ("listening_events", "2026-01-05"); files outside a
    partition folder belong to their folder with no partition."""
    parts = path.split("/")[:-1]
    for i, segment in enumerate(parts):
        if segment.startswith(("date=", "key=")):
            return "/".join(parts[:i]) or ".", segment.split("=", 1)[1]
    return "/".join(parts) or ".", None
