"""Today's ingestion (before per-file isolation, as of 8747581), frozen as the benchmark's reference.

`benchmarks/ingest_and_aggregate.py` runs it on the same export files as `core.ingestion.listening_events.ingest_day`
and compares the two partitions row for row: the new ingestion must land exactly what this one lands, in the same
order. It is the module `spotify_ai_assets/core/listening.py` was, with its lake sink and helpers imported from the
package (their new paths); not used by the pipeline."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spotify_ai_assets.core.kernel.lake import WriteResult
from spotify_ai_assets.core.kernel.query import connect
from spotify_ai_assets.core.kernel.records import (
    QUARANTINE_SCHEMA,
    Quarantined,
    parse_play,
    quarantine_table,
    validate,
)

if TYPE_CHECKING:  # DuckDB loads with the first query, not with the definitions
    import duckdb

EVENTS_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("user_id", pa.string()), ("track_id", pa.string()), ("artist_id", pa.string()),
    ("played_at", pa.timestamp("us", tz="UTC")), ("ms_played", pa.int64()), ("skipped", pa.bool_()),
    ("country", pa.string()), ("device", pa.string()), ("source", pa.string()),
])
EVENT_KEY = ("user_id", "track_id", "played_at")
EXPORT_SUFFIXES = (".jsonl", ".json", ".parquet")

# Text checks that a typed Parquet column passes by construction (each stage says which apply to it).
_TZ_OK = "regexp_matches({v}, '(Z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$')"
_INT_OK = "regexp_full_match({v}, '-?[0-9]+([.]0+)?')"
_BOOL_OK = "lower({v}) IN ('true', 'false')"

# One rule per line, first failure wins; each yields "field: what is wrong".
_RULES = """
CASE
  WHEN NOT json_ok THEN '<line>: malformed JSON'
  WHEN user_id IS NULL OR trim(user_id) = '' THEN 'user_id: missing'
  WHEN track_id IS NULL THEN 'track_id: missing'
  WHEN NOT regexp_full_match(track_id, '[0-9A-Za-z]{22}') THEN 'track_id: not a 22-character base62 Spotify id'
  WHEN artist_id IS NOT NULL AND NOT regexp_full_match(artist_id, '[0-9A-Za-z]{22}')
    THEN 'artist_id: not a 22-character base62 Spotify id'
  WHEN played_at_raw IS NULL THEN 'played_at: missing'
  WHEN played_at IS NULL THEN 'played_at: not an ISO-8601 timestamp'
  WHEN NOT tz_ok THEN 'played_at: no time zone (a local time cannot be placed in a UTC day)'
  WHEN played_at < $day_start OR played_at >= $day_end THEN 'played_at: outside the partition day'
  WHEN ms_played_raw IS NULL THEN 'ms_played: missing'
  WHEN ms_played IS NULL OR NOT ms_int_ok THEN 'ms_played: not an integer'
  WHEN ms_played < 0 OR ms_played > 86400000 THEN 'ms_played: out of range [0, 24h]'
  WHEN skipped IS NULL OR NOT skipped_ok THEN 'skipped: missing or not a boolean'
  WHEN country IS NULL OR NOT regexp_full_match(country, '[A-Z]{2}') THEN 'country: not an ISO 3166-1 alpha-2 code'
  WHEN device IS NULL OR trim(device) = '' THEN 'device: missing'
