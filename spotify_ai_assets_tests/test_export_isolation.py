"""Issue 22 (items 3 and 6): each export file is read on its own, and no record, byte or file can fail the day.

Every test here failed on the ingestion before per-file isolation (one DuckDB union of all files): a wrong-typed
file poisoned the good ones or failed the day, names with glob characters were expanded, one bad byte quarantined a
whole file, huge ids landed, a record without `event_id` was written, a 50 MB line exhausted DuckDB's 2 GB limit.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spotify_ai_assets.core.ingestion.listening_events import IngestResult, export_files, ingest_day
from spotify_ai_assets.core.kernel.lake import Lake

DAY = dt.date(2026, 1, 14)
TRACK = "4uLU6hMCjMI75M1A2tKUQC"
ARTIST = "0OdUWJ0sBjDrqHygGUXeCF"


def _row(n: int, **overrides: object) -> dict:
    row = {"event_id": f"e{n:04d}", "user_id": f"user{n % 5}", "track_id": TRACK, "artist_id": ARTIST,
           "played_at": dt.datetime(2026, 1, 14, n % 24, n % 60, tzinfo=dt.UTC), "ms_played": 1000 + n,
           "skipped": n % 2 == 0, "country": "DE", "device": "smartphone"}
    row.update(overrides)
    return row


def _json_line(row: dict) -> str:
    return json.dumps({**row, "played_at": row["played_at"].isoformat().replace("+00:00", "Z")})


def _good_parquet(path: Path, first: int, n: int) -> None:
    pq.write_table(pa.Table.from_pylist([_row(i) for i in range(first, first + n)]), path)


def _ingest(tmp_path: Path, files: list[str]) -> tuple[IngestResult, pa.Table]:
    lake = Lake(str(tmp_path / "lake"))
    result = ingest_day(files, DAY, lambda b: lake.write_batches("listening_events", b, DAY.isoformat()))
    events = lake.read("listening_events", DAY.isoformat())
    # Records in = landed + quarantined + duplicates, whatever the input.
    assert events.num_rows + result.quarantine.num_rows + result.duplicates == result.export_records
    return result, events


def _reasons(result: IngestResult) -> set[tuple[str, str, str]]:
    return {(Path(r["record_ref"].rsplit(":", 1)[0]).name, r["field"], r["reason"])
            for r in result.quarantine.to_pylist()}


@pytest.fixture()
def exports(tmp_path: Path) -> Path:
    d = tmp_path / "exports"
    d.mkdir()
    return d


def test_a_file_whose_skipped_is_int64_is_quarantined_and_good_files_are_untouched(tmp_path: Path,
                                                                                    exports: Path) -> None:
    _good_parquet(exports / "00.parquet", 0, 40)
    _good_parquet(exports / "01.parquet", 40, 40)
    pq.write_table(pa.Table.from_pylist([{**_row(i), "skipped": i % 2} for i in range(80, 90)]),
                   exports / "02.parquet")
    result, events = _ingest(tmp_path, export_files(exports))
    assert events.num_rows == 80  # every good row of the good files
    assert _reasons(result) == {("02.parquet", "skipped", "column is int64 in this file, expected a boolean")}
    assert result.quarantine.num_rows == 10
    # The payload is kept, with the file's own value.
    assert json.loads(result.quarantine["raw"][0].as_py())["skipped"] == "0"


def test_a_file_whose_country_is_a_list_is_quarantined_and_the_day_goes_on(tmp_path: Path, exports: Path) -> None:
    _good_parquet(exports / "00.parquet", 0, 30)
    pq.write_table(pa.Table.from_pylist([{**_row(i), "country": ["DE"]} for i in range(30, 35)]),
                   exports / "01.parquet")
    result, events = _ingest(tmp_path, export_files(exports))
    assert events.num_rows == 30
    (name, fld, reason), = _reasons(result)
    assert (name, fld) == ("01.parquet", "country") and reason.startswith("column is list<")


def test_castable_columns_of_one_file_are_checked_value_by_value_without_touching_the_others(
        tmp_path: Path, exports: Path) -> None:
    _good_parquet(exports / "00.parquet", 0, 20)
    # Text timestamps and text booleans: each value is checked by the text rules, in this file only.
    rows = [{**_row(i), "played_at": f"2026-01-14T03:{i:02d}:00Z", "skipped": "true"} for i in range(20, 25)]
    rows[0]["played_at"] = "not a time"
    pq.write_table(pa.Table.from_pylist(rows), exports / "01.parquet")
    result, events = _ingest(tmp_path, export_files(exports))
    assert events.num_rows == 24
    assert _reasons(result) == {("01.parquet", "played_at", "not an ISO-8601 timestamp")}


@pytest.mark.parametrize("name", ["events-*.jsonl", "events-?.jsonl", "events-[0].jsonl"])
def test_file_names_with_glob_characters_are_read_literally(tmp_path: Path, exports: Path, name: str) -> None:
    (exports / name).write_text("\n".join(_json_line(_row(i)) for i in range(3)) + "\n")
    # Files the pattern would match if it were expanded as a glob.
    (exports / "events-0.jsonl").write_text("\n".join(_json_line(_row(i)) for i in range(10, 15)) + "\n")
    (exports / "events-x.jsonl").write_text('{"broken\n')
    result, _ = _ingest(tmp_path, [str(exports / name)])
    assert result.export_records == 3
    assert result.quarantine.num_rows == 0


def test_one_byte_that_is_not_utf8_quarantines_its_line_not_its_file(tmp_path: Path, exports: Path) -> None:
    lines = [_json_line(_row(i)).encode() for i in range(5)]
    lines.insert(2, _json_line(_row(99)).encode().replace(b"smartphone", b"smart\xffphone"))
    (exports / "00.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    result, events = _ingest(tmp_path, export_files(exports))
    assert sorted(events["event_id"].to_pylist()) == [f"e{i:04d}" for i in range(5)]
    (row,) = result.quarantine.to_pylist()
    assert row["record_ref"].endswith("00.jsonl:3") and row["field"] == "<line>"
    assert row["reason"].startswith("not valid UTF-8")
    assert "smart\\xffphone" in row["raw"]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_an_id_of_5_mb_is_quarantined_not_landed(tmp_path: Path, exports: Path, fmt: str) -> None:
    huge = "u" * (5 * 2**20)
    rows = [_row(0), _row(1, user_id=huge), _row(2, event_id="x" * 300), _row(3, device="d" * 1000)]
    if fmt == "jsonl":
        (exports / "00.jsonl").write_text("\n".join(_json_line(r) for r in rows) + "\n")
    else:
        pq.write_table(pa.Table.from_pylist(rows), exports / "00.parquet")
    result, events = _ingest(tmp_path, export_files(exports))
    assert events["event_id"].to_pylist() == ["e0000"]
    reasons = {(r["field"], r["reason"]) for r in result.quarantine.to_pylist()}
    if fmt == "jsonl":  # the 5 MB line is refused before parsing, the others by the field bounds
        size = len(_json_line(rows[1]).encode())
        assert ("<line>", f"record is {size:,} bytes, longer than the 65,536-byte limit for one event "
                          "(not parsed; its start is kept)") in reasons
    else:
        assert ("user_id", "longer than 256 bytes") in reasons
    assert {("event_id", "longer than 256 bytes"), ("device", "longer than 256 bytes")} <= reasons
    # The quarantine keeps the start of a huge payload, not all of it.
    assert max(len(r) for r in result.quarantine["raw"].to_pylist()) < 10_000


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_record_without_event_id_is_quarantined_before_the_partition_is_written(
        tmp_path: Path, exports: Path, fmt: str) -> None:
    rows = [_row(0), _row(1, event_id=None), _row(2, event_id=" ")]
    if fmt == "jsonl":
        lines = [_json_line(r) for r in rows]
        lines[1] = json.dumps({k: v for k, v in json.loads(lines[1]).items() if k != "event_id"})
        (exports / "00.jsonl").write_text("\n".join(lines) + "\n")
    else:
        pq.write_table(pa.Table.from_pylist(rows), exports / "00.parquet")
    result, events = _ingest(tmp_path, export_files(exports))
    assert events["event_id"].to_pylist() == ["e0000"]
    assert [(r["field"], r["reason"]) for r in result.quarantine.to_pylist()] == [("event_id", "missing")] * 2


def test_a_50_mb_valid_json_line_is_quarantined_with_a_reason_and_the_day_goes_on(tmp_path: Path,
                                                                                exports: Path) -> None:
    big = json.dumps({**json.loads(_json_line(_row(7))), "padding": "p" * (50 * 2**20)})
    with (exports / "00.jsonl").open("w") as fh:
        fh.write(_json_line(_row(0)) + "\n" + big + "\n" + _json_line(_row(1)) + "\n")
    result, events = _ingest(tmp_path, export_files(exports))
    assert sorted(events["event_id"].to_pylist()) == ["e0000", "e0001"]
    (row,) = result.quarantine.to_pylist()
    assert row["record_ref"].endswith("00.jsonl:2")
    assert row["reason"].startswith(f"record is {len(big):,} bytes")
    assert row["raw"].startswith('{"event_id": "e0007"')


def test_unreadable_and_half_broken_files_are_one_record_each_and_land_nothing(tmp_path: Path,
                                                                               exports: Path) -> None:
    _good_parquet(exports / "00.parquet", 0, 10)
    (exports / "01.parquet").write_bytes(b"PAR1 not parquet at all")
    whole = exports / "02.parquet"
    _good_parquet(whole, 10, 2000)
    data = bytearray(whole.read_bytes())
    data[200:260] = b"\x00" * 60  # a page in the middle is garbage; the footer is intact
    whole.write_bytes(bytes(data))
    result, events = _ingest(tmp_path, export_files(exports))
    assert sorted(events["event_id"].to_pylist()) == [f"e{i:04d}" for i in range(10)]
    assert {(n, f) for n, f, _ in _reasons(result)} == {("01.parquet", "<file>"), ("02.parquet", "<file>")}


# Values at the edges of every rule: both forms of the rules must give each the same verdict.
EDGE_ROWS = [
    _row(0), _row(1, user_id=" \u3000"), _row(2, user_id="\tuser"), _row(3, user_id="\u00e9" * 129),
    _row(4, user_id="\u00e9" * 128), _row(5, user_id=None), _row(6, track_id="4uLU6hMCjMI75M1A2tKUQ\u00e9"),
    _row(7, track_id="4uLU6hMCjMI75M1A2tKUQCx"), _row(8, track_id=None), _row(9, artist_id=None),
    _row(10, artist_id="short"), _row(11, played_at=dt.datetime(2026, 1, 13, 23, 59, 59, 999999, tzinfo=dt.UTC)),
    _row(12, played_at=dt.datetime(2026, 1, 15, tzinfo=dt.UTC)), _row(13, played_at=None),
    _row(14, ms_played=-1), _row(15, ms_played=86_400_000), _row(16, ms_played=86_400_001),
    _row(17, ms_played=None), _row(18, skipped=None), _row(19, country="de"), _row(20, country="DEU"),
    _row(21, country=None), _row(22, device=" "), _row(23, device=None), _row(24, event_id="\u2003"),
    _row(25, event_id=""), _row(26, device="d" * 256), _row(27, device="d" * 257), _row(28, user_id="\u200buser"),
]


def test_typed_and_text_rules_give_every_value_the_same_verdict(tmp_path: Path, exports: Path) -> None:
    typed = exports / "typed"
    text = exports / "text"
    json_dir = exports / "json"
    for d in (typed, text, json_dir):
        d.mkdir()
    pq.write_table(pa.Table.from_pylist(EDGE_ROWS), typed / "00.parquet")
    # The same rows with played_at as text: this file goes through the text rules.
    as_text = [{**r, "played_at": None if r["played_at"] is None else r["played_at"].isoformat()} for r in EDGE_ROWS]
    pq.write_table(pa.Table.from_pylist(as_text), text / "00.parquet")
    (json_dir / "00.jsonl").write_text("\n".join(json.dumps({k: v for k, v in r.items() if v is not None})
                                                 for r in as_text) + "\n")

    def verdicts(d: Path) -> dict[str, tuple[str, str]]:
        result, events = _ingest(tmp_path / d.name, export_files(d))
        out = {e: ("", "") for e in events["event_id"].to_pylist()}
        for r in result.quarantine.to_pylist():
            out[json.loads(r["raw"]).get("event_id") or f"line {r['record_ref'].rsplit(':', 1)[1]}"] = (
                r["field"], r["reason"])
        return out

    from_typed = verdicts(typed)
    assert from_typed == verdicts(text)
    # JSON omits null fields instead of writing them; every verdict is the same.
    assert from_typed == verdicts(json_dir)
    landed = {e for e, v in from_typed.items() if v == ("", "")}
    assert landed == {"e0000", "e0002", "e0004", "e0009", "e0015", "e0026", "e0028"}


def test_text_that_is_not_utf8_in_typed_parquet_is_quarantined_by_field_and_the_day_stays_readable(
        tmp_path: Path, exports: Path) -> None:
    # pyarrow reads Parquet strings without checking UTF-8; one such value landed would stop DuckDB and Polars from
    # reading the day's partition. A value starting with a space separator's lead byte (0xC2) must not stop the
    # "missing" rule's trim either.
    def text(values: list[bytes]) -> pa.Array:
        return pa.array(values, pa.binary()).view(pa.string())

    rows = [_row(i) for i in range(8)]
    columns = {name: [r[name] for r in rows] for name in rows[0]}
    columns["user_id"] = text([r["user_id"].encode() for r in rows[:5]] + [b"user\xff", b"\xc2", b"ok"])
    columns["event_id"] = text([r["event_id"].encode() for r in rows[:7]] + [b"e\xfe7"])
    columns["device"] = text([b"smartphone"] * 4 + [b"tv\xff", b"tv", b"tv", b"tv"])
    columns["track_id"] = text([TRACK.encode()] * 3 + [TRACK[:20].encode() + b"\xff\xfe"] + [TRACK.encode()] * 4)
    pq.write_table(pa.table(columns), exports / "typed.parquet")
    result, events = _ingest(tmp_path, export_files(exports))
    reason = "not valid UTF-8 (bytes as the file holds them)"
    assert _reasons(result) == {("typed.parquet", "track_id", reason), ("typed.parquet", "device", reason),
                                ("typed.parquet", "user_id", reason), ("typed.parquet", "event_id", reason)}
    assert sorted(r["record_ref"].rsplit(":", 1)[1] for r in result.quarantine.to_pylist()) == [
        "4", "5", "6", "7", "8"]
    assert events["event_id"].to_pylist() == ["e0000", "e0001", "e0002"]
    import duckdb

    path = str(tmp_path / "lake" / "listening_events" / f"date={DAY.isoformat()}" / "part-0.parquet")
    with duckdb.connect() as con:
        assert con.execute(f"SELECT count(DISTINCT user_id) FROM read_parquet('{path}')").fetchone() == (3,)
