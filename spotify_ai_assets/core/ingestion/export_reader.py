"""Read each export file on its own: screen its schema, validate its records, keep the good ones encoded.

No file can change how another is read. Each is screened from its footer (Parquet) or by its name (JSON lines):
- Parquet whose columns have the event's types is validated with the typed rules (vectorised, per distinct value);
- Parquet with text-like columns (strings for timestamps, floats for ms_played, ...) and JSON lines go through the
  text rules in DuckDB, over this file's rows only, with this file's own types;
- Parquet with a column no value of which can be an event field (a list for `country`, an integer for `skipped`)
  has every record quarantined, naming the column and its type;
- a file that cannot be read at all is one quarantine entry.
Paths are used literally (never as a glob). JSON lines are streamed: a line that is not UTF-8 or longer than
MAX_RECORD_BYTES is quarantined on its own, before any parsing, and the file goes on.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spotify_ai_assets.core.ingestion.export_rules import (
    EXPORT_COLUMNS,
    MAX_RECORD_BYTES,
    PART_DICTIONARY_COLUMNS,
    PASSED,
    RULES,
    TEXT_COLUMNS,
    TypedColumns,
    clip_raw,
    json_stage_sql,
    parquet_raw_sql,
    parquet_stage_sql,
    typed_verdicts,
    verdict_stage_sql,
)
from spotify_ai_assets.core.ingestion.string_buffers import as_bytes
from spotify_ai_assets.core.kernel.query import connect

if TYPE_CHECKING:  # DuckDB loads with the first query, not with the definitions
    import duckdb

JSON_SUFFIXES = (".jsonl", ".json")
PARQUET_SUFFIX = ".parquet"
# Rows per validation batch: big enough that per-batch costs vanish, small enough to bound memory per file.
BATCH_ROWS = 1 << 20
JSON_CHUNK_BYTES = 16 << 20
_READ_BLOCK = 8 << 20
# Memory a connection staging text records may use (it sees one chunk of one file at a time).
TEXT_STAGE_MEMORY = "1GB"

# Quarantine rows as collected per file: sorted by (file, line_no) at the end.
BAD_SCHEMA = pa.schema([("file", pa.string()), ("line_no", pa.int64()), ("field", pa.string()),
                        ("reason", pa.string()), ("raw", pa.string())])


@dataclass(frozen=True)
class Screened:
    """What a file's footer (or name) says about how to read it."""

    path: str
    plan: str  # "typed" | "text" | "wrong_type" | "json" | "unreadable"
    types: dict[str, pa.DataType] = field(default_factory=dict)
    problem: tuple[str, str] | None = None  # (field, reason) for wrong_type; ("<file>", reason) for unreadable
    rows: int = 0  # rows from the footer (Parquet) or an upper estimate (JSON)


@dataclass
class Part:
    """Good records of one batch of one file (or recently-played plays): the PART_DICTIONARY_COLUMNS dictionary-encoded
    per part, event_id and user_id plain strings."""

    num_rows: int
    event_id: pa.Array
    user_id: pa.Array
    values: dict[str, pa.Array]
    codes: dict[str, np.ndarray]
    played_at_us: np.ndarray
    ms_played: pa.Array
    skipped: pa.Array
    priority: int  # 0 export, 1 recently-played: the export row wins a tie
    # The smallest and largest user id as bytes (None without one), taken in the reading thread: the day's bounds
    # (event_order's prefix keys) are then the parts' and not one more pass over every id on the ordering's
    # critical path.
    user_bounds: tuple[bytes | None, bytes | None] = field(init=False)

    def __post_init__(self) -> None:
        bounds = pc.min_max(as_bytes(self.user_id))
        self.user_bounds = (bounds["min"].as_py(), bounds["max"].as_py())


@dataclass
class FileResult:
    path: str
    parts: list[Part] = field(default_factory=list)
    bad: list[pa.Table] = field(default_factory=list)  # BAD_SCHEMA rows
    records: int = 0  # records in (an unreadable file counts as one)
    unreadable: str | None = None


# ---- screening -----------------------------------------------------------------------------------------------------
def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _expected(name: str) -> str:
    return {"played_at": "a timestamp with time zone", "ms_played": "an integer", "skipped": "a boolean"}.get(
        name, "text")