END
"""


# Bounded memory for a day of any size: DuckDB spills its sort and dedup state to disk beyond this.
INGEST_MEMORY_LIMIT = "2GB"
BATCH_ROWS = 256_000

EventSink = Callable[[pa.RecordBatchReader], WriteResult]


@dataclass
class IngestResult:
    events: WriteResult
    quarantine: pa.Table
    export_records: int
    recent_plays: int
    duplicates: int
    rows_by_source: dict[str, int]


def _json_stage(files: Sequence[str]) -> str:
    # Lines are read as text first so a malformed line is kept (raw) and quarantined, never skipped.
    return f"""
    WITH f AS (SELECT filename, string_split(content, chr(10)) AS parts FROM read_text({_list(files)})),
    l AS (SELECT filename AS file, unnest(range(1, len(parts) + 1)) AS line_no, unnest(parts) AS raw FROM f),
    j AS (SELECT file, line_no, raw, json_valid(raw) AS json_ok FROM l WHERE trim(raw) <> ''),
    -- Extraction runs on every row whatever CASE says, so invalid lines get an empty document instead.
    d AS (SELECT *, CASE WHEN json_ok THEN raw ELSE '{{}}' END AS doc FROM j)
    SELECT file, line_no, raw, json_ok,
      doc->>'$.event_id' AS event_id,
      doc->>'$.user_id' AS user_id,
      doc->>'$.track_id' AS track_id,
      doc->>'$.artist_id' AS artist_id,
      doc->>'$.played_at' AS played_at_raw,
      TRY_CAST(doc->>'$.played_at' AS TIMESTAMPTZ) AS played_at,
      doc->>'$.ms_played' AS ms_played_raw,
      TRY_CAST(doc->>'$.ms_played' AS BIGINT) AS ms_played,
      doc->>'$.skipped' AS skipped_raw,
      TRY_CAST(doc->>'$.skipped' AS BOOLEAN) AS skipped,
      {_TZ_OK.format(v="doc->>'$.played_at'")} AS tz_ok,
      {_INT_OK.format(v="doc->>'$.ms_played'")} AS ms_int_ok,
      {_BOOL_OK.format(v="doc->>'$.skipped'")} AS skipped_ok,
      doc->>'$.country' AS country,
      doc->>'$.device' AS device
    FROM d
    """


_PARQUET_COLUMNS = {"event_id": "VARCHAR", "user_id": "VARCHAR", "track_id": "VARCHAR", "artist_id": "VARCHAR",
                    "played_at": "VARCHAR", "ms_played": "VARCHAR", "skipped": "VARCHAR", "country": "VARCHAR",
                    "device": "VARCHAR"}


def _parquet_stage(files: Sequence[str], types: dict[str, set[pa.DataType]]) -> str:
    # `raw` stays NULL here: rebuilding a JSON payload for millions of good rows would cost more than the rest of
    # the ingestion; `stage_exports` builds it for the rows that are quarantined. TRY_CAST, so one bad value
    # becomes one quarantined record; a column no file has is NULL, so its rule names it. Typed columns (a
    # time-zoned timestamp, an integer, a boolean in every file) skip the text checks they pass by construction.
    def col(name: str) -> str:
        return name if name in types else f"NULL::{_PARQUET_COLUMNS[name]}"

    def typed(name: str, test: Callable[[pa.DataType], bool]) -> bool:
        return bool(types.get(name)) and all(test(t) for t in types[name])

    tz_native = typed("played_at", lambda t: pa.types.is_timestamp(t) and t.tz is not None)
    int_native = typed("ms_played", pa.types.is_integer)
    bool_native = typed("skipped", pa.types.is_boolean)
    return f"""
    SELECT filename AS file, file_row_number + 1 AS line_no, NULL::VARCHAR AS raw,
      true AS json_ok, CAST({col("event_id")} AS VARCHAR) AS event_id, CAST({col("user_id")} AS VARCHAR) AS user_id,
      CAST({col("track_id")} AS VARCHAR) AS track_id, CAST({col("artist_id")} AS VARCHAR) AS artist_id,
      CAST({col("played_at")} AS VARCHAR) AS played_at_raw, TRY_CAST({col("played_at")} AS TIMESTAMPTZ) AS played_at,
      CAST({col("ms_played")} AS VARCHAR) AS ms_played_raw, TRY_CAST({col("ms_played")} AS BIGINT) AS ms_played,
      {"NULL::VARCHAR" if bool_native else f'CAST({col("skipped")} AS VARCHAR)'} AS skipped_raw,
      TRY_CAST({col("skipped")} AS BOOLEAN) AS skipped,
      {"true" if tz_native else _TZ_OK.format(v=f'CAST({col("played_at")} AS VARCHAR)')} AS tz_ok,
      {"true" if int_native else _INT_OK.format(v=f'CAST({col("ms_played")} AS VARCHAR)')} AS ms_int_ok,
      {"true" if bool_native else _BOOL_OK.format(v=f'CAST({col("skipped")} AS VARCHAR)')} AS skipped_ok,
      CAST({col("country")} AS VARCHAR) AS country,
      CAST({col("device")} AS VARCHAR) AS device
    FROM read_parquet({_list(files)}, filename = true, file_row_number = true, union_by_name = true)
    """


def screen_files(files: Sequence[str]) -> tuple[list[str], dict[str, set[pa.DataType]], list[Quarantined]]:
    """The export files SQL can read, the types each Parquet column has across them, and one quarantine entry per
    file that cannot be read at all (corrupt Parquet, JSON lines that are not UTF-8), so one broken file never stops
    the day."""
    readable: list[str] = []
    columns: dict[str, set[pa.DataType]] = {}
    bad: list[Quarantined] = []
    for f in files:
        try:
            if f.endswith(".parquet"):
                for field in pq.read_schema(f):
                    columns.setdefault(field.name, set()).add(field.type)
            else:
                Path(f).read_bytes().decode("utf-8")
        except (OSError, ValueError, pa.ArrowException) as exc:
            bad.append(Quarantined.of("listening_events", f, "<file>", f"unreadable export file: {exc}", f))
            continue
        readable.append(f)
    return readable, columns, bad


def _list(files: Sequence[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def export_files(directory: str | Path) -> list[str]:
    d = Path(directory)
    if not d.is_dir():
        return []
    # `_manifest.json` and `.tmp` files from a writer still at work are not exports.
    return sorted(str(p) for p in d.iterdir()
                  if p.is_file() and p.suffix in EXPORT_SUFFIXES and not p.name.startswith(("_", ".")))


_RAW_FROM_COLUMNS = """to_json(struct_pack(event_id, user_id, track_id, artist_id, played_at := played_at_raw,
  ms_played := ms_played_raw, skipped := coalesce(skipped_raw, CAST(skipped AS VARCHAR)), country, device))::VARCHAR"""


def stage_exports(con: duckdb.DuckDBPyConnection, files: Sequence[str], day: dt.date) -> list[Quarantined]:
    """Create `staged` (every export record with its verdict; the raw payload only where it failed) in `con`;
    return the files that could not be read at all."""
    readable, columns, unreadable = screen_files(files)
    parts = []
    json_files = [f for f in readable if f.endswith((".jsonl", ".json"))]
    pq_files = [f for f in readable if f.endswith(".parquet")]
    if json_files:
        parts.append(_json_stage(json_files))
    if pq_files:
        parts.append(_parquet_stage(pq_files, columns))
    body = " UNION ALL ".join(f"({p})" for p in parts) if parts else _EMPTY_STAGE
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    rules = _RULES.replace("$day_start", "$1").replace("$day_end", "$2")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE staged AS
        SELECT * EXCLUDE (raw, played_at_raw, ms_played_raw, skipped_raw, tz_ok, ms_int_ok, skipped_ok),
               CASE WHEN verdict IS NOT NULL THEN coalesce(raw, {_RAW_FROM_COLUMNS}) END AS raw
        FROM (SELECT *, {rules} AS verdict FROM ({body}))
    """, [start, start + dt.timedelta(days=1)])
    return unreadable


