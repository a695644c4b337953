"""`event_order`: the day's order and deduplication equal `SELECT DISTINCT ON (user, track, played_at) ... ORDER BY
user, played_at, track, priority, event_id`, written here as a plain Python sort, on rows dense with ties."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest

from spotify_ai_assets.core.ingestion import event_order
from spotify_ai_assets.core.ingestion.export_reader import Part, part_from_table

SCHEMA = pa.schema([("event_id", pa.string()), ("user_id", pa.string()), ("track_id", pa.string()),
                    ("artist_id", pa.string()), ("played_at", pa.timestamp("us", tz="UTC")),
                    ("ms_played", pa.int64()), ("skipped", pa.bool_()), ("country", pa.string()),
                    ("device", pa.string())])
OUT = pa.schema([pa.field(f.name, pa.dictionary(pa.int32(), pa.string()))
                 if f.name in ("user_id", "track_id", "artist_id", "country", "device") else f for f in SCHEMA]
                + [pa.field("source", pa.dictionary(pa.int32(), pa.string()))])


def _rows(seed: int, n: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    base = 1_768_348_800_000_000  # 2026-01-14 00:00 UTC in microseconds
    users = ["u", "u\u00e9", "U", "ub", "a", "zz", "u\u3000"]  # byte order, not locale order
    rows = []
    for i in range(n):
        rows.append({
            "event_id": f"e{rng.integers(0, 40):02d}", "user_id": users[rng.integers(0, len(users))],
            "track_id": f"t{rng.integers(0, 4)}", "artist_id": None if rng.random() < 0.2 else "a",
            "played_at": base + int(rng.integers(0, 6)) * 1_000_000, "ms_played": i,
            "skipped": bool(rng.random() < 0.5), "country": "DE", "device": "d"})
    return rows


def _expected(parts_rows: list[tuple[list[dict], int]]) -> list[tuple]:
    tagged = [(r["user_id"].encode(), r["played_at"], r["track_id"].encode(), prio, r["event_id"].encode(), k, r)
              for k, (rows, prio) in enumerate(parts_rows) for r in rows]
    tagged.sort(key=lambda x: x[:5])
    seen, out = set(), []
    for user, played, track, prio, _, _, r in tagged:
        if (user, track, played) in seen:
            continue
        seen.add((user, track, played))
        out.append((r["event_id"], r["user_id"], r["track_id"], r["played_at"], prio))
    return out


@pytest.mark.parametrize("range_rows", [1 << 20, 40])  # one range per worker; ranges cutting row groups
@pytest.mark.parametrize("path", ["time_ordered", "shuffled", "lexsort"])
def test_order_and_dedup_equal_distinct_on_with_order_by(monkeypatch: pytest.MonkeyPatch, path: str,
                                                         range_rows: int) -> None:
    monkeypatch.setattr(event_order, "RANGE_ROWS", range_rows)
    inputs = [(_rows(1, 300), 0), (_rows(2, 300), 0), (_rows(3, 50), 1)]
    if path == "time_ordered":  # each part later than the one before and sorted: the time sort is skipped
        inputs = [(sorted(({**r, "played_at": r["played_at"] + k * 10_000_000} for r in rows),
                          key=lambda r: r["played_at"]), prio) for k, (rows, prio) in enumerate(inputs)]
    if path == "lexsort":
        monkeypatch.setattr(event_order, "_ROW_MASK", 16)
    parts = []
    for rows, prio in inputs:
        table = pa.Table.from_pylist([{**r, "played_at": r["played_at"]} for r in rows], schema=pa.schema(
            [f if f.name != "played_at" else pa.field("played_at", pa.int64()) for f in SCHEMA]))
        table = table.set_column(4, "played_at", table["played_at"].cast(pa.timestamp("us", tz="UTC")))
        parts.append(part_from_table(table, priority=prio))
    ordered = event_order.order_events(parts, workers=2)
    got = pa.Table.from_batches(list(event_order.batches(ordered, OUT, 97)), OUT)
    got_rows = [(r["event_id"], r["user_id"], r["track_id"], int(r["played_at"].timestamp() * 1_000_000),
                 0 if r["source"] == "export" else 1) for r in got.to_pylist()]
    assert got_rows == _expected(inputs)
    assert ordered.rows_in == 650
    # The kept rows by source, counted range by range as they stream, are the output's.
    assert ordered.kept_by_priority.tolist() == [sum(r[4] == p for r in got_rows) for p in (0, 1)]


def test_a_row_group_whose_column_is_all_null_has_an_empty_dictionary() -> None:
    # Recently-played rows alone: no device, ms_played or skipped at all.
    table = pa.Table.from_pylist([{"event_id": "rp-1", "user_id": "u", "track_id": "t", "artist_id": None,
                                   "played_at": 1_768_348_800_000_000, "ms_played": None, "skipped": None,
                                   "country": None, "device": None}], schema=pa.schema(
        [f if f.name != "played_at" else pa.field("played_at", pa.int64()) for f in SCHEMA]))
    table = table.set_column(4, "played_at", table["played_at"].cast(pa.timestamp("us", tz="UTC")))
    ordered = event_order.order_events([part_from_table(table, priority=1)])
    (batch,) = event_order.batches(ordered, OUT, 10)
    assert batch.column(batch.schema.get_field_index("device")).null_count == 1
    assert batch.to_pylist()[0]["source"] == "recently_played"


@pytest.mark.parametrize("path", ["packed", "lexsort"])
def test_a_row_without_user_is_kept_last_as_sql_sorts_nulls(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    # Validation quarantines such rows; should one get through, ordering by user ranges must not drop it.
    if path == "lexsort":
        monkeypatch.setattr(event_order, "_ROW_MASK", 0)
    rows = [{"event_id": f"e{i}", "user_id": user, "track_id": "t", "artist_id": "a",
             "played_at": 1_768_348_800_000_000 + i, "ms_played": 1, "skipped": False, "country": "DE",
             "device": "d"} for i, user in enumerate(["b", None, "a", "c", None])]
    table = pa.Table.from_pylist(rows, schema=pa.schema(
        [f if f.name != "played_at" else pa.field("played_at", pa.int64()) for f in SCHEMA]))
    table = table.set_column(4, "played_at", table["played_at"].cast(pa.timestamp("us", tz="UTC")))
    ordered = event_order.order_events([part_from_table(table, priority=0)], workers=2)
    got = pa.Table.from_batches(list(event_order.batches(ordered, OUT, 2)), OUT)
    assert got["event_id"].to_pylist() == ["e2", "e0", "e3", "e1", "e4"]


def test_a_row_without_track_sorts_after_its_tie_as_sql_sorts_nulls() -> None:
    rows = [{"event_id": f"e{i}", "user_id": "u", "track_id": track, "artist_id": "a",
             "played_at": 1_768_348_800_000_000, "ms_played": 1, "skipped": False, "country": "DE",
             "device": "d"} for i, track in enumerate([None, "t"])]
    table = pa.Table.from_pylist(rows, schema=pa.schema(
        [f if f.name != "played_at" else pa.field("played_at", pa.int64()) for f in SCHEMA]))
    table = table.set_column(4, "played_at", table["played_at"].cast(pa.timestamp("us", tz="UTC")))
    ordered = event_order.order_events([part_from_table(table, priority=0)])
    got = pa.Table.from_batches(list(event_order.batches(ordered, OUT, 10)), OUT)
    assert got["event_id"].to_pylist() == ["e1", "e0"]


def test_users_of_string_and_large_string_parts_land_whole_and_in_byte_order(monkeypatch: pytest.MonkeyPatch) -> None:
    # User ids stay plain strings in the parts (nearly unique within a file) and are encoded once, in their range of
    # users: a user in several parts, of string and large_string columns, comes out as itself; a null user stays
    # null and sorts last.
    monkeypatch.setattr(event_order, "RANGE_ROWS", 2)

    def part(users: list[str | None], user_type: pa.DataType, priority: int) -> object:
        table = _events_of(pa.array(users, user_type))
        ids = pa.array([f"e{priority}{i}" for i in range(len(users))])
        return part_from_table(table.set_column(0, "event_id", ids), priority=priority)

    first, second = ["b", "a", None, "c"], ["c", "b", "d"]
    ordered = event_order.order_events([part(first, pa.string(), 0), part(second, pa.large_string(), 1)], workers=2)
    assert ordered.ranges > 1
    got = pa.Table.from_batches(list(event_order.batches(ordered, OUT, 3)), OUT)
    assert got["user_id"].to_pylist() == ["a", "b", "b", "c", "c", "d", None]
    assert got["event_id"].to_pylist() == ["e01", "e00", "e11", "e10", "e03", "e12", "e02"]


def _events_of(users: list[str] | pa.Array) -> pa.Table:
    """One event per user id, a microsecond apart (event ids e0000, e0001, ...), everything else alike."""
    n = len(users)
    return pa.table({"event_id": [f"e{i:04d}" for i in range(n)], "user_id": users, "track_id": ["t"] * n,
                     "artist_id": ["a"] * n, "played_at": pa.array([1_768_348_800_000_000 + i for i in range(n)],
                                                                    pa.timestamp("us", tz="UTC")),
                     "ms_played": list(range(n)), "skipped": [False] * n, "country": ["DE"] * n,
                     "device": ["d"] * n})


def _ids(rng: np.random.Generator, prefix: str, n: int) -> list[str]:
    alphabet = ["a", "b", "z", "\u00e9", "\u3000", "A", "0"]
    return [prefix + "".join(rng.choice(alphabet, size=int(rng.integers(0, 12)))) for _ in range(n)]


@pytest.mark.parametrize("string_type", [pa.string(), pa.large_string()])  # a day of more than 2 GiB of ids
@pytest.mark.parametrize("prefix", ["", "spotify:user:"])
def test_prefix_keys_follow_the_byte_order_of_the_ids(prefix: str, string_type: pa.DataType) -> None:
    # Ranges of users are cut between key values, so a user must never sort before a user of a smaller key: keys
    # are non-decreasing in byte order, equal for equal ids, also for ids shorter than 8 bytes, after a prefix every
    # id shares (where all the difference lies) and in a slice of a larger array.
    rng = np.random.default_rng(5)
    ids = sorted(_ids(rng, prefix, 3000) + _ids(rng, prefix, 50), key=str.encode)
    arr = pa.array(["x", *ids, None], string_type).slice(1, len(ids) + 1)
    keys = event_order._prefix_keys(arr)[:-1]
    assert (np.diff(keys.astype(np.float64)) >= 0).all() and (keys[1:] >= keys[:-1]).all()
    same = np.array([a == b for a, b in itertools.pairwise(ids)])
    assert (keys[1:][same] == keys[:-1][same]).all()
    assert len(np.unique(keys)) > 100  # the shared prefix is skipped, so the keys tell users apart


@pytest.mark.parametrize("cuts", [[], [5], [1 << 63, (1 << 63) + 1, (1 << 63) + (1 << 48)], [3, 1 << 40, 2**64 - 2]])
def test_ranges_of_keys_are_those_a_binary_search_gives(cuts: list[int]) -> None:
    # The table of top bits must agree with np.searchsorted everywhere: on the cuts, next to them, in a cut's top
    # bits, at both ends of the key space, and for keys of a strided view.
    rng = np.random.default_rng(11)
    cut = np.array(cuts, dtype=np.uint64)
    near = [c + d for c in cuts for d in (-1, 0, 1, 1 << 47, -(1 << 47)) if 0 <= c + d < 2**64]
    keys = np.concatenate([rng.integers(0, 2**63, 5000, dtype=np.int64).view(np.uint64) * np.uint64(2),
                           np.array([0, 2**64 - 1, *near], dtype=np.uint64)])
    for k in (keys, keys[::2]):
        got = event_order._ranges_of(k, cut)
        assert got.dtype == np.int16 and np.array_equal(got, np.searchsorted(cut, k, side="right"))


def test_the_days_user_bounds_are_the_smallest_and_largest_id_of_all_parts() -> None:
    # Each part takes its own bounds as it is read; the day's (from which the prefix keys skip the bytes every id
    # shares) are theirs combined, parts without a user (all null, or empty) included.
    users = [["spotify:user:b", None, "spotify:user:\u00e9"], ["spotify:user:a\u3000", "spotify:user:c"], [None],
             []]
    parts = [part_from_table(_events_of(pa.array(u, pa.string())), priority=0) for u in users]
    assert parts[2].user_bounds == (None, None) and parts[3].user_bounds == (None, None)
    every = [u.encode() for us in users for u in us if u is not None]
    assert event_order._day_bounds(parts) == (min(every), max(every))
    assert event_order._day_bounds(parts[2:]) == (None, None)


def test_ids_sharing_a_long_prefix_still_make_several_ranges_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_order, "RANGE_ROWS", 100)
    rng = np.random.default_rng(9)
    users = _ids(rng, "spotify:user:", 1000)
    n = len(users)
    ordered = event_order.order_events([part_from_table(_events_of(users), priority=0)], workers=2)
    assert ordered.ranges >= 5
    got = pa.Table.from_batches(list(event_order.batches(ordered, OUT, 64)), OUT)
    expected = sorted(range(n), key=lambda i: (users[i].encode(), i))
    assert got["event_id"].to_pylist() == [f"e{i:04d}" for i in expected]


def test_a_user_id_that_is_not_utf8_is_ordered_by_its_bytes() -> None:
    # Typed Parquet is read without a UTF-8 check, and the smallest and largest ids give the shared prefix: an id
    # with a byte such as 0xff (it sorts last) must be ordered, not stop the day.
    users = pa.array([b"spotify:user:\xff", b"spotify:user:a", b"spotify:user:b\xfe", b"spotify:user:a"],
                     pa.binary()).view(pa.string())
    keys = event_order._prefix_keys(users)
    assert keys[1] == keys[3] < keys[2] < keys[0]
    ordered = event_order.order_events([part_from_table(_events_of(users), priority=0)], workers=2)
    got = pa.Table.from_batches(list(event_order.batches(ordered, OUT, 3)), OUT)
    assert got["event_id"].to_pylist() == ["e0001", "e0003", "e0002", "e0000"]


def test_a_value_no_landed_row_has_never_reaches_a_row_group() -> None:
    # A part's dictionaries keep the values of its quarantined rows (a 300-byte device, a bad country), and a dropped
    # duplicate may carry values no kept row has: each row group's dictionary holds exactly its own rows' values.
    rows = [{"event_id": f"e{i}", "user_id": f"u{i % 7}", "track_id": f"t{i % 5}", "artist_id": f"a{i % 3}",
             "played_at": 1_768_348_800_000_000 + i, "ms_played": 1, "skipped": False,
             "country": ["DE", "FR"][i % 2], "device": f"d{i % 4}"} for i in range(60)]
    schema = pa.schema([f if f.name != "played_at" else pa.field("played_at", pa.int64()) for f in SCHEMA])

    def part(rows: list[dict], priority: int) -> Part:
        table = pa.Table.from_pylist(rows, schema=schema)
        return part_from_table(table.set_column(4, "played_at", table["played_at"].cast(pa.timestamp("us", tz="UTC"))),
                               priority=priority)

    exports = part(rows, priority=0)
    quarantined_only = {"track_id": "bad", "artist_id": "bad", "country": "usa", "device": "x" * 300}
    for name, value in quarantined_only.items():
        exports.values[name] = pa.concat_arrays([pa.array([value]), exports.values[name]])
        exports.codes[name] = exports.codes[name] + 1  # the rows keep their values, now one entry further on
    # A recently-played copy of play e0 (same user, track, time): the export row wins, its values are dropped.
    duplicate_only = {"artist_id": "a-dup", "country": "GB", "device": "d-dup"}
    recent = part([{**rows[0], "event_id": "rp-0", **duplicate_only}], priority=1)
    ordered = event_order.order_events([exports, recent], workers=2)
    got = list(event_order.batches(ordered, OUT, 16))
    table_out = pa.Table.from_batches(got, OUT)
    assert table_out.num_rows == 60 and "rp-0" not in table_out["event_id"].to_pylist()
    for name in ("track_id", "artist_id", "country", "device"):
        for batch in got:
            column = batch.column(batch.schema.get_field_index(name))
            assert set(column.dictionary.to_pylist()) == set(column.to_pylist()) - {None}
            assert quarantined_only[name] not in column.dictionary.to_pylist()
            assert duplicate_only.get(name) not in column.dictionary.to_pylist()