def _classify(name: str, t: pa.DataType) -> str:
    """How one column's type can be read: typed (the event's type), text (checked value by value) or wrong."""
    if pa.types.is_null(t):
        return "typed"  # all NULL: the rules name the missing field
    if name in TEXT_COLUMNS:
        return "typed" if _is_text(t) else "wrong"
    if name == "played_at":
        if pa.types.is_timestamp(t) and t.tz is not None and t.unit != "ns":
            return "typed"
        # A time without zone or with nanoseconds (DuckDB rounds those) or a date: the text rules decide per value.
        return "text" if pa.types.is_timestamp(t) or pa.types.is_date(t) or _is_text(t) else "wrong"
    if name == "ms_played":
        if pa.types.is_integer(t) and t != pa.uint64():
            return "typed"
        return "text" if (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
                          or _is_text(t)) else "wrong"
    if name == "skipped":
        return "typed" if pa.types.is_boolean(t) else "text" if _is_text(t) else "wrong"
    return "wrong"


def screen(path: str) -> Screened:
    """Screen one export file from its footer (Parquet) or its name (JSON lines), without reading its records."""
    if path.endswith(JSON_SUFFIXES):
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            return Screened(path, "unreadable", problem=("<file>", f"unreadable export file: {exc}"))
        # A valid event line is well over 100 bytes, so this over-estimates rows (memory planning errs safe).
        return Screened(path, "json", rows=size // 100 + 1)
    try:
        import pyarrow.parquet as pq  # here, not at import: it loads pandas, which the definitions must not

        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
        rows = pf.metadata.num_rows
    except (OSError, ValueError, pa.ArrowException) as exc:
        return Screened(path, "unreadable", problem=("<file>", f"unreadable export file: {exc}"))
    types: dict[str, pa.DataType] = {}
    plans = []
    for name in EXPORT_COLUMNS:
        found = schema.get_all_field_indices(name)
        if not found:
            continue
        t = schema.field(found[0]).type
        types[name] = t
        kind = "wrong" if len(found) > 1 else _classify(name, t)
        if kind == "wrong":
            reason = ("column appears more than once in this file" if len(found) > 1
                      else f"column is {t} in this file, expected {_expected(name)}")
            return Screened(path, "wrong_type", types, (name, reason), rows)
        plans.append(kind)
    return Screened(path, "text" if "text" in plans else "typed", types, rows=rows)


# ---- reading -------------------------------------------------------------------------------------------------------
class StageConnections:
    """One DuckDB connection per reading thread for the text rules (opening one costs ~0.1 s), closed together."""

    def __init__(self, memory_limit: str = TEXT_STAGE_MEMORY) -> None:
        self.memory_limit = memory_limit
        # A chunk of JSON lines is staged at once: a fraction of the limit leaves room for DuckDB's copies of it.
        self.json_chunk_bytes = max(1 << 20, min(JSON_CHUNK_BYTES, _bytes(memory_limit) // 16))
        self._local = threading.local()
        self._all: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()

    def get(self) -> duckdb.DuckDBPyConnection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = connect(threads=1, memory_limit=self.memory_limit)
            self._local.con = con
            with self._lock:
                self._all.append(con)
        return con

    def close(self) -> None:
        with self._lock:
            for con in self._all:
                con.close()
            self._all.clear()

    def __enter__(self) -> StageConnections:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_export(s: Screened, day: dt.date, connections: StageConnections) -> FileResult:
    """Validate every record of one screened file; a failure while reading makes the file one quarantine entry."""
    result = FileResult(s.path)
    if s.plan == "unreadable":
        assert s.problem is not None
        return _unreadable(result, s.problem[1])
    try:
        if s.plan == "json":
            _read_json(s, day, result, connections.get(), connections.json_chunk_bytes)
        else:
            _read_parquet(s, day, result, connections)
    except (OSError, ValueError, pa.ArrowException) as exc:
        # Parts of a file that broke half-way are dropped: the file is quarantined whole, never half-landed.
        return _unreadable(FileResult(s.path), f"unreadable export file: {exc}")
    return result


def _bytes(size: str) -> int:
    """'2GB', '512MB', '64MiB' -> bytes (DuckDB's own spellings)."""
    text = size.strip().upper().replace("IB", "B")
    for unit, factor in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)):
        if text.endswith(unit):
            return int(float(text[:-len(unit)]) * factor)
    return int(text)


def _unreadable(result: FileResult, reason: str) -> FileResult:
    result.unreadable = reason
    result.records = 1
    return result


def _read_parquet(s: Screened, day: dt.date, result: FileResult, connections: StageConnections) -> None:
    columns = list(s.types)
    # Columns with few distinct values are usually dictionary-encoded in the file: read as dictionaries, their
    # strings are never materialised row by row. (User ids are nearly unique within an hour: read plain.)
    as_dictionary = [c for c in ("track_id", "artist_id", "country", "device")
                     if c in s.types and s.plan == "typed" and not pa.types.is_null(s.types[c])]
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(s.path, read_dictionary=as_dictionary)
    first_line = 1
    for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=columns, use_threads=True):
        n = batch.num_rows
        result.records += n
        if s.plan == "typed":
            _typed_batch(batch, first_line, s, day, result, connections)
        else:
            con = connections.get()
            con.register("export_rows", _with_line_numbers(batch, first_line))
            try:
                if s.plan == "wrong_type":
                    assert s.problem is not None
                    raw = con.sql(parquet_raw_sql("export_rows", s.types)).to_arrow_table()
                    result.bad.append(_bad_table(s.path, raw["line_no"], s.problem[0], s.problem[1], raw["raw"]))
                else:
                    staged = con.sql(verdict_stage_sql(parquet_stage_sql("export_rows", s.types)),
                                     params=_day_bounds(day)).to_arrow_table()
                    _split_staged(staged, s.path, result)
            finally:
                con.unregister("export_rows")
        first_line += n