_EMPTY_STAGE = """
SELECT NULL::VARCHAR file, NULL::BIGINT line_no, NULL::VARCHAR raw, NULL::BOOLEAN json_ok, NULL::VARCHAR event_id,
  NULL::VARCHAR user_id, NULL::VARCHAR track_id, NULL::VARCHAR artist_id, NULL::VARCHAR played_at_raw,
  NULL::TIMESTAMPTZ played_at, NULL::VARCHAR ms_played_raw, NULL::BIGINT ms_played, NULL::VARCHAR skipped_raw,
  NULL::BOOLEAN skipped, NULL::BOOLEAN tz_ok, NULL::BOOLEAN ms_int_ok, NULL::BOOLEAN skipped_ok,
  NULL::VARCHAR country, NULL::VARCHAR device
WHERE false
"""


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


RECENT_SCHEMA = pa.schema([
    ("user_id", pa.string()), ("track_id", pa.string()), ("artist_id", pa.string()),
    ("played_at", pa.timestamp("us", tz="UTC")), ("country", pa.string()),
])

# Sorted by user and time: per-user reads (sessions, erasure, user features) touch few row groups, and DuckDB
# aggregates over clustered keys run faster. Ties broken by track so the file is byte-for-byte reproducible.
_EVENTS_SQL = f"""
WITH good AS (
  SELECT event_id, user_id, track_id, artist_id, played_at, ms_played, skipped, country, device,
         'export' AS source, 0 AS priority
  FROM staged WHERE verdict IS NULL
  UNION ALL
  SELECT 'rp-' || md5(user_id || '|' || track_id || '|' || epoch_ms(played_at)::VARCHAR),
         user_id, track_id, artist_id, played_at, NULL, NULL, country, NULL, 'recently_played', 1
  FROM recent
)
SELECT DISTINCT ON ({", ".join(EVENT_KEY)}) {", ".join(EVENTS_SCHEMA.names)}
FROM good
ORDER BY user_id, played_at, track_id, priority, event_id
"""


