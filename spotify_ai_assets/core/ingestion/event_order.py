"""Deduplicate the day's good events and put them in the lake's order, without sorting the rows themselves.

The partition is ordered by (user_id, played_at, track_id, priority, event_id) and keeps the first row of each
(user_id, track_id, played_at): the same result as `SELECT DISTINCT ON (key) ... ORDER BY` those columns, but:
- the day is cut into ranges of users by the first 8 bytes of the user id (after the prefix every id shares), read
  as one big-endian integer: that prefix orders users as their bytes do, so the ranges follow one another in the
  output and each is ordered alone. Each range encodes and sorts only its own users (a few tens of thousands), so
  the hashing of the day's user ids is no serial step before the write: the worker threads do it range by range
  while the rows of the ranges before are written;
- the other strings are compared once per distinct value: each part's dictionaries are unified and the distinct
  tracks sorted, so every row gets an integer rank;
- rows are ordered by two sorts of packed 64-bit integers (time then user), never by moving the rows: first by
  (time, row) unless the rows already come in time order (hourly exports usually do), then, within a range, by
  (user rank, position in time order). Only rows that tie on (user, time) are sorted further, by track, priority
  and event_id;
- duplicates are then neighbours, so deduplication is one comparison with the previous row;
- the output keeps the strings dictionary-encoded: each row group carries only the dictionary values it uses, which
  Parquet writes as its dictionary pages without hashing the values again.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spotify_ai_assets.core.ingestion.export_reader import Part
from spotify_ai_assets.core.ingestion.export_rules import PART_DICTIONARY_COLUMNS
from spotify_ai_assets.core.ingestion.string_buffers import as_bytes, offsets_and_data

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
    user_id: pa.Array  # plain strings, one per row
    values: dict[str, pa.Array]  # per part-dictionary column, the distinct values (global codes index these)
    codes: dict[str, np.ndarray]  # per part-dictionary column, int32 global code per row (-1 null)
    played_at_us: np.ndarray
    ms_played: pa.Array
    skipped: pa.Array
    priority: np.ndarray
    rows_in: int
    workers: int
    track_rank: np.ndarray
    plan: _TimePlan
    by_range: np.ndarray  # row numbers grouped by range of users (ranges follow one another in the output)
    range_bounds: np.ndarray  # range k's rows are by_range[range_bounds[k]:range_bounds[k + 1]]
    # Kept rows by priority (SOURCES), counted as the ranges are streamed (`batches`): counting them after the write
    # took a gather of the whole day on one core (0.3 s of a 7.5 s bench day) while the other waited.
    kept_by_priority: np.ndarray = field(default_factory=lambda: np.zeros(len(SOURCES), dtype=np.int64))

    @property
    def ranges(self) -> int:
        return len(self.range_bounds) - 1

    def order_range(self, k: int) -> RangeOrder:
        """The kept rows of range `k`, in output order, with their users' codes into the range's sorted users (the
        last range also holds rows without a user, which validation does not let through, but none may be lost)."""
        rows = self.by_range[self.range_bounds[k]:self.range_bounds[k + 1]]
        users, user_rank = _range_users(self.user_id.take(pa.array(rows)))
        order, sorted_user = _user_time_order(user_rank, self.played_at_us[rows], self.plan, rows)
        del user_rank
        sorted_played = self.played_at_us[order]
        # Runs of rows with the same (user, played_at): only these need the rest of the order, and only in them can
        # two rows share the event key.
        same = (sorted_user[1:] == sorted_user[:-1]) & (sorted_played[1:] == sorted_played[:-1])
        del sorted_played
        if same.any():
            order = _break_ties(order, same, self.codes["track_id"], self.track_rank, self.priority, self.event_id)
            keep = np.ones(len(order), dtype=bool)
            keep[1:] = ~same
            tied = np.flatnonzero(same) + 1
            track = self.codes["track_id"]
            keep[tied] = track[order[tied]] != track[order[tied - 1]]
            order, sorted_user = order[keep], sorted_user[keep]
        # No user sorts last (the largest rank); as a code it is null (-1).
        codes = np.where(sorted_user < len(users), sorted_user, -1).astype(np.int32)
        return RangeOrder(order, codes, users, np.bincount(self.priority[order], minlength=len(SOURCES)))

    def batch(self, idx: np.ndarray, user_codes: np.ndarray, users: pa.Array, schema: pa.Schema) -> pa.RecordBatch:
        """The rows `idx` (their users: `user_codes` into `users`), strings as dictionaries holding only the values
        these rows use."""
        take = pa.array(idx)
        arrays: dict[str, pa.Array] = {
            "event_id": self.event_id.take(take).cast(pa.string()),
            "user_id": _compact_dictionary(user_codes, users),
            "played_at": pa.array(self.played_at_us[idx], pa.timestamp("us", tz="UTC")),
            "ms_played": self.ms_played.take(take),
            "skipped": self.skipped.take(take),
            "source": pa.DictionaryArray.from_arrays(pa.array(self.priority[idx].astype(np.int32)),
                                                       pa.array(SOURCES, pa.string())),
        }
        for name in PART_DICTIONARY_COLUMNS:
            arrays[name] = _compact_dictionary(self.codes[name][idx], self.values[name])
        return pa.RecordBatch.from_arrays([arrays[f.name] for f in schema], schema=schema)


@dataclass
class RangeOrder:
    """One range of users, ordered: its kept rows, each row's user as a code into `users` (the range's distinct
    users in byte order; -1 for no user)."""

    rows: np.ndarray
    user_codes: np.ndarray
    users: pa.Array
    by_priority: np.ndarray  # the kept rows by priority (SOURCES)


def _range_users(user_id: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The distinct users of a range in byte order (as SQL compares strings), and each row's rank among them (no
    user: len(users), so it sorts last as SQL sorts NULLs)."""
    encoded = pc.dictionary_encode(user_id)
    values = encoded.dictionary
    rank, order = _ranks(values)
    indices = pc.fill_null(encoded.indices, len(values)).to_numpy(zero_copy_only=False)
    user_rank = np.append(rank, len(values))[indices]
    return values.take(pa.array(order)).cast(pa.string()), user_rank