def _with_line_numbers(batch: pa.RecordBatch, first_line: int) -> pa.Table:
    numbers = pa.array(np.arange(first_line, first_line + batch.num_rows, dtype=np.int64))
    return pa.Table.from_batches([batch]).append_column("line_no", numbers)


def _day_bounds(day: dt.date) -> list[dt.datetime]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return [start, start + dt.timedelta(days=1)]


def _bad_table(path: str, line_no: pa.Array, fld: str | pa.Array, reason: str | pa.Array,
               raw: pa.Array) -> pa.Table:
    n = len(line_no)
    fields = pa.array([fld] * n, pa.string()) if isinstance(fld, str) else fld
    reasons = pa.array([reason] * n, pa.string()) if isinstance(reason, str) else reason
    raws = pa.array([clip_raw(r) if r is not None else None for r in raw.to_pylist()], pa.string())
    return pa.table([pa.array([path] * n, pa.string()), line_no.cast(pa.int64()), fields, reasons, raws],
                    schema=BAD_SCHEMA)


@functools.cache
def _rule_texts() -> tuple[pa.Array, pa.Array]:
    """Each rule's field and reason, indexed by verdict. Built on first use: pyarrow imports pandas the first time it
    converts Python values, which loading the definitions must not pay for."""
    return pa.array([r.field for r in RULES], pa.string()), pa.array([r.reason for r in RULES], pa.string())


def _bad_from_verdicts(path: str, line_no: pa.Array, verdict: pa.Array, raw: pa.Array) -> pa.Table:
    fields, reasons = _rule_texts()
    return _bad_table(path, line_no, fields.take(verdict), reasons.take(verdict), raw)


