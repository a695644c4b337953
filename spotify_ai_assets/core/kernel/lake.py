"""The lake: one Parquet file per table partition, on a local folder or S3, through pyarrow.fs.

Every write replaces its partition whole: a re-run never duplicates rows, and each step writes only its
own file, so parallel steps (other processes, other machines) never share a writer lock. DuckDB reads the
lake through Arrow datasets (see `query.py`), so the same SQL works for local and S3 roots.
"""

from __future__ import annotations

import base64
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


class LakeWriteError(OSError):
    """A write that failed (disk full, permission, S3 error), naming the file it was writing. Nothing was replaced:
    every write goes aside first, and the aside file is removed."""

    def __init__(self, path: str, exc: BaseException):
        self.path = path
        self.errno_ = getattr(exc, "errno", None)
        super().__init__(f"could not write {path}: {exc}")


def _tmp_name(directory: str) -> str:
    # Hidden and recognisable: listings skip it, housekeeping removes it when a killed write left it behind.
    return f"{directory}/.{uuid.uuid4().hex}.tmp"


def _remove_quietly(fs: pafs.FileSystem, path: str) -> None:
    try:
        if fs.get_file_info(path).type == pafs.FileType.File:
            fs.delete_file(path)
    except OSError:
        pass  # best effort: an orphan .tmp is cleaned by housekeeping


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

    def child(self, prefix: str) -> Lake:
        """The lake rooted at `prefix` inside this one, on the same filesystem (a staging area)."""
        sub = object.__new__(Lake)
        sub.root, sub.fs, sub._local = f"{self.root}/{prefix}", self.fs, self._local
        sub._base = f"{self._base}/{prefix}"
        return sub

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
        # Readers must never see a half-written file, and a failed stream must not replace a good partition: write
        # aside, then rename over the old one (on S3 a server-side copy that lands whole or not at all).
        target = _tmp_name(directory)
        rows = 0
        stored, options = _storage(batches.schema)
        try:
            self.fs.create_dir(directory, recursive=True)
            with pq.ParquetWriter(target, batches.schema, filesystem=self.fs, compression="zstd", **options) as writer:
                if stored is not batches.schema:
                    writer.add_key_value_metadata({b"ARROW:schema": base64.b64encode(stored.serialize().to_pybytes())})
                for batch in batches:
                    writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
                    rows += batch.num_rows
            self.fs.move(target, final)
        except OSError as exc:  # pyarrow's "No space left on device" names no file: name it
            raise LakeWriteError(final, exc) from exc
        finally:
            _remove_quietly(self.fs, target)
        size = self.fs.get_file_info(final).size or 0
        return WriteResult(uri=self.uri(table, partition), rows=rows, bytes=size, schema=stored)

    def write_file(self, table: str, name: str, data: bytes, partition: str | None = None) -> str:
        """Replace one non-table file (a report, a model) of a partition, whole or not at all; return its uri."""
        final = f"{self._partition_dir(table, partition)}/{_segment(name, 'file name')}"
        self.put_bytes(final, data)
        return f"s3://{final}" if not self._local else f"file://{final}"

    def put_bytes(self, path: str, data: bytes) -> None:
        """Replace the file at `path` (a path in this lake's filesystem) whole or not at all: written aside in the
        same folder, then moved into place, so a reader never sees half a file."""
        directory = path.rsplit("/", 1)[0]
        target = _tmp_name(directory)
        try:
            self.fs.create_dir(directory, recursive=True)
            with self.fs.open_output_stream(target) as out:
                out.write(data)
            self.fs.move(target, path)
        except OSError as exc:
            raise LakeWriteError(path, exc) from exc
        finally:
            _remove_quietly(self.fs, target)

    def replace_files(self, table: str, files: dict[str, bytes], partition: str | None = None) -> dict[str, str]:
        """Make `files` the partition's whole content (a set of reports), all or none: every file is written aside
        first; only when all are written are they moved into place (renames, which need no space), then files an
        earlier run left that are no longer in the set are removed. A failed write (disk full) removes the aside
        files and raises naming the file: the partition keeps its previous set. Returns name -> uri."""
        directory = self._partition_dir(table, partition)
        finals = {name: f"{directory}/{_segment(name, 'file name')}" for name in files}
        staged: dict[str, str] = {}
        try:
            self.fs.create_dir(directory, recursive=True)
            for name, data in files.items():
                staged[name] = _tmp_name(directory)
                try:
                    with self.fs.open_output_stream(staged[name]) as out:
                        out.write(data)
                except OSError as exc:
                    raise LakeWriteError(finals[name], exc) from exc
            for name, tmp in staged.items():
                self.fs.move(tmp, finals[name])
        except OSError as exc:
            for tmp in staged.values():
                _remove_quietly(self.fs, tmp)
            if isinstance(exc, LakeWriteError):
                raise
            raise LakeWriteError(directory, exc) from exc
        for info in self.fs.get_file_info(pafs.FileSelector(directory, allow_not_found=True)):
            if info.type == pafs.FileType.File and info.base_name not in files and not info.base_name.startswith("."):
                self.fs.delete_file(info.path)
        return {name: (f"s3://{f}" if not self._local else f"file://{f}") for name, f in finals.items()}

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


# Field metadata a producer may set on a column whose min/max can never prune a row group (unique or evenly spread
# values): the writer then skips computing them.
NO_STATISTICS = {b"lake.statistics": b"none"}


def _storage(schema: pa.Schema) -> tuple[pa.Schema, dict]:
    """The schema a table is stored with, and the writer options for it.

    The lake stores plain types: a string column that arrives dictionary-encoded is declared a plain string (what
    every reader gets back) while its dictionary becomes the Parquet dictionary page as it is, so a large table with
    few distinct ids is written without hashing every value again. The other columns are then written without
    dictionaries (the writer would try one for each and, for unique values like event ids, give up after 1 MB).
    Columns marked with NO_STATISTICS get no min/max statistics.
    """
    def plain(f: pa.Field) -> pa.Field:
        metadata = {k: v for k, v in (f.metadata or {}).items() if k not in NO_STATISTICS} or None
        t = f.type
        if pa.types.is_dictionary(t) and (pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)):
            t = t.value_type
        return pa.field(f.name, t, f.nullable, metadata)

    stored = pa.schema([plain(f) for f in schema], metadata=schema.metadata)
    options: dict = {}
    no_stats = [f.name for f in schema if (f.metadata or {}).get(b"lake.statistics") == b"none"]
    if no_stats:
        options["write_statistics"] = [f.name for f in schema if f.name not in no_stats]
    dictionary_columns = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    if not dictionary_columns:
        return schema, options
    return stored, {**options, "store_schema": False, "use_dictionary": dictionary_columns}


def partition_dirname(partition: str) -> str:
    """Daily keys become `date=YYYY-MM-DD` (Hive style, readable by any engine); others `key=...`."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", partition):
        return f"date={partition}"
    return f"key={partition}"
