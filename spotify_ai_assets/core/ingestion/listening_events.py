"""Listening events: validate export files and recently-played plays, deduplicate, write in the lake's order.

Both sources land in one table keyed by (user_id, track_id, played_at); when both report a play, the
export row wins because it carries ms_played, skipped, country and device. Every record that fails a
rule goes to quarantine with its file and line (or user), the field, the reason and the raw payload.

How a day is ingested (figures for the 12.3M-event bench day in the README):
- each export file is screened and read on its own (`export_reader`): its own column types decide how it is
  validated, so a file with wrong types is quarantined without changing how any other file is read;
- good records are kept with their strings dictionary-encoded per file; `event_order` unifies the dictionaries,
  orders the day by (user, time) with integer sorts and drops duplicates as neighbours;
- the events stream to the sink in row groups whose dictionaries are written as they are, while the worker threads
  order the next ranges of users (ordering overlaps the write).
Records in = landed + quarantined + duplicates, always (an unreadable file counts as one record).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from spotify_ai_assets.core.ingestion.event_order import SOURCES, OrderedEvents, batches, order_events
from spotify_ai_assets.core.ingestion.export_reader import (
    BAD_SCHEMA,
    JSON_SUFFIXES,
    PARQUET_SUFFIX,
    FileResult,
    StageConnections,
    part_from_table,
    read_export,
    screen,
)
from spotify_ai_assets.core.ingestion.export_rules import DICTIONARY_COLUMNS
from spotify_ai_assets.core.kernel.lake import NO_STATISTICS, ROW_GROUP_ROWS, WriteResult
from spotify_ai_assets.core.kernel.memory import arrow_jemalloc, numpy_small_pages
from spotify_ai_assets.core.kernel.records import (
    QUARANTINE_SCHEMA,
    Quarantined,
    parse_play,
    quarantine_table,
    validate,
)

EVENTS_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("user_id", pa.string()), ("track_id", pa.string()), ("artist_id", pa.string()),
    ("played_at", pa.timestamp("us", tz="UTC")), ("ms_played", pa.int64()), ("skipped", pa.bool_()),
    ("country", pa.string()), ("device", pa.string()), ("source", pa.string()),
])
# What the sink receives: the same columns, the repetitive strings dictionary-encoded (`Lake.write_batches` stores
# them as plain strings).
# Min/max statistics are kept for the sort key and the columns readers filter on (user_id, played_at, source): those
# of unique event ids, or of ids and values spread over every row group, could never skip one.
_STATISTICS = ("user_id", "played_at", "source")
EVENT_BATCH_SCHEMA = pa.schema([
    pa.field(f.name, pa.dictionary(pa.int32(), pa.string()) if f.name in (*DICTIONARY_COLUMNS, "source") else f.type,
             metadata=None if f.name in _STATISTICS else NO_STATISTICS)
    for f in EVENTS_SCHEMA
])
EVENT_KEY = ("user_id", "track_id", "played_at")
EXPORT_SUFFIXES = (*JSON_SUFFIXES, PARQUET_SUFFIX)

# The memory each DuckDB connection staging text records (JSON lines, text-typed Parquet) may use; JSON lines are
# staged in chunks sized from it, so a file of any size streams through.
INGEST_MEMORY_LIMIT = "1GB"

EventSink = Callable[[pa.RecordBatchReader], WriteResult]


@dataclass
class IngestResult:
    events: WriteResult
    quarantine: pa.Table
    export_records: int
    recent_plays: int
    duplicates: int
    rows_by_source: dict[str, int]


def export_files(directory: str | Path) -> list[str]:
    d = Path(directory)
    if not d.is_dir():
        return []
    # `_manifest.json` and `.tmp` files from a writer still at work are not exports.
    return sorted(str(p) for p in d.iterdir()
                  if p.is_file() and p.suffix in EXPORT_SUFFIXES and not p.name.startswith(("_", ".")))


def ingest_day(files: Sequence[str], day: dt.date, sink: EventSink, recent: list[dict] | pa.Table | None = None,
               threads: int | None = None,
               memory_limit: str = INGEST_MEMORY_LIMIT) -> IngestResult:
    """Validate and deduplicate one day of events from export files plus recently-played rows.

    The events stream into `sink` (e.g. `Lake.write_batches`) in row groups; the quarantine (small by nature)
    comes back as a table. `threads` files are read at once (default: the usable cores), each staging its text
    records within `memory_limit`. The good rows of the day are held in memory, dictionary-encoded but for the event
    and user ids (about 75 bytes a row: 0.9 GB for the 12.3M-event bench day).
    """
    # The day's arrays are made and freed within the call: ordinary pages, jemalloc (see core/kernel/memory.py).
    with numpy_small_pages(), arrow_jemalloc():
        return _ingest(files, day, sink, recent, max(1, threads or len(os.sched_getaffinity(0))), memory_limit)


def _ingest(files: Sequence[str], day: dt.date, sink: EventSink, recent: list[dict] | pa.Table | None,
            workers: int, memory_limit: str) -> IngestResult:
    with ThreadPoolExecutor(workers) as pool, StageConnections(memory_limit) as connections:
        screened = list(pool.map(screen, files))
        results = list(pool.map(lambda s: read_export(s, day, connections), screened))
    parts = [part for r in results for part in r.parts]
    good_exports = sum(part.num_rows for part in parts)
    # `recent`: the recently_played captures (a table as `recent_table` makes, or its rows).
    recent_tbl = recent if isinstance(recent, pa.Table) else recent_table(recent or [])
    if recent_tbl.num_rows:
        parts.append(part_from_table(recent_tbl, priority=1))
    ordered = order_events(parts, workers)
    written = sink(pa.RecordBatchReader.from_batches(
        EVENT_BATCH_SCHEMA, _prefetched(batches(ordered, EVENT_BATCH_SCHEMA, ROW_GROUP_ROWS))))
    quarantine = _quarantine(results)
    return IngestResult(
        events=written, quarantine=quarantine, export_records=sum(r.records for r in results),
        recent_plays=recent_tbl.num_rows, duplicates=good_exports + recent_tbl.num_rows - written.rows,
        rows_by_source=_rows_by_source(ordered),
    )


def _rows_by_source(ordered: OrderedEvents) -> dict[str, int]:
    return {name: int(c) for name, c in zip(SOURCES, ordered.kept_by_priority, strict=True) if c}


def _prefetched(source: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Build the next batch in a helper thread while the sink writes this one (both release the GIL)."""
    with ThreadPoolExecutor(1) as helper:
        pending = helper.submit(next, source, None)
        while (batch := pending.result()) is not None:
            pending = helper.submit(next, source, None)
            yield batch