# ---- typed Parquet: the fast path ----------------------------------------------------------------------------------
def _encode(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(distinct values, int32 code per row, -1 for null) of a text column."""
    n = len(arr)
    if pa.types.is_null(arr.type):
        return pa.array([], pa.string()), np.full(n, -1, dtype=np.int32)
    if pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.string())
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    values = arr.dictionary
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    codes = _filled(arr.indices.cast(pa.int32()), -1)
    if values.null_count:  # a null inside the dictionary is a null value
        null_value = pc.is_null(values).to_numpy(zero_copy_only=False)
        codes = np.where((codes >= 0) & np.append(null_value, False)[codes], -1, codes).astype(np.int32)
    return values, codes


def _typed_batch(batch: pa.RecordBatch, first_line: int, s: Screened, day: dt.date, result: FileResult,
                 connections: StageConnections) -> None:
    n = batch.num_rows
    names = batch.schema.names

    def column(name: str) -> pa.Array:
        return batch.column(names.index(name)) if name in names else pa.nulls(n)

    values: dict[str, pa.Array] = {}
    codes: dict[str, np.ndarray] = {}
    for name in PART_DICTIONARY_COLUMNS:
        values[name], codes[name] = _encode(column(name))
    event_id, user_id = _plain_strings(column("event_id")), _plain_strings(column("user_id"))

    played = column("played_at")
    start, end = _day_bounds(day)
    if pa.types.is_null(played.type):
        played_null = np.ones(n, dtype=bool)
        played_us = np.zeros(n, dtype=np.int64)
    else:
        played_null = _nulls(played)
        raw_ticks = _filled(played.cast(pa.int64()), 0)
        per_us = {"s": 1_000_000, "ms": 1_000, "us": 1}[played.type.unit]
        lo = int(start.timestamp()) * 1_000_000
        hi = int(end.timestamp()) * 1_000_000
        # Compare in the column's own unit first, so an extreme value cannot overflow on the way to microseconds.
        in_day = (raw_ticks >= -(-lo // per_us)) & (raw_ticks < -(-hi // per_us))
        played_us = np.where(in_day, raw_ticks * per_us, lo - 1)

    ms = column("ms_played")
    if pa.types.is_null(ms.type):
        ms_null = np.ones(n, dtype=bool)
        ms_np = np.zeros(n, dtype=np.int64)
    else:
        ms_null = _nulls(ms)
        ms_np = _filled(ms.cast(pa.int64()), 0)
    skipped = column("skipped")
    skipped_null = np.ones(n, dtype=bool) if pa.types.is_null(skipped.type) else _nulls(skipped)

    cols = TypedColumns(n, values, codes, {"event_id": event_id, "user_id": user_id}, played_us, played_null, ms_np,
                        ms_null, skipped_null, day)
    verdict = typed_verdicts(cols)
    good = verdict == PASSED
    if not good.all():
        bad_rows = np.flatnonzero(~good)
        # Their payload as the text stage would have built it (DuckDB's own rendering of each value).
        bad_rows_table = pa.Table.from_batches([batch.take(pa.array(bad_rows))]).append_column(
            "line_no", pa.array(bad_rows + first_line, pa.int64()))
        con = connections.get()
        con.register("bad_rows", bad_rows_table)
        try:
            raw = con.sql(parquet_raw_sql("bad_rows", s.types) + " ORDER BY line_no").to_arrow_table()
        finally:
            con.unregister("bad_rows")
        result.bad.append(_bad_from_verdicts(s.path, raw["line_no"].combine_chunks(),
                                             pa.array(verdict[bad_rows]), raw["raw"].combine_chunks()))
        # A filter copies the runs of good rows whole; a take would copy the strings one by one.
        mask = pa.array(good)
        event_id, user_id, skipped = event_id.filter(mask), user_id.filter(mask), skipped.filter(mask)
        for name in PART_DICTIONARY_COLUMNS:
            codes[name] = codes[name][good]
        played_us, ms_np = played_us[good], ms_np[good]
        n = len(event_id)
    if n == 0:
        return
    # Values only quarantined rows used stay in the part's dictionary: each output row group's dictionary holds
    # only the values its rows use, so they never reach the lake.
    result.parts.append(Part(n, event_id, user_id, values, codes, played_us, pa.array(ms_np, pa.int64()),
                             skipped.cast(pa.bool_()), priority=0))


def _plain_strings(arr: pa.Array) -> pa.Array:
    """A text column as plain strings (a null, dictionary or view column cast)."""
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr
    return arr.cast(pa.string())


def _filled(arr: pa.Array, fill: int) -> np.ndarray:
    """An integer column as numpy, nulls as `fill` (without nulls, a read-only view of the column: no copy)."""
    if arr.null_count == 0:
        return arr.to_numpy(zero_copy_only=False)
    return pc.fill_null(arr, fill).to_numpy(zero_copy_only=False)


def _nulls(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return np.zeros(len(arr), dtype=bool)
    return pc.is_null(arr).to_numpy(zero_copy_only=False)


# ---- text records (JSON lines, text-like Parquet) ------------------------------------------------------------------
def _split_staged(staged: pa.Table, path: str, result: FileResult) -> None:
    """Good rows of a text stage become a part; failed rows quarantine entries."""
    verdict = staged["verdict"].combine_chunks()
    good_mask = pc.equal(verdict, PASSED)
    bad = staged.filter(pc.invert(good_mask))
    if bad.num_rows:
        result.bad.append(_bad_from_verdicts(path, bad["line_no"].combine_chunks(), bad["verdict"].combine_chunks(),
                                             bad["raw"].combine_chunks()))
    good = staged.filter(good_mask)
    if good.num_rows == 0:
        return
    result.parts.append(part_from_table(good, priority=0))


def part_from_table(table: pa.Table, priority: int) -> Part:
    """A part from plain columns: event_id and the text columns as strings, played_at as a UTC timestamp."""
    values: dict[str, pa.Array] = {}
    codes: dict[str, np.ndarray] = {}
    for name in PART_DICTIONARY_COLUMNS:
        values[name], codes[name] = _encode(table[name].combine_chunks())
    played = table["played_at"].combine_chunks().cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return Part(table.num_rows, _plain_strings(table["event_id"].combine_chunks()),
                _plain_strings(table["user_id"].combine_chunks()), values, codes,
                played.to_numpy(zero_copy_only=False), table["ms_played"].combine_chunks().cast(pa.int64()),
                table["skipped"].combine_chunks().cast(pa.bool_()), priority)


def _read_json(s: Screened, day: dt.date, result: FileResult, con: duckdb.DuckDBPyConnection,
               chunk_bytes: int) -> None:
    for numbers, lines, early_bad in json_line_chunks(s.path, chunk_bytes=chunk_bytes):
        if early_bad:
            result.records += len(early_bad)
            line_nos, fields, reasons, raws = zip(*early_bad, strict=True)
            result.bad.append(_bad_table(s.path, pa.array(line_nos, pa.int64()), pa.array(fields, pa.string()),
                                         pa.array(reasons, pa.string()), pa.array(raws, pa.string())))
        if not lines:
            continue
        con.register("export_lines", pa.table({"line_no": pa.array(numbers, pa.int64()),
                                               "raw": pa.array(lines, pa.string())}))
        try:
            staged = con.sql(verdict_stage_sql(json_stage_sql("export_lines")),
                             params=_day_bounds(day)).to_arrow_table()
        finally:
            con.unregister("export_lines")
        result.records += staged.num_rows
        _split_staged(staged, s.path, result)


def json_line_chunks(path: str, max_record_bytes: int = MAX_RECORD_BYTES,
                     chunk_bytes: int = JSON_CHUNK_BYTES) -> Iterator[tuple[list[int], list[str], list[tuple]]]:
    """Stream a JSON-lines file as chunks of (line numbers, lines) plus the lines quarantined before parsing:
    (line_no, "<line>", reason, raw) for a line longer than `max_record_bytes` (only its start is kept in memory)
    or not valid UTF-8. Line numbers count every line, blank ones included."""
    numbers: list[int] = []
    lines: list[bytes] = []
    early: list[tuple] = []
    size = 0
    for line_no, line, length in _raw_lines(path, max_record_bytes):
        if length > max_record_bytes:
            early.append((line_no, "<line>",
                          f"record is {length:,} bytes, longer than the {max_record_bytes:,}-byte limit for one "
                          "event (not parsed; its start is kept)",
                          clip_raw(line.decode("utf-8", "backslashreplace"))))
            continue
        numbers.append(line_no)
        lines.append(line)
        size += length
        if size >= chunk_bytes:
            yield (*_decoded(numbers, lines, early), early)
            numbers, lines, early, size = [], [], [], 0
    if numbers or early:
        yield (*_decoded(numbers, lines, early), early)


def _decoded(numbers: list[int], lines: list[bytes], early: list[tuple]) -> tuple[list[int], list[str]]:
    """Lines as text; a line that is not UTF-8 moves to `early` (quarantined alone, with its bytes escaped)."""
    try:
        return numbers, b"\n".join(lines).decode("utf-8").split("\n")
    except UnicodeDecodeError:
        pass
    good_numbers, good_lines = [], []
    for line_no, line in zip(numbers, lines, strict=True):
        try:
            good_lines.append(line.decode("utf-8"))
            good_numbers.append(line_no)
        except UnicodeDecodeError as exc:
            early.append((line_no, "<line>", f"not valid UTF-8: {exc.reason} at byte {exc.start}",
                          clip_raw(line.decode("utf-8", "backslashreplace"))))
    return good_numbers, good_lines


def _raw_lines(path: str, max_record_bytes: int) -> Iterator[tuple[int, bytes, int]]:
    """(line number, bytes, full length) per line; of a line longer than `max_record_bytes`, only the first
    `max_record_bytes` are kept, so one huge line costs no more memory than a read block."""
    line_no = 0
    head = bytearray()  # the current line so far (at most max_record_bytes of it)
    length = 0  # its full length so far
    with open(path, "rb") as fh:
        while block := fh.read(_READ_BLOCK):
            pieces = block.split(b"\n")
            for piece in pieces[:-1]:
                line_no += 1
                if length == 0:
                    yield line_no, (piece if len(piece) <= max_record_bytes else piece[:max_record_bytes]), len(piece)
                else:
                    _extend(head, piece, max_record_bytes)
                    yield line_no, bytes(head), length + len(piece)
                    head.clear()
                    length = 0
            last = pieces[-1]
            if last:
                _extend(head, last, max_record_bytes)
                length += len(last)
    if length:
        yield line_no + 1, bytes(head), length


def _extend(head: bytearray, piece: bytes, limit: int) -> None:
    room = limit - len(head)
    if room > 0:
        head += piece[:room]