def _compact_dictionary(codes: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    valid = codes >= 0
    present = np.zeros(len(values) + 1, dtype=bool)
    present[codes] = True  # code -1 (null) marks the extra last entry, dropped below
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
    """One array of the strings of `arrays`, which it empties: the parts' copies are freed as soon as they are
    joined (event and user ids are the largest columns of the day)."""
    total = sum(a.nbytes for a in arrays)
    target = pa.large_string() if total >= 2**31 - 1 else pa.string()
    joined = pa.concat_arrays([a.cast(target) for a in arrays]) if arrays else pa.array([], target)
    arrays.clear()
    return joined


def _move_out(parts: list[Part], name: str) -> list[pa.Array]:
    """The parts' arrays of one plain string column, which the parts no longer hold."""
    arrays = [getattr(p, name) for p in parts]
    empty = pa.array([], pa.string())  # made here: pyarrow imports pandas when it first converts Python values
    for p in parts:
        setattr(p, name, empty)
    return arrays


def order_events(parts: list[Part], workers: int = 1) -> OrderedEvents:
    """Deduplicate and order the rows of `parts` (the list is emptied: its arrays move into the result).

    What every user range needs (the unified dictionaries, the rows' ranges, time positions) is computed here; the
    ranges themselves are ordered while `batches` streams the result (see `OrderedEvents`)."""
    n = sum(p.num_rows for p in parts)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        # Independent passes, the longest first (the users' ranges, then the times), so the cores stay busy.
        ranged = pool.submit(_users_and_ranges, _move_out(parts, "user_id"), n, workers, _day_bounds(parts))
        unified = {name: pool.submit(_unify, parts, name) for name in PART_DICTIONARY_COLUMNS}
        timed = pool.submit(_played_and_plan, [p.played_at_us for p in parts])
        event_id = pool.submit(_concat_strings, _move_out(parts, "event_id"))
        ms_played = pa.concat_arrays([p.ms_played for p in parts]) if parts else pa.array([], pa.int64())
        skipped = pa.concat_arrays([p.skipped for p in parts]) if parts else pa.array([], pa.bool_())
        priority = (np.concatenate([np.full(p.num_rows, p.priority, dtype=np.int8) for p in parts]) if parts
                    else np.zeros(0, dtype=np.int8))
        values: dict[str, pa.Array] = {}
        codes: dict[str, np.ndarray] = {}
        for name, future in unified.items():
            values[name], codes[name] = future.result()
        track_rank = _ranks(values["track_id"])[0]
        played, plan = timed.result()
        user_id, by_range, bounds = ranged.result()
        parts.clear()
        if plan.time_pos is None:  # the day is ordered by one lexsort: one range
            by_range, bounds = np.arange(n, dtype=np.int64), np.array([0, n], dtype=np.int64)
        return OrderedEvents(event_id.result(), user_id, values, codes, played, ms_played, skipped, priority, n,
                             workers=max(1, workers), track_rank=track_rank, plan=plan, by_range=by_range,
                             range_bounds=bounds)


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


# Rows sampled to place the cuts between ranges.
_SAMPLE_ROWS = 1 << 16
# Per id length 0-8 (after the bytes skipped), the bits of its key that are its own: later bytes are the next id's.
_OWN_BYTES = np.array([0, *[((1 << 64) - 1) ^ ((1 << (64 - 8 * n)) - 1) for n in range(1, 9)]], dtype=np.uint64)


UserBounds = tuple[bytes | None, bytes | None]  # the smallest and largest user id, as bytes (None without one)


def _day_bounds(parts: list[Part]) -> UserBounds:
    """The smallest and largest user id of the day (as bytes; None without one), from the parts' own."""
    lows = [p.user_bounds[0] for p in parts if p.user_bounds[0] is not None]
    highs = [p.user_bounds[1] for p in parts if p.user_bounds[1] is not None]
    return (min(lows) if lows else None), (max(highs) if highs else None)


def _users_and_ranges(user_parts: list[pa.Array], n: int, workers: int,
                      bounds: UserBounds | None = None) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The day's user ids as one array; the row numbers grouped by range of users (ascending within a range) and
    each range's bounds in them. Ranges hold about RANGE_ROWS rows each (aiming at one per worker or more), and are
    cut between values of the users' byte-order prefix keys (`_prefix_keys`), so one user is never in two ranges:
    where keys repeat there are fewer ranges. Rows without a user are in the last range."""
    user_id = _concat_strings(user_parts)
    wanted = max(workers, -(-n // RANGE_ROWS))
    one_range = np.arange(n, dtype=np.int64), np.array([0, n], dtype=np.int64)
    if n == 0 or wanted <= 1 or n > _ROW_MASK:  # too many rows for the packed key: one lexsort, one range
        return user_id, *one_range
    valid = None if user_id.null_count == 0 else pc.is_valid(user_id).to_numpy(zero_copy_only=False)
    if valid is not None and not valid.any():
        return user_id, *one_range
    keys = _prefix_keys(user_id, bounds)
    known = keys if valid is None else keys[valid]
    sample = np.sort(known[:: max(1, len(known) // _SAMPLE_ROWS)])
    cuts = np.unique(sample[[len(sample) * k // wanted for k in range(1, wanted)]])
    cuts = cuts[cuts > sample[0]]  # an empty first range would order nothing
    user_range = _ranges_of(keys, cuts)
    if valid is not None:
        user_range[~valid] = len(cuts)
    # A stable sort of 16-bit integers (any day of fewer than 2^15 ranges) is a radix sort: one pass groups the rows
    # by range, in row order.
    by_range = np.argsort(user_range, kind="stable")
    bounds = np.zeros(len(cuts) + 2, dtype=np.int64)
    np.cumsum(np.bincount(user_range, minlength=len(cuts) + 1), out=bounds[1:])
    return user_id, by_range, bounds


def _ranges_of(keys: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """`np.searchsorted(cuts, keys, side="right")` (each key's range), through a table of the keys' top 16 bits: a key
    whose top bits no cut shares has the range of every key with those bits, and only the others (about 1% of a day)
    are searched. A binary search of each of 12M keys was a sixth of the ranges' critical path."""
    dtype = np.int16 if len(cuts) < 1 << 15 else np.int32
    cut_top = (cuts >> np.uint64(48)).astype(np.int64)
    table = np.searchsorted(cut_top, np.arange(1 << 16), side="left").astype(dtype)
    table[cut_top] = -1  # keys with a cut's top bits: searched below
    # The top 16 bits of each little-endian key are its last uint16 (a strided view: no copy of the keys).
    top = keys.view(np.uint16)[3::4] if np.little_endian and keys.flags.c_contiguous else keys >> np.uint64(48)
    ranges = table[top]
    searched = np.flatnonzero(ranges < 0)
    ranges[searched] = np.searchsorted(cuts, keys[searched], side="right")
    return ranges


def _prefix_keys(user_id: pa.Array, bounds: UserBounds | None = None) -> np.ndarray:
    """Per row, 8 bytes of the user id as a big-endian integer (shorter ids padded with zero bytes), from the first
    byte in which ids differ (the bytes before it every id shares). For ids a < b in byte order,
    key(a) <= key(b); equal ids have equal keys; a row without a user gets some key. `bounds`: the smallest and
    largest id (bytes), when already known."""
    # As bytes: an id need not be valid UTF-8 (typed Parquet is not checked for it), and must not stop the day.
    if bounds is None:
        found = pc.min_max(as_bytes(user_id))
        bounds = found["min"].as_py(), found["max"].as_py()
    low, high = bounds
    # Every id lies between the smallest and the largest, so it shares the bytes they share. (One outlier makes that
    # prefix short and the keys of the others alike: fewer, larger ranges, the same output.)
    skip = _shared_prefix(low, high) if low is not None else 0
    offsets, data = offsets_and_data(user_id)
    starts = offsets[:-1] + skip
    # Every row reads 8 bytes from where its key starts: one unaligned load each, through a view of the data with a
    # stride of one byte. The rows starting in the last 7 bytes read from a copy of them with zeros after.
    loads = np.ndarray(shape=(max(len(data) - 7, 0),), dtype="<u8", buffer=data, strides=(1,))
    tail = np.zeros(16, dtype=np.uint8)
    end = data[len(loads):]
    tail[:len(end)] = end
    tail_loads = np.ndarray(shape=(9,), dtype="<u8", buffer=tail, strides=(1,))
    late = np.flatnonzero(starts >= len(loads))
    keys = loads[np.minimum(starts, max(len(loads) - 1, 0))] if len(loads) else np.zeros(len(starts), np.uint64)
    keys[late] = tail_loads[np.minimum(starts[late] - len(loads), 8)]
    keys.byteswap(inplace=True)  # big-endian: the first byte is the most significant
    # An id shorter than its 8 bytes: the bytes after its end are the next id's (a row without a user is empty).
    lengths = offsets[1:] - offsets[:-1]
    short = np.flatnonzero(lengths < skip + 8)
    keys[short] &= _OWN_BYTES[np.clip(lengths[short] - skip, 0, 8)]
    return keys


def _shared_prefix(a: bytes, b: bytes) -> int:
    """How many leading bytes `a` and `b` share."""
    n = min(len(a), len(b))
    differ = np.flatnonzero(np.frombuffer(a[:n], np.uint8) != np.frombuffer(b[:n], np.uint8))
    return int(differ[0]) if len(differ) else n


def _user_time_order(user_rank: np.ndarray, played: np.ndarray, plan: _TimePlan,
                     rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The row numbers `rows` (with their user ranks and times) sorted by (user rank, played_at), ties in row
    order; and the user rank of each, in that order."""
    if plan.time_pos is None:
        order = np.lexsort((rows, played, user_rank))
        return rows[order], user_rank[order]
    # One packed key per row: user rank above the row's position in time order (its row number if the rows come in
    # time order). Built and taken apart in place: fresh arrays cost page faults.
    key = user_rank.astype(np.uint64)
    key <<= np.uint64(_ROW_BITS)
    key |= plan.time_pos[rows] if plan.by_time is not None else rows.astype(np.int64, copy=False).view(np.uint64)
    key.sort()
    ranks = (key >> np.uint64(_ROW_BITS)).view(np.int64)
    key &= np.uint64(_ROW_MASK)
    position = key.view(np.int64)
    return (plan.by_time[position] if plan.by_time is not None else position), ranks


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
    ordered.kept_by_priority = np.zeros(len(SOURCES), dtype=np.int64)
    pool = ThreadPoolExecutor(ordered.workers)
    try:
        # The futures a worker has not started are cancelled if the consumer stops early (a failed write).
        ranges = [pool.submit(ordered.order_range, k) for k in range(ordered.ranges)]
        pending_rows: list[np.ndarray] = []
        pending_codes: list[np.ndarray] = []
        # The users of the pending rows' ranges, one range after another (ranges hold disjoint users, in byte
        # order); a pending row's code indexes their concatenation.
        held_users: list[pa.Array] = []
        held = 0
        for future in ranges:
            done = future.result()
            ordered.kept_by_priority += done.by_priority
            offset = sum(len(u) for u in held_users)
            pending_rows.append(done.rows)
            pending_codes.append(np.where(done.user_codes >= 0, done.user_codes + offset, -1).astype(np.int32))
            held_users.append(done.users)
            held += len(done.rows)
            while held >= rows_per_batch:
                rows, codes = _joined(pending_rows), _joined(pending_codes)
                users = pa.concat_arrays(held_users) if len(held_users) > 1 else held_users[0]
                yield ordered.batch(rows[:rows_per_batch], codes[:rows_per_batch], users, schema)
                # Rows come in user order, so the users before the first remaining row's are done with (a row
                # without a user sorts after all users).
                rest = codes[rows_per_batch:]
                first = len(users) if len(rest) == 0 or rest[0] < 0 else int(rest[0])
                pending_rows, pending_codes = [rows[rows_per_batch:]], [np.where(rest >= 0, rest - first, -1)]
                held_users = [users.slice(first)]
                held -= rows_per_batch
        if held:
            users = pa.concat_arrays(held_users) if len(held_users) > 1 else held_users[0]
            yield ordered.batch(_joined(pending_rows), _joined(pending_codes), users, schema)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
