"""Deduplicate the day's good events and put them in the lake's order, without sorting the rows themselves.

The partition is ordered by (user_id, played_at, track_id, priority, event_id) and keeps the first row of each
(user_id, track_id, played_at): the same result as `SELECT DISTINCT ON (key) ... ORDER BY` those columns, but:
- strings are compared once per distinct value: the day's users are encoded in one pass (a user id is nearly unique
  within a file, so there is nothing to gain from encoding each file first), each part's other dictionaries are
  unified, and the distinct users and tracks sorted (a few hundred thousand strings), so every row gets an integer
  rank;
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
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spotify_ai_assets.core.ingestion.export_reader import Part
from spotify_ai_assets.core.ingestion.export_rules import DICTIONARY_COLUMNS, PART_DICTIONARY_COLUMNS

SOURCES = ("export", "recently_played")  # dictionary of the `source` column, by priority
# Packed sort keys: 27 bits of row position (134M rows a day) under 37 bits of time offset in microseconds
# (38 hours, more than a partition's day) or of user rank. Anything larger falls back to numpy's lexsort.
_ROW_BITS = 27
_ROW_MASK = (1 << _ROW_BITS) - 1
_TIME_BITS = 64 - _ROW_BITS
# Rows of a user range, ordered as one unit: small enough that the write starts soon after the reads end, large
# enough that per-range passes cost nothing.
RANGE_ROWS = 1 << 20


@dataclass
class OrderedEvents:
    """The day's good events, ready to be ordered and cut into batches by `batches`.

    The day is ordered in ranges of users (about RANGE_ROWS rows each): the worker threads order the next ranges
    while the rows of the ranges before them are cut into row groups and written, so the ordering overlaps the
    write instead of preceding it. Two rows with one event key have one user, so each range deduplicates alone."""

    event_id: pa.Array
    values: dict[str, pa.Array]  # per dictionary column, the distinct values (global codes index these)
    codes: dict[str, np.ndarray]  # per dictionary column, int32 global code per row (-1 null)
    played_at_us: np.ndarray
    ms_played: pa.Array
    skipped: pa.Array
    priority: np.ndarray
    rows_in: int
    workers: int
    track_rank: np.ndarray
    plan: _TimePlan
    cuts: list[int]  # user-rank bounds of the ranges
    kept: list[np.ndarray] = field(default_factory=list)  # each range's kept rows, in output order, as streamed

    @property
    def order(self) -> np.ndarray:
        """Row numbers (into the concatenated columns) of the kept rows, in output order (after `batches`)."""
        return np.concatenate(self.kept) if self.kept else np.zeros(0, dtype=np.int64)

    def order_range(self, lo: int, hi: int) -> np.ndarray:
        """The kept rows of the users ranked [lo, hi), in output order (the last range also holds rows without a
        user, which validation does not let through, but none may be lost)."""
        order, sorted_user = _user_time_order(self.codes["user_id"], self.played_at_us, self.plan, lo, hi,
                                              last=hi == self.cuts[-1])
        sorted_played = self.played_at_us[order]
        # Runs of rows with the same (user, played_at): only these need the rest of the order, and only in them can
        # two rows share the event key.
        same = (sorted_user[1:] == sorted_user[:-1]) & (sorted_played[1:] == sorted_played[:-1])
        del sorted_user, sorted_played
        if not same.any():
            return order
        order = _break_ties(order, same, self.codes["track_id"], self.track_rank, self.priority, self.event_id)
        keep = np.ones(len(order), dtype=bool)
        keep[1:] = ~same
        tied = np.flatnonzero(same) + 1
        track = self.codes["track_id"]
        keep[tied] = track[order[tied]] != track[order[tied - 1]]
        return order[keep]

    def batch(self, idx: np.ndarray, schema: pa.Schema) -> pa.RecordBatch:
        """The rows `idx`, strings as dictionaries holding only the values these rows use."""
        take = pa.array(idx)
        arrays: dict[str, pa.Array] = {
            "event_id": self.event_id.take(take).cast(pa.string()),
            "played_at": pa.array(self.played_at_us[idx], pa.timestamp("us", tz="UTC")),
            "ms_played": self.ms_played.take(take),
            "skipped": self.skipped.take(take),
            "source": pa.DictionaryArray.from_arrays(pa.array(self.priority[idx].astype(np.int32)),
                                                       pa.array(SOURCES, pa.string())),
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


def _encode_users(parts: list[Part]) -> tuple[pa.Array, np.ndarray]:
    """The distinct user ids of all parts, and every row's code into them (-1 null): one hash pass over the day's
    rows (a chunked array shares one dictionary across its chunks)."""
    if not parts:
        return pa.array([], pa.string()), np.zeros(0, dtype=np.int32)
    chunks = [p.user_id for p in parts]
    target = pa.large_string() if sum(c.nbytes for c in chunks) >= 2**31 - 1 else pa.string()
    encoded = pc.dictionary_encode(pa.chunked_array([c.cast(target) for c in chunks], target))
    values = encoded.chunk(encoded.num_chunks - 1).dictionary  # every chunk holds the whole dictionary
    codes = np.concatenate([pc.fill_null(c.indices, -1).to_numpy(zero_copy_only=False) for c in encoded.chunks])
    return values.cast(pa.string()), codes.astype(np.int32, copy=False)


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
    """Deduplicate and order the rows of `parts` (the list is emptied: its arrays move into the result).

    What every user range needs (the unified dictionaries, user ranks, time positions) is computed here; the ranges
    themselves are ordered while `batches` streams the result (see `OrderedEvents`)."""
    n = sum(p.num_rows for p in parts)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        # Independent passes, the longest first (the users' dictionaries, then the times), so the cores stay busy.
        unified = {"user_id": pool.submit(_encode_users, parts)}
        unified |= {name: pool.submit(_unify, parts, name) for name in PART_DICTIONARY_COLUMNS}
        timed = pool.submit(_played_and_plan, [p.played_at_us for p in parts])
        event_id = pool.submit(_concat_strings, [p.event_id for p in parts])
        ms_played = pa.concat_arrays([p.ms_played for p in parts]) if parts else pa.array([], pa.int64())
        skipped = pa.concat_arrays([p.skipped for p in parts]) if parts else pa.array([], pa.bool_())
        priority = (np.concatenate([np.full(p.num_rows, p.priority, dtype=np.int8) for p in parts]) if parts
                    else np.zeros(0, dtype=np.int8))
        values: dict[str, pa.Array] = {}
        codes: dict[str, np.ndarray] = {}
        for name, future in unified.items():
            values[name], codes[name] = future.result()
        track_ranked = pool.submit(_ranks, values["track_id"])
        user_rank_of, user_order = _ranks(values["user_id"])
        # Users appear in the dictionary in sorted order, so a row group's users are one contiguous run of it.
        values["user_id"] = values["user_id"].take(pa.array(user_order))
        codes["user_id"] = np.append(user_rank_of.astype(np.int32), np.int32(-1))[codes["user_id"]]
        played, plan = timed.result()
        track_rank = track_ranked.result()[0]
        parts.clear()
        return OrderedEvents(event_id.result(), values, codes, played, ms_played, skipped, priority, n,
                             workers=max(1, workers), track_rank=track_rank, plan=plan,
                             cuts=_user_cuts(codes["user_id"], plan, workers))


def _played_and_plan(played_parts: list[np.ndarray]) -> tuple[np.ndarray, _TimePlan]:
    played = np.concatenate(played_parts) if played_parts else np.zeros(0, dtype=np.int64)
    return played, _TimePlan.of(played)


@dataclass
class _TimePlan:
    """Each row's position in time order (ties in row order), as the low bits of the packed user sort key; or None
    when the day does not fit the packed key, and the (rare) day is ordered by one lexsort."""

    time_pos: np.ndarray | None
    by_time: np.ndarray | None  # row number at each time position; None when the rows already come in time order

    @classmethod
    def of(cls, played: np.ndarray) -> _TimePlan:
        # In place where it can be: a fresh 100 MB array (a 12M-row day) costs more in page faults than the pass.
        n = len(played)
        if n == 0:
            return cls(np.zeros(0, dtype=np.uint64), None)
        t = played - played.min()
        if n > _ROW_MASK or int(t.max()) >= 1 << _TIME_BITS:
            return cls(None, None)
        rows = np.arange(n, dtype=np.uint64)
        if np.all(t[1:] >= t[:-1]):
            return cls(rows, None)
        key = t.view(np.uint64)
        key <<= np.uint64(_ROW_BITS)
        key |= rows
        # Stable (timsort): each export file is a run already in time order, and merging runs is cheap.
        key.sort(kind="stable")
        key &= np.uint64(_ROW_MASK)
        by_time = key.view(np.int64)
        time_pos = np.empty(n, dtype=np.uint64)
        time_pos[by_time] = rows
        return cls(time_pos, by_time)


def _user_cuts(user_rank: np.ndarray, plan: _TimePlan, workers: int) -> list[int]:
    """User-rank bounds of the ranges ordered one by one: about RANGE_ROWS rows each, at least one per worker."""
    n = len(user_rank)
    users = int(user_rank.max()) + 1 if n else 0
    if users <= 0 or plan.time_pos is None:
        return [0, max(users, 0)]
    ranges = max(workers, -(-n // RANGE_ROWS))
    ranked = user_rank if user_rank.min() >= 0 else user_rank[user_rank >= 0]
    counts = np.cumsum(np.bincount(ranked, minlength=users))
    inner = np.searchsorted(counts, [len(ranked) * k // ranges for k in range(1, ranges)]).tolist()
    return sorted({0, *inner, users})


def _user_time_order(user_rank: np.ndarray, played: np.ndarray, plan: _TimePlan, lo: int, hi: int,
                     last: bool) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of the users ranked [lo, hi) (and of rows without a user if `last`), sorted by (user rank,
    played_at), ties in row order; and the user rank of each, in that order."""
    if plan.time_pos is None:
        # No user (-1) sorts last, as SQL sorts NULLs and as the packed key does.
        rank = np.where(user_rank < 0, np.iinfo(np.int64).max, user_rank.astype(np.int64))
        order = np.lexsort((np.arange(len(rank)), played, rank))
        return order, rank[order]
    member = (user_rank >= lo) & (user_rank < hi)
    if last:
        member |= user_rank < 0  # no user (-1): cast to uint64 it is the largest rank, last as SQL sorts NULLs
    rows = np.flatnonzero(member)
    del member
    key = (user_rank[rows].astype(np.uint64) << np.uint64(_ROW_BITS)) | plan.time_pos[rows]
    del rows
    key.sort()
    position = (key & np.uint64(_ROW_MASK)).astype(np.int64)
    order = plan.by_time[position] if plan.by_time is not None else position
    return order, (key >> np.uint64(_ROW_BITS)).astype(np.int64)


