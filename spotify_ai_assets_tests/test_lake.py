"""The lake: one Parquet file per partition, whole-partition replacement, safe paths, lock-free parallel writers."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spotify_ai_assets.core.kernel.lake import PART_FILE, Lake, LakePathError, partition_dirname
from spotify_ai_assets.core.kernel.query import scalar, sql_to_arrow

JOIN_TIMEOUT_S = 120  # a hang guard for child processes, not a speed assertion


def _process_context() -> mp.context.BaseContext:
    """Fresh, separate processes that share no state with pytest's.

    `forkserver` children come from a clean server process, just like `spawn` children, but the server imports
    this module (and with it dagster, via the package `__init__`) once instead of once per child.
    """
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["spotify_ai_assets.core.kernel.lake", "spotify_ai_assets.core.kernel.query", __name__])
    return ctx


def _table(n: int, tag: str, start: int = 0) -> pa.Table:
    return pa.table({
        "id": pa.array(range(start, start + n), pa.int64()),
        "tag": pa.array([tag] * n),
        "value": pa.array([float(i) * 0.5 for i in range(start, start + n)]),
    })


def _files_under(root: Path) -> list[Path]:
    return [Path(d, f) for d, _, files in os.walk(root) for f in files]


def _tmp_files(root: Path) -> list[Path]:
    return [p for p in _files_under(root) if p.name.endswith(".tmp")]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


# ---- paths ---------------------------------------------------------------------------------------


def test_partition_dirname_is_hive_style_for_dates_and_key_otherwise() -> None:
    assert partition_dirname("2026-01-14") == "date=2026-01-14"
    assert partition_dirname("weekly-2026W03") == "key=weekly-2026W03"
    assert partition_dirname("2026-01") == "key=2026-01"


def test_one_parquet_file_per_partition_under_the_root(lake: Lake, tmp_path: Path) -> None:
    lake.write("plays/daily", _table(5, "a"), partition="2026-01-14")
    lake.write("plays/daily", _table(3, "b"), partition="2026-01-15")
    lake.write("snapshot", _table(2, "c"))
    root = tmp_path / "lake"
    files = sorted(p.relative_to(root).as_posix() for p in _files_under(root))
    assert files == [
        f"plays/daily/date=2026-01-14/{PART_FILE}",
        f"plays/daily/date=2026-01-15/{PART_FILE}",
        f"snapshot/{PART_FILE}",
    ]
    assert lake.path("plays/daily", "2026-01-14") == str(root / "plays/daily/date=2026-01-14" / PART_FILE)


@pytest.mark.parametrize("table", ["../x", "a/../../b", "..", "/etc", "a//b", "", ".hidden", "a\\b", "a b", "a/.."])
def test_table_names_that_could_escape_the_root_are_rejected(lake: Lake, tmp_path: Path, table: str) -> None:
    with pytest.raises(LakePathError):
        lake.write(table, _table(1, "x"))
    for call in (lambda: lake.path(table), lambda: lake.exists(table), lambda: lake.partitions(table)):
        with pytest.raises(LakePathError):
            call()
    assert not (tmp_path / "lake").exists() or _files_under(tmp_path / "lake") == []
    assert not (tmp_path / "x").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("partition", ["../../etc", "..", "a/b", "../x", "x/../../y", "2026-01-14/../.."])
def test_partition_names_that_could_escape_the_root_are_rejected(lake: Lake, tmp_path: Path, partition: str) -> None:
    with pytest.raises(LakePathError):
        lake.write("plays", _table(1, "x"), partition=partition)
    for call in (lambda: lake.path("plays", partition), lambda: lake.read("plays", partition),
                 lambda: lake.delete("plays", partition), lambda: lake.row_count("plays", partition)):
        with pytest.raises(LakePathError):
            call()
    assert _files_under(tmp_path) == []


def test_lake_path_error_is_a_value_error() -> None:
    assert issubclass(LakePathError, ValueError)


def test_uri_is_a_file_uri_for_local_roots(lake: Lake, tmp_path: Path) -> None:
    uri = lake.uri("plays", "2026-01-14")
    assert uri == f"file://{tmp_path / 'lake'}/plays/date=2026-01-14/{PART_FILE}"
    result = lake.write("plays", _table(4, "a"), partition="2026-01-14")
    assert result.uri == uri
    assert result.rows == 4
    assert result.bytes == (tmp_path / "lake/plays/date=2026-01-14" / PART_FILE).stat().st_size > 0


# ---- writes and reads ----------------------------------------------------------------------------


def test_write_then_read_round_trips(lake: Lake) -> None:
    data = _table(100, "alpha")
    lake.write("plays", data, partition="2026-01-14")
    assert lake.read("plays", "2026-01-14").equals(data)
    assert lake.read("plays", "2026-01-14", columns=["id"]).column("id").to_pylist() == list(range(100))
    assert lake.row_count("plays", "2026-01-14") == 100
    # Unpartitioned tables too.
    lake.write("dims/artists", data.slice(0, 7))
    assert lake.read("dims/artists").equals(data.slice(0, 7))


def test_dictionary_encoded_strings_are_stored_as_plain_strings(lake: Lake) -> None:
    # The ingestion hands its ids over dictionary-encoded; readers must get plain strings back, nulls included.
    plain = pa.table({"user_id": ["b", "a", None, "b"], "ts": pa.array([1, 2, 3, 4], pa.timestamp("us", tz="UTC")),
                      "n": [1, 2, 3, 4]})
    encoded = plain.set_column(0, "user_id", plain["user_id"].dictionary_encode())
    written = lake.write_batches("t", pa.RecordBatchReader.from_batches(encoded.schema, encoded.to_batches()),
                                 "2026-01-01")
    assert written.schema == plain.schema
    back = lake.read("t", "2026-01-01")
    assert back.schema == plain.schema and back.equals(plain)
    assert pq.read_schema(lake.path("t", "2026-01-01")) == plain.schema
    assert scalar("SELECT count(DISTINCT user_id) FROM t", {"t": lake.scan("t", ["2026-01-01"])}) == 2


def test_rewriting_a_partition_replaces_it_never_duplicates(lake: Lake, tmp_path: Path) -> None:
    lake.write("plays", _table(50, "first"), partition="2026-01-14")
    second = _table(20, "second", start=1_000)
    lake.write("plays", second, partition="2026-01-14")
    part_dir = tmp_path / "lake/plays/date=2026-01-14"
    assert [p.name for p in part_dir.iterdir()] == [PART_FILE]
    assert lake.read("plays", "2026-01-14").equals(second)
    assert lake.row_count("plays", "2026-01-14") == 20
    assert scalar("SELECT count(*) FROM t", {"t": lake.dataset("plays")}) == 20
    assert _tmp_files(tmp_path) == []


def test_partitions_are_listed_sorted_and_only_materialized_tables_count(lake: Lake) -> None:
    assert lake.partitions("plays") == []
    for key in ["2026-01-15", "2026-01-03", "2026-01-14", "top-artists", "2025-12-31"]:
        lake.write("plays", _table(1, key), partition=key)
    assert lake.partitions("plays") == sorted(["2026-01-15", "2026-01-03", "2026-01-14", "top-artists", "2025-12-31"])
    assert lake.partitions("other") == []


def test_exists_and_delete(lake: Lake) -> None:
    assert not lake.exists("plays", "2026-01-14")
    assert lake.row_count("plays", "2026-01-14") is None
    lake.delete("plays", "2026-01-14")  # deleting a missing partition is a no-op
    lake.write("plays", _table(3, "a"), partition="2026-01-14")
    lake.write("plays", _table(4, "b"), partition="2026-01-15")
    assert lake.exists("plays", "2026-01-14")
    lake.delete("plays", "2026-01-14")
    assert not lake.exists("plays", "2026-01-14")
    assert lake.exists("plays", "2026-01-15")
    assert lake.row_count("plays", "2026-01-15") == 4
    # A deleted partition drops out of the table's dataset.
    assert lake.dataset("plays").to_table().num_rows == 4


def test_dataset_over_several_partitions_and_duckdb_aggregate(lake: Lake) -> None:
    days = {"2026-01-12": 10, "2026-01-13": 20, "2026-01-14": 30}
    for i, (day, n) in enumerate(days.items()):
        lake.write("plays", _table(n, day, start=i * 100), partition=day)
    out = sql_to_arrow("SELECT tag, count(*) AS n, sum(value) AS s FROM plays GROUP BY tag ORDER BY tag",
                       {"plays": lake.dataset("plays")})
    assert out.column("tag").to_pylist() == list(days)
    assert out.column("n").to_pylist() == list(days.values())
    expected_sums = [sum(j * 0.5 for j in range(i * 100, i * 100 + n)) for i, n in enumerate(days.values())]
    assert out.column("s").to_pylist() == pytest.approx(expected_sums)
    # A subset of partitions; missing keys are ignored, parameters bind.
    subset = lake.dataset("plays", ["2026-01-13", "2026-01-14", "2026-01-20"])
    assert scalar("SELECT count(*) FROM p WHERE id >= ?", {"p": subset}, [200]) == 30
    assert scalar("SELECT count(*) FROM p", {"p": subset}) == 50
    with pytest.raises(FileNotFoundError):
        lake.dataset("plays", ["2030-01-01"])
    with pytest.raises(FileNotFoundError):
        lake.dataset("never-written")


def test_no_leftover_temp_files_after_many_writes(lake: Lake, tmp_path: Path) -> None:
    for i in range(10):
        lake.write("plays", _table(i + 1, "x"), partition=f"2026-01-{i + 1:02d}")
        lake.write("plays", _table(i + 2, "y"), partition=f"2026-01-{i + 1:02d}")
    assert _tmp_files(tmp_path) == []
    assert len(_files_under(tmp_path)) == 10
    assert [lake.row_count("plays", f"2026-01-{i + 1:02d}") for i in range(10)] == [i + 2 for i in range(10)]


# ---- concurrency (separate processes) ------------------------------------------------------------

WRITERS = 4
PARTS_PER_WRITER = 10


def _partition_writer(root: str, worker: int, barrier: Any, results: Any) -> None:
    """Child process: write 10 partitions of the shared table, reading each back through DuckDB."""
    lake = Lake(root)
    barrier.wait(timeout=60)
    seen = []
    for j in range(PARTS_PER_WRITER):
        key = f"w{worker}-p{j:02d}"
        n = 50 + worker * 10 + j
        lake.write("shared/plays", _table(n, key, start=worker * 10_000 + j * 100), partition=key)
        own = scalar("SELECT count(*) FROM t WHERE tag = ?", {"t": lake.dataset("shared/plays", [key])}, [key])
        everything = scalar("SELECT count(*) FROM t", {"t": lake.dataset("shared/plays")})
        seen.append((own, n, everything))
    results.put((worker, seen))


def test_parallel_processes_write_partitions_of_one_table_without_blocking(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    ctx = _process_context()
    barrier = ctx.Barrier(WRITERS)
    results = ctx.Queue()
    procs = [ctx.Process(target=_partition_writer, args=(root, w, barrier, results)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    collected = {}
    try:
        for _ in range(WRITERS):
            worker, seen = results.get(timeout=JOIN_TIMEOUT_S)
            collected[worker] = seen
    except queue.Empty:
        pytest.fail(f"only {sorted(collected)} of {WRITERS} writers reported")
    finally:
        for p in procs:
            p.join(JOIN_TIMEOUT_S)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    assert sorted(collected) == list(range(WRITERS))
    for worker, seen in collected.items():
        assert [own for own, _, _ in seen] == [n for _, n, _ in seen], worker
        # Each DuckDB read saw at least the rows this worker had written so far.
        for j, (_, _, everything) in enumerate(seen):
            assert everything >= sum(n for _, n, _ in seen[: j + 1])

    lake = Lake(root)
    keys = [f"w{w}-p{j:02d}" for w in range(WRITERS) for j in range(PARTS_PER_WRITER)]
    assert lake.partitions("shared/plays") == sorted(keys)
    for w in range(WRITERS):
        for j in range(PARTS_PER_WRITER):
            assert lake.row_count("shared/plays", f"w{w}-p{j:02d}") == 50 + w * 10 + j
    expected_total = sum(50 + w * 10 + j for w in range(WRITERS) for j in range(PARTS_PER_WRITER))
    assert scalar("SELECT count(*) FROM t", {"t": lake.dataset("shared/plays")}) == expected_total
    assert scalar("SELECT count(DISTINCT id) FROM t", {"t": lake.dataset("shared/plays")}) == expected_total
    assert _tmp_files(tmp_path) == []


REWRITES = 30
VERSION_ROWS = {"A": 3_000, "B": 4_500}


def _version(tag: str) -> pa.Table:
    return _table(VERSION_ROWS[tag], tag, start=0 if tag == "A" else 50_000)


def _same_partition_writer(root: str, tag: str, barrier: Any) -> None:
    lake = Lake(root)
    data = _version(tag)
    barrier.wait(timeout=60)
    for _ in range(REWRITES):
        lake.write("hot", data, partition="2026-01-14")


def _check_version(table: pa.Table) -> str:
    tags = set(table.column("tag").to_pylist())
    assert len(tags) == 1, f"mixed versions {tags}"
    tag = tags.pop()
    assert table.equals(_version(tag)), f"version {tag} read back with different content"
    return tag


def test_concurrent_rewrites_of_one_partition_never_corrupt_it(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    lake = Lake(root)
    lake.write("hot", _version("A"), partition="2026-01-14")
    ctx = _process_context()
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_same_partition_writer, args=(root, tag, barrier)) for tag in VERSION_ROWS]
    for p in procs:
        p.start()
    barrier.wait(timeout=60)
    # Read while the writers race; every read must be one whole version.
    while any(p.is_alive() for p in procs):
        _check_version(lake.read("hot", "2026-01-14"))
        assert lake.row_count("hot", "2026-01-14") in VERSION_ROWS.values()
    for p in procs:
        p.join(JOIN_TIMEOUT_S)
    assert [p.exitcode for p in procs] == [0, 0]
    final = _check_version(lake.read("hot", "2026-01-14"))
    assert lake.row_count("hot", "2026-01-14") == VERSION_ROWS[final]
    assert pq.ParquetFile(lake.path("hot", "2026-01-14")).metadata.num_rows == VERSION_ROWS[final]
    assert [p.name for p in (tmp_path / "lake/hot/date=2026-01-14").iterdir()] == [PART_FILE]
    assert _tmp_files(tmp_path) == []


def test_partition_folders_never_become_columns_in_sql(tmp_path: Path) -> None:
    # A table whose own columns are named like the lake's folders (`key=...`, `date=...`).
    lake = Lake(str(tmp_path / "lake"))
    lake.write("features", pa.table({"track_id": ["a"], "key": pa.array([9], pa.int64())}), "4uLU6hMCjMI75M1A2tKUQC")
    lake.write("daily", pa.table({"n": [1]}), "2026-01-14")
    features = sql_to_arrow("SELECT * FROM f", {"f": lake.scan("features")})
    assert features.column_names == ["track_id", "key"]
    assert features["key"].type == pa.int64() and features["key"].to_pylist() == [9]
    assert sql_to_arrow("SELECT * FROM d", {"d": lake.scan("daily")}).column_names == ["n"]


def test_an_unpartitioned_table_is_scanned_whole(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    lake.write("all_tracks", pa.table({"id": [1, 2, 3]}))
    assert scalar("SELECT sum(id) FROM t", {"t": lake.scan("all_tracks")}) == 6
    assert lake.read("all_tracks").num_rows == 3


def test_replace_files_makes_the_set_the_partitions_whole_content(lake: Lake) -> None:
    lake.replace_files("reports/per_artist", {"a.html": b"A1", "b.html": b"B1"}, "2026-02-01")
    uris = lake.replace_files("reports/per_artist", {"b.html": b"B2", "c.html": b"C2"}, "2026-02-01")
    assert lake.list_files("reports/per_artist", "2026-02-01") == ["b.html", "c.html"]  # a.html left the set
    assert lake.read_file("reports/per_artist", "b.html", "2026-02-01") == b"B2"
    assert uris["c.html"].endswith("reports/per_artist/date=2026-02-01/c.html")
    assert lake.list_files("reports/per_artist", "2026-02-02") == []