def _quarantine(results: list[FileResult]) -> pa.Table:
    """Bad records by file and line, then files that could not be read (recently_played quarantines its own)."""
    tables = [t for r in results for t in r.bad]
    bad = pa.concat_tables(tables) if tables else BAD_SCHEMA.empty_table()
    bad = bad.sort_by([("file", "ascending"), ("line_no", "ascending")])
    refs = pc.binary_join_element_wise(bad["file"], bad["line_no"].cast(pa.string()), ":")
    lines = pa.table([pa.array(["listening_events"] * bad.num_rows, pa.string()), refs, bad["field"],
                      bad["reason"], bad["raw"]], schema=QUARANTINE_SCHEMA)
    files = [Quarantined.of("listening_events", r.path, "<file>", r.unreadable, r.path)
             for r in results if r.unreadable]
    return pa.concat_tables([lines, quarantine_table(files)]).combine_chunks()


RECENT_SCHEMA = pa.schema([
    ("user_id", pa.string()), ("track_id", pa.string()), ("artist_id", pa.string()),
    ("played_at", pa.timestamp("us", tz="UTC")), ("country", pa.string()),
])
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def recent_table(recent: list[dict]) -> pa.Table:
    """Recently-played rows as events: no ms_played, skipped or device (Spotify doesn't say), and an event id
    derived from the play's key, so the same play gets the same id in every run."""
    rows = pa.Table.from_pylist(recent, schema=RECENT_SCHEMA)
    ids = [_recent_event_id(r["user_id"], r["track_id"], r["played_at"]) for r in recent]
    n = rows.num_rows
    return pa.table({
        "event_id": pa.array(ids, pa.string()), "user_id": rows["user_id"], "track_id": rows["track_id"],
        "artist_id": rows["artist_id"], "played_at": rows["played_at"], "ms_played": pa.nulls(n, pa.int64()),
        "skipped": pa.nulls(n, pa.bool_()), "country": rows["country"], "device": pa.nulls(n, pa.string()),
    })


def _recent_event_id(user_id: str, track_id: str, played_at: dt.datetime) -> str:
    epoch_ms = (played_at - _EPOCH) // dt.timedelta(milliseconds=1)
    return "rp-" + hashlib.md5(f"{user_id}|{track_id}|{epoch_ms}".encode()).hexdigest()


def recent_plays_rows(user_id: str, country: str | None, items: list[dict], day: dt.date,
                      bad: list[Quarantined]) -> list[dict]:
    """Rows for one user's recently-played items that fall on `day` (others belong to other partitions)."""
    rows = []
    for n, raw in enumerate(items):
        play = validate("listening_events", f"recently-played {user_id} item #{n}", raw, parse_play, quarantine=bad)
        if play is None or play["played_at"].date() != day:
            continue
        rows.append({"user_id": user_id, "country": country, **play})
    return rows


def manifest_summary(directory: str | Path) -> dict | None:
    path = Path(directory, "_manifest.json")
    return json.loads(path.read_text()) if path.exists() else None
