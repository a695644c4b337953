"""Deduplicate the day's good events and put them in the lake's order, without sorting the rows themselves.

The partition is ordered by (user_id, played_at, track_id, priority, event_id) and keeps the first row of each
(user_id, track_id, played_at): the same result as `SELECT DISTINCT ON (key) ... ORDER BY` those columns, but:
- strings are compared once per distinct value: each part's dictionaries are unified and the distinct users and
  tracks sorted (a few hundred thousand strings), so every row gets an integer rank;
- rows are ordered by two sorts of packed 64-bit integers (time then user), never by moving the rows: first by
  (time, row) unless the rows already come in time order (hourly exports usually do), then by (user rank, position
  in time order). Only rows that tie on (user, time) are sorted further, by track, priority and event_id;
- duplicates are then neighbours, so deduplication is one comparison with the previous row;
- the output keeps the strings dictionary-encoded: each row group carries only the dictionary values it uses, which
  Parquet writes as its dictionary pages without hashing the values again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spotify_ai_assets.core.ingestion.export_reader import Part
from spotify_ai_assets.core.ingestion.export_rules import DICTIONARY_COLUMNS

SOURCES = pa.array(["export", "recently_played"], pa.string())
# Packed sort keys: 27 bits of row position (134M rows a day) under 37 bits of time offset in microseconds
# (38 hours, more than a partition's day) or of user rank. Anything larger falls back to numpy's lexsort.
_ROW_BITS = 27
_ROW_MASK = (1 << _ROW_BITS) - 1
_TIME_BITS = 64 - _ROW_BITS


@dataclass
class OrderedEvents:
    """Deduplicated events of one set of parts, in lake order, ready to be cut into batches."""

    order: np.ndarray  # row numbers (into the concatenated columns) of the kept rows, in output order
    event_id: pa.Array
    values: dict[str, pa.Array]  # per dictionary column, the distinct values (global codes index these)
    codes: dict[str, np.ndarray]  # per dictionary column, int32 global code per row (-1 null)
    played_at_us: np.ndarray
    ms_played: pa.Array
    skipped: pa.Array
    priority: np.ndarray
    rows_in: int

    @property
    def rows(self) -> int:
        return len(self.order)

    def batch(self, start: int, stop: int, schema: pa.Schema) -> pa.RecordBatch:
        """Rows [start, stop) of the output, strings as dictionaries holding only the values these rows use."""
        idx = self.order[start:stop]
        take = pa.array(idx)
        arrays: dict[str, pa.Array] = {
            "event_id": self.event_id.take(take).cast(pa.string()),
            "played_at": pa.array(self.played_at_us[idx], pa.timestamp("us", tz="UTC")),
            "ms_played": self.ms_played.take(take),
            "skipped": self.skipped.take(take),
            "source": pa.DictionaryArray.from_arrays(pa.array(self.priority[idx].astype(np.int32)), SOURCES),
        }
        for name in DICTIONARY_COLUMNS:
            arrays[name] = _compact_dictionary(self.codes[name][idx], self.values[name])
        return pa.RecordBatch.from_arrays([arrays[f.name] for f in schema], schema=schema)


def _compact_dictionary(codes: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    valid = codes >= 0
    present = np.zeros(len(values) + 1, dtype=bool)
    present[codes[valid]] = True
    present = present[:-1]
    # A null row (code -1) reads the appended 0: its index is masked anyway.
    new_code = np.append(np.cumsum(present, dtype=np.int64).astype(np.int32) - 1, np.int32(0))
    indices = new_code[codes]
    mask = None if valid.all() else ~valid
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32(), mask=mask),
                                          values.filter(pa.array(present)))


def _unify(parts: list[Part], name: str) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of one column across parts, and every row's code into them (-1 null)."""
    if not parts:
        return pa.array([], pa.string()), np.zeros(0, dtype=np.int32)
    dictionaries = [p.values[name] for p in parts]
    sizes = np.array([len(d) for d in dictionaries], dtype=np.int64)
    encoded = pc.dictionary_encode(pa.chunked_array(dictionaries, pa.string()).combine_chunks())
    to_global = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    codes = np.empty(sum(p.num_rows for p in parts), dtype=np.int32)
    at = 0
    for part, start, size in zip(parts, starts, sizes, strict=True):
        local = part.codes[name]
        mapping = np.append(to_global[start:start + size], np.int32(-1))  # code -1 (null) stays -1
        codes[at:at + part.num_rows] = mapping[local]
        at += part.num_rows
    return encoded.dictionary, codes