def ingest_day(files: Sequence[str], day: dt.date, sink: EventSink, recent: list[dict] | None = None,
               recent_quarantine: list[Quarantined] | None = None, threads: int | None = None,
               memory_limit: str = INGEST_MEMORY_LIMIT) -> IngestResult:
    """Validate and deduplicate one day of events from export files plus recently-played rows.

    The events stream into `sink` (e.g. `Lake.write_batches`) in batches, so a day of any size is ingested in
    bounded memory; the quarantine (small by nature) comes back as a table.
    """
    with tempfile.TemporaryDirectory(prefix="ingest-spill-") as spill:
        con = connect(threads=threads, memory_limit=memory_limit, temp_directory=spill)
        # Order inside the output comes from ORDER BY; not tracking insertion order saves memory.
        con.execute("SET preserve_insertion_order = false")
        try:
            unreadable = stage_exports(con, files, day)
            recent_tbl = pa.Table.from_pylist(recent or [], schema=RECENT_SCHEMA)
            con.register("recent", recent_tbl)
            reader = con.sql(_EVENTS_SQL).to_arrow_reader(BATCH_ROWS)
            by_source: Counter[str] = Counter()
            written = sink(_counted(reader, EVENTS_SCHEMA, by_source))
            quarantine = con.sql("""
                SELECT 'listening_events' AS source, file || ':' || line_no AS record_ref,
                       split_part(verdict, ': ', 1) AS field, split_part(verdict, ': ', 2) AS reason, raw
                FROM staged WHERE verdict IS NOT NULL ORDER BY file, line_no
            """).to_arrow_table().cast(QUARANTINE_SCHEMA)
            export_records, good_exports = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE verdict IS NULL) FROM staged").fetchone()  # type: ignore[misc]
        finally:
            con.close()
    if unreadable or recent_quarantine:
        quarantine = pa.concat_tables([quarantine, quarantine_table([*unreadable, *(recent_quarantine or [])])])
    # An unreadable file counts as one record in, so every record in is still an event, a quarantine entry or a
    # duplicate.
    export_records += len(unreadable)
    return IngestResult(
        events=written, quarantine=quarantine, export_records=int(export_records),
        recent_plays=recent_tbl.num_rows, duplicates=int(good_exports) + recent_tbl.num_rows - written.rows,
        rows_by_source=dict(sorted(by_source.items())),
    )


def _counted(reader: pa.RecordBatchReader, schema: pa.Schema, by_source: Counter[str]) -> pa.RecordBatchReader:
    """The events in `schema`, counting rows per source on the way through."""
    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            for entry in pc.value_counts(batch.column("source")).to_pylist():
                by_source[entry["values"]] += entry["counts"]
            yield batch.cast(schema)
    return pa.RecordBatchReader.from_batches(schema, batches())


def manifest_summary(directory: str | Path) -> dict | None:
    path = Path(directory, "_manifest.json")
    return json.loads(path.read_text()) if path.exists() else None
