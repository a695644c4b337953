"""The lake: one Parquet file per table partition, on a local folder or S3, through pyarrow.fs.

Every write replaces its partition whole: a re-run never duplicates rows, and each step writes only its
own file, so parallel steps (other processes, other machines) never share a writer lock. DuckDB reads the
lake through Arrow datasets (see `query.py`), so the same SQL works for local and S3 roots.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

if TYPE_CHECKING:
    import pyarrow.dataset as ds

from spotify_ai_assets.core.kernel.query import ParquetFiles, Relation

_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=-]*$")
PART_FILE = "part-0.parquet"
# Row groups are the unit DuckDB parallelises over: several per large partition, one per small one.
ROW_GROUP_ROWS = 1_000_000


class LakePathError(ValueError):
    """A table or partition name that would escape the lake or is not a plain path segment."""


@dataclass(frozen=True)
class WriteResult:
    uri: str
    rows: int
    bytes: int
    schema: pa.Schema


def _segment(value: str, what: str) -> str:
    if not _SEGMENT_RE.match(value) or ".." in value:
        raise LakePathError(f"{what} {value!r} is not a safe path segment (letters, digits, _ . = - only)")
    return value


class Lake:
    """A lake rooted at a local path or an `s3://bucket/prefix` URI."""

    def __init__(self, root: str, s3_endpoint_url: str | None = None, s3_region: str | None = None):
        self.root = root.rstrip("/")
        if self.root.startswith("s3://"):
            self.fs: pafs.FileSystem = pafs.S3FileSystem(
                endpoint_override=s3_endpoint_url, region=s3_region or "us-east-1",
            )
            self._base = self.root[len("s3://"):]
            self._local = False
        else:
            self.fs = pafs.LocalFileSystem()
            self._base = self.root
            self._local = True

    # ---- paths -------------------------------------------------------------------------------
    def _table_dir(self, table: str) -> str:
        return "/".join([self._base, *(_segment(p, "table") for p in table.split("/"))])

    def _partition_dir(self, table: str, partition: str | None) -> str:
        table_dir = self._table_dir(table)
        if partition is None:
            return table_dir
        return f"{table_dir}/{_segment(partition_dirname(partition), 'partition')}"

    def path(self, table: str, partition: str | None = None) -> str:
        return f"{self._partition_dir(table, partition)}/{PART_FILE}"

    def uri(self, table: str, partition: str | None = None) -> str:
        p = self.path(table, partition)
        return f"s3://{p}" if not self._local else f"file://{p}"

    def partition_uri(self, table: str, partition: str | None = None) -> str:
        d = self._partition_dir(table, partition)
        return f"s3://{d}/" if not self._local else f"file://{d}/"

    def table_uri(self, table: str) -> str:
        d = self._table_dir(table)
        return f"s3://{d}/" if not self._local else f"file://{d}/"

    # ---- writes ------------------------------------------------------------------------------
    def write(self, table: str, data: pa.Table, partition: str | None = None) -> WriteResult:
        """Replace the partition with `data`, whole or not at all (see `write_batches`)."""
        return self.write_batches(table, pa.RecordBatchReader.from_batches(data.schema, data.to_batches()), partition)

    def write_batches(self, table: str, batches: pa.RecordBatchReader, partition: str | None = None) -> WriteResult:
        """Replace the partition with a stream of batches, so a table larger than memory can be written."""
        directory = self._partition_dir(table, partition)
        final = f"{directory}/{PART_FILE}"
        self.fs.create_dir(directory, recursive=True)
        # Readers must never see a half-written file, and a failed stream must not replace a good partition: write
        # aside, then rename over the old one (on S3 a server-side copy that lands whole or not at all).
        target = f"{directory}/.{uuid.uuid4().hex}.tmp"
        rows = 0
        try:
            with pq.ParquetWriter(target, batches.schema, filesystem=self.fs, compression="zstd") as writer:
                for batch in batches:
                    writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
                    rows += batch.num_rows
            self.fs.move(target, final)
        finally:
            if self.fs.get_file_info(target).type == pafs.FileType.File:
                self.fs.delete_file(target)
        size = self.fs.get_file_info(final).size or 0
        return WriteResult(uri=self.uri(table, partition), rows=rows, bytes=size, schema=batches.schema)

    def write_file(self, table: str, name: str, data: bytes, partition: str | None = None) -> str:
        """Replace one non-table file (a report, a model) of a partition, whole or not at all; return its uri."""
        final = f"{self._partition_dir(table, partition)}/{_segment(name, 'file name')}"
        self.put_bytes(final, data)
        return f"s3://{final}" if not self._local else f"file://{final}"

    def put_bytes(self, path: str, data: bytes) -> None:
        """Replace the file at `path` (a path in this lake's filesystem) whole or not at all: written aside in the
        same folder, then moved into place, so a reader never sees half a file."""
        directory = path.rsplit("/", 1)[0]
        self.fs.create_dir(directory, recursive=True)
        target = f"{directory}/.{uuid.uuid4().hex}.tmp"
        try:
            with self.fs.open_output_stream(target) as out:
                out.write(data)
            self.fs.move(target, path)
        finally:
            if self.fs.get_file_info(target).type == pafs.FileType.File:
                self.fs.delete_file(target)

    def replace_files(self, table: str, files: dict[str, bytes], partition: str | None = None) -> dict[str, str]:
        """Make `files` the partition's whole content (a set of reports): write each, then remove any file an
        earlier run left that is no longer in the set. Returns name -> uri."""
        uris = {name: self.write_file(table, name, data, partition) for name, data in files.items()}
        directory = self._partition_dir(table, partition)
        for info in self.fs.get_file_info(pafs.FileSelector(directory, allow_not_found=True)):
            if info.type == pafs.FileType.File and info.base_name not in files:
                self.fs.delete_file(info.path)
        return uris

    def list_files(self, table: str, partition: str | None = None) -> list[str]:
        selector = pafs.FileSelector(self._partition_dir(table, partition), allow_not_found=True)
        return sorted(i.base_name for i in self.fs.get_file_info(selector) if i.type == pafs.FileType.File)

    def read_file(self, table: str, name: str, partition: str | None = None) -> bytes:
        with self.fs.open_input_stream(f"{self._partition_dir(table, partition)}/{_segment(name, 'file name')}") as f:
            return f.read()

    def delete(self, table: str, partition: str | None = None) -> None:
        info = self.fs.get_file_info(self.path(table, partition))
        if info.type == pafs.FileType.File:
            self.fs.delete_file(info.path)

    # ---- reads -------------------------------------------------------------------------------
    def exists(self, table: str, partition: str | None = None) -> bool:
        return self.fs.get_file_info(self.path(table, partition)).type == pafs.FileType.File

    def _open(self, path: str) -> pa.NativeFile:
        """One consistent version of a file, even while another process replaces it.

        Reading by path opens the file more than once (footer, then pages), so a concurrent replace could pair
        one version's footer with another's pages. A local handle pins the inode it opened; on S3 the object is
        fetched in one GET because ranged reads could straddle two versions.
        """
        if self._local:
            return self.fs.open_input_file(path)
        with self.fs.open_input_stream(path) as stream:
            return pa.BufferReader(stream.read())

    def read(self, table: str, partition: str | None = None, columns: list[str] | None = None,
             filters: list[tuple[str, str, object]] | None = None) -> pa.Table:
        with self._open(self.path(table, partition)) as handle:
            return pq.read_table(handle, columns=columns, filters=filters)

    def row_count(self, table: str, partition: str | None = None) -> int | None:
        """From the Parquet footer alone (two small ranged reads on S3, not the whole object)."""
        path = self.path(table, partition)
        if not self.exists(table, partition):
            return None
        try:
            with self.fs.open_input_file(path) as handle:
                return pq.ParquetFile(handle).metadata.num_rows
        except (OSError, pa.ArrowInvalid):
            # The file was replaced between the two reads of its footer: read one consistent version whole.
            with self._open(path) as handle:
                return pq.ParquetFile(handle).metadata.num_rows

    def partitions(self, table: str) -> list[str]:
        selector = pafs.FileSelector(self._table_dir(table), allow_not_found=True)
        keys = []
        for info in self.fs.get_file_info(selector):
            name = info.base_name
            if info.type == pafs.FileType.Directory and name.startswith("date="):
                keys.append(name[len("date="):])
            elif info.type == pafs.FileType.Directory and name.startswith("key="):
                keys.append(name[len("key="):])
        return sorted(keys)

    def _files(self, table: str, partitions: list[str] | None) -> list[str]:
        if partitions is None and self.exists(table):
            return [self.path(table)]  # an unpartitioned table
        keys = self.partitions(table) if partitions is None else partitions
        files = [self.path(table, k) for k in keys if self.exists(table, k)]
        if not files:
            raise FileNotFoundError(f"table {table!r} has no materialized partition among {keys}")
        return files

    def dataset(self, table: str, partitions: list[str] | None = None) -> ds.Dataset:
        """An Arrow dataset over some partitions of a table (all when `partitions` is None)."""
        import pyarrow.dataset as ds

        return ds.dataset(self._files(table, partitions), format="parquet", filesystem=self.fs)

    def scan(self, table: str, partitions: list[str] | None = None) -> Relation:
        """What SQL should read: local files through DuckDB's own Parquet reader (parallel, fastest), S3 objects
        through an Arrow dataset (DuckDB's S3 support is an extension downloaded at run time)."""
        if not self._local:
            return self.dataset(table, partitions)
        return ParquetFiles(tuple(self._files(table, partitions)))


def partition_dirname(partition: str) -> str:
    """Daily keys become `date=YYYY-MM-DD` (Hive style, readable by any engine); others `key=...`."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", partition):
        return f"date={partition}"
    return f"key={partition}"
