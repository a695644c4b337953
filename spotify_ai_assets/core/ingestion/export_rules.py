"""The rules an exported listening event must pass, in two forms that give the same verdicts.

One ordered list of rules; a record's verdict is the first rule it fails. Each rule has a SQL form, used for
values that arrive as text (JSON lines, or Parquet columns of another type than the event's) and checked in
DuckDB, and a typed form, used for Parquet columns that already have the event's types and checked with
vectorised Arrow/numpy operations (on the dictionary of a string column, not on every row). Tests check that both
forms agree on the same values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spotify_ai_assets.core.ingestion.string_buffers import as_bytes, offsets_and_data

# Bounds on what one record may hold: a real event line is a few hundred bytes. A longer line is quarantined
# unparsed (with the first RAW_KEEP_BYTES of it), so no single record can exhaust memory.
MAX_RECORD_BYTES = 64 * 1024
MAX_TEXT_BYTES = 256  # event_id, user_id, device (track, artist and country have fixed formats)
RAW_KEEP_BYTES = 4096
DAY_MS = 86_400_000

# DuckDB's trim() removes exactly the Unicode space separators (category Zs), not tabs or newlines; the typed form
# trims the same set so that "blank" means the same in both forms.
ZS_SPACES = ("\u0020\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
             "\u202f\u205f\u3000")
# UTF-8 lead bytes of those characters: a value whose first byte is none of them cannot be blank.
_ZS_LEAD_BYTES = np.zeros(256, dtype=bool)
_ZS_LEAD_BYTES[[0x20, 0xC2, 0xE1, 0xE2, 0xE3]] = True

TEXT_COLUMNS = ("event_id", "user_id", "track_id", "artist_id", "country", "device")
# Columns dictionary-encoded in the lake. All but user_id are encoded from reading on (few distinct values per file);
# event_id is unique.
DICTIONARY_COLUMNS = ("user_id", "track_id", "artist_id", "country", "device")
# Columns a batch keeps as plain strings until the day is put together: event_id (unique) and user_id. A user id is
# nearly unique within an hour's file (the bench day: 5.7M distinct per file over 12.3M rows, 0.5M in the day), so
# encoding it per file and then unifying the files' dictionaries hashed each id twice; each id is hashed once instead,
# in its range of users (event_order), and its rules are checked on the rows like event_id's.
PLAIN_COLUMNS = ("event_id", "user_id")
PART_DICTIONARY_COLUMNS = tuple(c for c in DICTIONARY_COLUMNS if c not in PLAIN_COLUMNS)
EXPORT_COLUMNS = ("event_id", "user_id", "track_id", "artist_id", "played_at", "ms_played", "skipped", "country",
                  "device")


class TypedColumns:
    """One batch of export records whose columns have the event's types, for the typed form of the rules.

    The PART_DICTIONARY_COLUMNS are dictionary-encoded: `values[name]` (the distinct strings) and `codes[name]`
    (int32 per row, -1 for null), so a rule on them is evaluated once per distinct value. The PLAIN_COLUMNS
    (`plain[name]`, nearly one value per row) are checked row by row.
    """

    def __init__(self, num_rows: int, values: dict[str, pa.Array], codes: dict[str, np.ndarray],
                 plain: dict[str, pa.Array], played_at_us: np.ndarray, played_at_null: np.ndarray,
                 ms_played: np.ndarray, ms_played_null: np.ndarray, skipped_null: np.ndarray,
                 day: dt.date):
        self.num_rows = num_rows
        self.values = values
        self.codes = codes
        self.plain = plain
        self.played_at_us = played_at_us
        self.played_at_null = played_at_null
        self.ms_played = ms_played
        self.ms_played_null = ms_played_null
        self.skipped_null = skipped_null
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        self.day_start_us = int(start.timestamp()) * 1_000_000
        self.day_end_us = self.day_start_us + DAY_MS * 1000

    # ---- per-row views of a per-value test on a dictionary column ----
    def _rows(self, name: str, bad_value: np.ndarray, null_is_bad: bool) -> np.ndarray:
        codes = self.codes[name]
        if not bad_value.any():  # the usual case: no row-sized lookup
            return codes < 0 if null_is_bad else np.zeros(len(codes), dtype=bool)
        bad = np.append(bad_value, null_is_bad)  # index -1 (null) picks the last entry
        return bad[codes]

    def null(self, name: str) -> np.ndarray:
        if name in self.plain:
            return _null_mask(self.plain[name])
        return self.codes[name] < 0

    def blank(self, name: str) -> np.ndarray:
        """NULL, or only space separators (as DuckDB's `trim(x) = ''`)."""
        if name in self.plain:
            return _null_mask(self.plain[name]) | _blank_rows(self.plain[name])
        return self._rows(name, _trimmed_empty(self.values[name]), null_is_bad=True)

    def longer(self, name: str, limit: int) -> np.ndarray:
        if name in self.plain:
            lengths = pc.binary_length(self.plain[name]).to_numpy(zero_copy_only=False)
            return np.nan_to_num(lengths, nan=0) > limit
        too_long = pc.greater(pc.binary_length(self.values[name]), limit).to_numpy(zero_copy_only=False)
        return self._rows(name, too_long, null_is_bad=False)

    def not_utf8(self, name: str) -> np.ndarray:
        """Text whose bytes are not UTF-8: typed Parquet is read without that check, and one such value in the lake
        would stop every DuckDB or Polars reader of the day's partition."""
        if name in self.plain:
            return _not_utf8(self.plain[name])
        return self._rows(name, _not_utf8(self.values[name]), null_is_bad=False)

    def not_matching(self, name: str, pattern: str, null_is_bad: bool) -> np.ndarray:
        ok = pc.match_substring_regex(self.values[name], f"^(?:{pattern})$").to_numpy(zero_copy_only=False)
        return self._rows(name, ~ok, null_is_bad=null_is_bad)


def _null_mask(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return np.zeros(len(arr), dtype=bool)
    return pc.is_null(arr).to_numpy(zero_copy_only=False)


def _not_utf8(strings: pa.Array) -> np.ndarray:
    """Per value, whether it is not valid UTF-8 (one C++ pass when all are; value by value only when some are not)."""
    try:
        strings.validate(full=True)
        return np.zeros(len(strings), dtype=bool)
    except pa.ArrowInvalid:
        pass
    return np.array([v is not None and not _is_utf8(v) for v in as_bytes(strings).to_pylist()], dtype=bool)


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _trimmed_empty(strings: pa.Array) -> np.ndarray:
    """Per value: only space separators (null: False). A value that is not UTF-8 is not blank (its own rule
    quarantines it): Arrow's trim refuses such bytes, so then the values are trimmed one by one."""
    try:
        return pc.fill_null(pc.equal(pc.utf8_trim(strings, ZS_SPACES), ""), False).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return np.array([v is not None and _is_utf8(v) and v.decode("utf-8").strip(ZS_SPACES) == ""
                         for v in as_bytes(strings).to_pylist()], dtype=bool)


def _blank_rows(strings: pa.Array) -> np.ndarray:
    """Per row of a (nearly unique-valued) string array: only space separators. Only rows that are empty or start with a
    space separator's lead byte are trimmed, so millions of ordinary ids cost one byte lookup each."""
    n = len(strings)
    if n == 0:
        return np.zeros(0, dtype=bool)
    offsets, data_np = offsets_and_data(strings)
    if len(data_np) == 0:
        candidates = np.arange(n)
    else:
        # Each value's first byte (an empty value reads its neighbour's, harmless: it is a candidate anyway).
        first = data_np.take(np.minimum(offsets[:-1], len(data_np) - 1))
        candidates = np.flatnonzero((offsets[1:] == offsets[:-1]) | _ZS_LEAD_BYTES[first])
    blank = np.zeros(n, dtype=bool)
    if len(candidates):
        blank[candidates] = _trimmed_empty(strings.take(pa.array(candidates)))
    return blank


@dataclass(frozen=True)
class Rule:
    field: str
    reason: str
    # SQL over the staged text columns (see `text_stage_sql`); true when the record fails.
    sql: str
    # The same test over typed columns; None for a rule typed values pass by construction.
    typed: Callable[[TypedColumns], np.ndarray] | None


_BASE62_22 = "[0-9A-Za-z]{22}"
_COUNTRY = "[A-Z]{2}"

# Only typed Parquet can hold such text: DuckDB's strings (the text rules' staging) are always UTF-8, and a JSON line
# that is not is quarantined before parsing.
_NOT_UTF8 = "not valid UTF-8 (bytes as the file holds them)"

RULES: tuple[Rule, ...] = (
    Rule("<line>", "malformed JSON", "NOT json_ok", None),
    Rule("event_id", "missing", "event_id IS NULL OR trim(event_id) = ''", lambda c: c.blank("event_id")),
    Rule("event_id", _NOT_UTF8, "false", lambda c: c.not_utf8("event_id")),
    Rule("event_id", f"longer than {MAX_TEXT_BYTES} bytes", f"strlen(event_id) > {MAX_TEXT_BYTES}",
         lambda c: c.longer("event_id", MAX_TEXT_BYTES)),
    Rule("user_id", "missing", "user_id IS NULL OR trim(user_id) = ''", lambda c: c.blank("user_id")),
    Rule("user_id", _NOT_UTF8, "false", lambda c: c.not_utf8("user_id")),
    Rule("user_id", f"longer than {MAX_TEXT_BYTES} bytes", f"strlen(user_id) > {MAX_TEXT_BYTES}",
         lambda c: c.longer("user_id", MAX_TEXT_BYTES)),
    Rule("track_id", "missing", "track_id IS NULL", lambda c: c.null("track_id")),
    Rule("track_id", _NOT_UTF8, "false", lambda c: c.not_utf8("track_id")),
    Rule("track_id", "not a 22-character base62 Spotify id", f"NOT regexp_full_match(track_id, '{_BASE62_22}')",
         lambda c: c.not_matching("track_id", _BASE62_22, null_is_bad=False)),
    Rule("artist_id", "not a 22-character base62 Spotify id",
         f"artist_id IS NOT NULL AND NOT regexp_full_match(artist_id, '{_BASE62_22}')",
         lambda c: c.not_matching("artist_id", _BASE62_22, null_is_bad=False)),
    Rule("played_at", "missing", "played_at_raw IS NULL", lambda c: c.played_at_null),
    Rule("played_at", "not an ISO-8601 timestamp", "played_at IS NULL", None),
    Rule("played_at", "no time zone (a local time cannot be placed in a UTC day)", "NOT tz_ok", None),
    Rule("played_at", "outside the partition day", "played_at < $1 OR played_at >= $2",
         lambda c: (c.played_at_us < c.day_start_us) | (c.played_at_us >= c.day_end_us)),
    Rule("ms_played", "missing", "ms_played_raw IS NULL", lambda c: c.ms_played_null),
    Rule("ms_played", "not an integer", "ms_played IS NULL OR NOT ms_int_ok", None),
    Rule("ms_played", "out of range [0, 24h]", f"ms_played < 0 OR ms_played > {DAY_MS}",
         lambda c: (c.ms_played < 0) | (c.ms_played > DAY_MS)),
    Rule("skipped", "missing or not a boolean", "skipped IS NULL OR NOT skipped_ok", lambda c: c.skipped_null),
    Rule("country", "not an ISO 3166-1 alpha-2 code",
         f"country IS NULL OR NOT regexp_full_match(country, '{_COUNTRY}')",
         lambda c: c.not_matching("country", _COUNTRY, null_is_bad=True)),
    Rule("device", "missing", "device IS NULL OR trim(device) = ''", lambda c: c.blank("device")),
    Rule("device", _NOT_UTF8, "false", lambda c: c.not_utf8("device")),
    Rule("device", f"longer than {MAX_TEXT_BYTES} bytes", f"strlen(device) > {MAX_TEXT_BYTES}",
         lambda c: c.longer("device", MAX_TEXT_BYTES)),
)
PASSED = len(RULES)  # the verdict code of a record that fails no rule


def verdict_sql() -> str:
    """The index of the first rule a staged record fails, or PASSED."""
    whens = "\n".join(f"  WHEN {rule.sql} THEN {i}" for i, rule in enumerate(RULES))
    return f"CASE\n{whens}\n  ELSE {PASSED}\nEND"


def typed_verdicts(cols: TypedColumns) -> np.ndarray:
    """Per row, the index of the first rule it fails (PASSED if none): later rules are applied first, so an earlier
    failing rule overwrites them."""
    verdict = np.full(cols.num_rows, PASSED, dtype=np.int16)
    for i in range(len(RULES) - 1, -1, -1):
        test = RULES[i].typed
        if test is None:
            continue
        failed = test(cols)
        if failed.any():
            verdict[failed] = i
    return verdict


# ---- the text form's staging SQL ---------------------------------------------------------------------------------
# Text checks that a typed column passes by construction (each stage says which apply to it).
_TZ_OK = "regexp_matches({v}, '(Z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$')"
_INT_OK = "regexp_full_match({v}, '-?[0-9]+([.]0+)?')"
_BOOL_OK = "lower({v}) IN ('true', 'false')"

_STAGED = """line_no, raw, json_ok, event_id, user_id, track_id, artist_id, played_at_raw, played_at, tz_ok,
  ms_played_raw, ms_played, ms_int_ok, skipped_raw, skipped, skipped_ok, country, device"""


def json_stage_sql(table: str) -> str:
    """Stage JSON lines from `table(line_no, raw)`: a malformed line is kept raw and quarantined, never skipped."""
    return f"""
    WITH j AS (SELECT line_no, raw, json_valid(raw) AS json_ok FROM {table} WHERE trim(raw) <> ''),
    -- Extraction runs on every row whatever CASE says, so invalid lines get an empty document instead.
    d AS (SELECT *, CASE WHEN json_ok THEN raw ELSE '{{}}' END AS doc FROM j)
    SELECT line_no, raw, json_ok,
      doc->>'$.event_id' AS event_id, doc->>'$.user_id' AS user_id, doc->>'$.track_id' AS track_id,
      doc->>'$.artist_id' AS artist_id,
      doc->>'$.played_at' AS played_at_raw, TRY_CAST(doc->>'$.played_at' AS TIMESTAMPTZ) AS played_at,
      {_TZ_OK.format(v="doc->>'$.played_at'")} AS tz_ok,
      doc->>'$.ms_played' AS ms_played_raw, TRY_CAST(doc->>'$.ms_played' AS BIGINT) AS ms_played,
      {_INT_OK.format(v="doc->>'$.ms_played'")} AS ms_int_ok,
      doc->>'$.skipped' AS skipped_raw, TRY_CAST(doc->>'$.skipped' AS BOOLEAN) AS skipped,
      {_BOOL_OK.format(v="doc->>'$.skipped'")} AS skipped_ok,
      doc->>'$.country' AS country, doc->>'$.device' AS device
    FROM d
    """


def parquet_stage_sql(table: str, types: dict[str, pa.DataType]) -> str:
    """Stage rows of one Parquet file, registered as `table` with its own column types plus `line_no`.

    TRY_CAST, so one bad value becomes one quarantined record; a column the file lacks is NULL, so its rule names
    it. Typed columns (a time-zoned timestamp, an integer, a boolean) skip the text checks they pass by
    construction."""
    def col(name: str) -> str:
        return f'"{name}"' if name in types else "NULL::VARCHAR"

    def text(name: str) -> str:
        return f"CAST({col(name)} AS VARCHAR)"

    t_played, t_ms, t_skipped = types.get("played_at"), types.get("ms_played"), types.get("skipped")
    tz_native = t_played is not None and pa.types.is_timestamp(t_played) and t_played.tz is not None
    int_native = t_ms is not None and pa.types.is_integer(t_ms)
    bool_native = t_skipped is not None and pa.types.is_boolean(t_skipped)
    return f"""
    SELECT line_no, NULL::VARCHAR AS raw, true AS json_ok,
      {text("event_id")} AS event_id, {text("user_id")} AS user_id, {text("track_id")} AS track_id,
      {text("artist_id")} AS artist_id,
      {text("played_at")} AS played_at_raw, TRY_CAST({col("played_at")} AS TIMESTAMPTZ) AS played_at,
      {"true" if tz_native else _TZ_OK.format(v=text("played_at"))} AS tz_ok,
      {text("ms_played")} AS ms_played_raw, TRY_CAST({col("ms_played")} AS BIGINT) AS ms_played,
      {"true" if int_native else _INT_OK.format(v=text("ms_played"))} AS ms_int_ok,
      {"NULL::VARCHAR" if bool_native else text("skipped")} AS skipped_raw,
      TRY_CAST({col("skipped")} AS BOOLEAN) AS skipped,
      {"true" if bool_native else _BOOL_OK.format(v=text("skipped"))} AS skipped_ok,
      {text("country")} AS country, {text("device")} AS device
    FROM {table}
    """


def parquet_raw_sql(table: str, types: dict[str, pa.DataType]) -> str:
    """A JSON payload for rows of one Parquet file, for the quarantine (the same text the staging SQL builds)."""
    fields = ", ".join(f"{name} := " + (f'CAST("{name}" AS VARCHAR)' if name in types else "NULL::VARCHAR")
                       for name in EXPORT_COLUMNS)
    return f"SELECT line_no, to_json(struct_pack({fields}))::VARCHAR AS raw FROM {table}"


_RAW_FROM_COLUMNS = """to_json(struct_pack(event_id, user_id, track_id, artist_id, played_at := played_at_raw,
  ms_played := ms_played_raw, skipped := coalesce(skipped_raw, CAST(skipped AS VARCHAR)), country, device))::VARCHAR"""


def verdict_stage_sql(stage: str) -> str:
    """Each staged record with its verdict code; the raw payload only where it failed (a Parquet row's is built
    from its columns)."""
    return f"""
    SELECT line_no, event_id, user_id, track_id, artist_id, played_at, ms_played, skipped, country, device, verdict,
           CASE WHEN verdict <> {PASSED} THEN coalesce(raw, {_RAW_FROM_COLUMNS}) END AS raw
    FROM (SELECT {_STAGED}, {verdict_sql()} AS verdict FROM ({stage}))
    """


def clip_raw(raw: str) -> str:
    """A quarantined payload, cut to RAW_KEEP_BYTES so a huge record cannot bloat the quarantine."""
    if len(raw) <= RAW_KEEP_BYTES:
        return raw
    encoded = raw.encode("utf-8", "surrogatepass")
    if len(encoded) <= RAW_KEEP_BYTES:
        return raw
    head = encoded[:RAW_KEEP_BYTES].decode("utf-8", "ignore")
    return f"{head}... [cut: {len(encoded):,} bytes in all]"