def _break_ties(order: np.ndarray, same: np.ndarray, track_code: np.ndarray, track_rank: np.ndarray,
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
    tie = pa.table({
        "run": run_id,
        "track": np.append(track_rank, len(track_rank))[track_code[rows]],  # no track (-1): last, as SQL
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
    """The ordered rows in batches of `rows_per_batch` (the last may be short), whatever the ranges' sizes; each
    range is ordered on a worker thread, the next ones while this one's batches are built and written."""
    cuts = ordered.cuts
    ordered.kept = []
    pool = ThreadPoolExecutor(ordered.workers)
    try:
        # The futures a worker has not started are cancelled if the consumer stops early (a failed write).
        ranges = [pool.submit(ordered.order_range, lo, hi) for lo, hi in itertools.pairwise(cuts)]
        pending: list[np.ndarray] = []
        held = 0
        for future in ranges:
            kept = future.result()
            ordered.kept.append(kept)
            pending.append(kept)
            held += len(kept)
            while held >= rows_per_batch:
                rows = np.concatenate(pending) if len(pending) > 1 else pending[0]
                yield ordered.batch(rows[:rows_per_batch], schema)
                pending, held = [rows[rows_per_batch:]], held - rows_per_batch
        if held:
            yield ordered.batch(np.concatenate(pending), schema)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