def _ranks(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Rank of each value in byte order (as SQL compares strings), and the values' sorted order."""
    order = pc.sort_indices(values).to_numpy(zero_copy_only=False)
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.arange(len(values), dtype=np.int64)
    return rank, order


def _concat_strings(arrays: list[pa.Array]) -> pa.Array:
    total = sum(a.nbytes for a in arrays)
    target = pa.large_string() if total >= 2**31 - 1 else pa.string()
    return pa.concat_arrays([a.cast(target) for a in arrays]) if arrays else pa.array([], target)


def order_events(parts: list[Part], workers: int = 1) -> OrderedEvents:
    """Deduplicate and order the rows of `parts` (the list is emptied: its arrays move into the result)."""
    n = sum(p.num_rows for p in parts)
    values: dict[str, pa.Array] = {}
    codes: dict[str, np.ndarray] = {}
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for name, (vals, cods) in zip(DICTIONARY_COLUMNS, pool.map(lambda c: _unify(parts, c), DICTIONARY_COLUMNS),
                                      strict=True):
            values[name], codes[name] = vals, cods
    event_id = _concat_strings([p.event_id for p in parts])
    played = np.concatenate([p.played_at_us for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    ms_played = pa.concat_arrays([p.ms_played for p in parts]) if parts else pa.array([], pa.int64())
    skipped = pa.concat_arrays([p.skipped for p in parts]) if parts else pa.array([], pa.bool_())
    priority = (np.concatenate([np.full(p.num_rows, p.priority, dtype=np.int8) for p in parts]) if parts
                else np.zeros(0, dtype=np.int8))
    parts.clear()

    user_rank_of, user_order = _ranks(values["user_id"])
    # Users appear in the dictionary in sorted order, so a row group's users are one contiguous run of it.
    values["user_id"] = values["user_id"].take(pa.array(user_order))
    codes["user_id"] = np.append(user_rank_of.astype(np.int32), np.int32(-1))[codes["user_id"]]

    order, sorted_user = _user_time_order(codes["user_id"], played, workers)
    sorted_played = played[order]
    # Runs of rows with the same (user, played_at): only these need the rest of the order, and only in them can
    # two rows share the event key.
    same = (sorted_user[1:] == sorted_user[:-1]) & (sorted_played[1:] == sorted_played[:-1])
    del sorted_user, sorted_played
    keep = np.ones(n, dtype=bool)
    if same.any():
        order = _break_ties(order, same, codes["track_id"], values["track_id"], priority, event_id)
        keep[1:] = ~same
        tied = np.flatnonzero(same) + 1
        track = codes["track_id"]
        keep[tied] = track[order[tied]] != track[order[tied - 1]]
    return OrderedEvents(order[keep], event_id, values, codes, played, ms_played, skipped, priority, n)


def _user_time_order(user_rank: np.ndarray, played: np.ndarray, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers sorted by (user rank, played_at), ties in row order; and the user rank of each, in that order."""
    n = len(user_rank)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    t = played - played.min()
    if n > _ROW_MASK or int(t.max()) >= 1 << _TIME_BITS:
        order = np.lexsort((np.arange(n), played, user_rank))
        return order, user_rank[order]
    rows = np.arange(n, dtype=np.uint64)
    by_time: np.ndarray | None = None
    if np.all(t[1:] >= t[:-1]):
        time_pos = rows
    else:
        key = (t.astype(np.uint64) << np.uint64(_ROW_BITS)) | rows
        # Stable (timsort): each export file is a run already in time order, and merging runs is cheap.
        key.sort(kind="stable")
        by_time = (key & np.uint64(_ROW_MASK)).astype(np.int64)
        del key
        time_pos = np.empty(n, dtype=np.uint64)
        time_pos[by_time] = rows
    del t
    key = (user_rank.astype(np.uint64) << np.uint64(_ROW_BITS)) | time_pos
    del time_pos
    key = _sort_by_user_ranges(key, user_rank, workers)
    position = (key & np.uint64(_ROW_MASK)).astype(np.int64)
    order = by_time[position] if by_time is not None else position
    return order, (key >> np.uint64(_ROW_BITS)).astype(np.int64)


def _sort_by_user_ranges(key: np.ndarray, user_rank: np.ndarray, workers: int) -> np.ndarray:
    """Sort `key` (user rank in its high bits); with several workers, each sorts one range of users."""
    if workers < 2 or len(key) < 1_000_000:
        key.sort()
        return key
    counts = np.cumsum(np.bincount(user_rank, minlength=int(user_rank.max()) + 1))
    cuts = [0, *np.searchsorted(counts, [len(key) * k // workers for k in range(1, workers)]).tolist(), len(counts)]
    pieces = [key[(user_rank >= lo) & (user_rank < hi)] for lo, hi in itertools.pairwise(cuts)]
    with ThreadPoolExecutor(workers) as pool:  # numpy releases the GIL while sorting
        list(pool.map(np.ndarray.sort, pieces))
    return np.concatenate(pieces)


def _break_ties(order: np.ndarray, same: np.ndarray, track_code: np.ndarray, track_values: pa.Array,
                priority: np.ndarray, event_id: pa.Array) -> np.ndarray:
    """Within runs of equal (user, played_at) (`same[i]`: row i+1 continues row i's run), order rows by
    (track_id, priority, event_id)."""
    in_run = np.zeros(len(order), dtype=bool)
    in_run[1:] |= same
    in_run[:-1] |= same
    positions = np.flatnonzero(in_run)
    # Run id: the position where each run starts, so runs keep their places.
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = ~same
    run_id = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))[positions]
    rows = order[positions]
    track_rank, _ = _ranks(track_values)
    tie = pa.table({
        "run": run_id,
        "track": np.append(track_rank, -1)[track_code[rows]],
        "priority": priority[rows],
        "event_id": event_id.take(pa.array(rows)),
    })
    # SQL's ORDER BY puts NULLs last.
    resorted = pc.sort_indices(tie, sort_keys=[("run", "ascending", "at_end"), ("track", "ascending", "at_end"),
                                               ("priority", "ascending", "at_end"),
                                               ("event_id", "ascending", "at_end")]).to_numpy(zero_copy_only=False)
    order = order.copy()
    order[positions] = rows[resorted]
    return order


def batches(ordered: OrderedEvents, schema: pa.Schema, rows_per_batch: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, ordered.rows, rows_per_batch):
        yield ordered.batch(start, min(start + rows_per_batch, ordered.rows), schema)
