"""The pure listening-events core (`core/ingestion/listening_events.py`): field-by-field validation, quarantine,
deduplication."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spotify_ai_assets.core.ingestion.listening_events import EVENTS_SCHEMA, IngestResult, export_files, ingest_day
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.records import QUARANTINE_SCHEMA

DAY = dt.date(2026, 1, 14)
TRACK = "4uLU6hMCjMI75M1A2tKUQC"
ARTIST = "0OdUWJ0sBjDrqHygGUXeCF"


def _good(n: int, **overrides: object) -> dict:
    row = {"event_id": f"e{n:03d}", "user_id": f"user{n % 3}", "track_id": TRACK, "artist_id": ARTIST,
           "played_at": f"2026-01-14T{n % 24:02d}:{n % 60:02d}:00Z", "ms_played": 1000 + n, "skipped": n % 2 == 0,
           "country": "DE", "device": "smartphone"}
    row.update(overrides)
    return row


# Each bad line, and the (field, reason) it must be quarantined with.
BAD_LINES: list[tuple[str, str, str]] = [
    ('{"user_id": "u", "track_id": ', "<line>", "malformed JSON"),
    (json.dumps(_good(50, user_id=" ")), "user_id", "missing"),
    (json.dumps({k: v for k, v in _good(51).items() if k != "track_id"}), "track_id", "missing"),
    (json.dumps(_good(52, track_id="spotify:track:123")), "track_id", "not a 22-character base62 Spotify id"),
    (json.dumps(_good(53, artist_id="nope")), "artist_id", "not a 22-character base62 Spotify id"),
    (json.dumps({k: v for k, v in _good(54).items() if k != "played_at"}), "played_at", "missing"),
    (json.dumps(_good(55, played_at="yesterday")), "played_at", "not an ISO-8601 timestamp"),
    (json.dumps(_good(56, played_at="2026-01-15T00:00:00Z")), "played_at", "outside the partition day"),
    (json.dumps({k: v for k, v in _good(57).items() if k != "ms_played"}), "ms_played", "missing"),
    (json.dumps(_good(58, ms_played="a while")), "ms_played", "not an integer"),
    (json.dumps(_good(59, ms_played=-5)), "ms_played", "out of range [0, 24h]"),
    (json.dumps(_good(60, skipped="maybe")), "skipped", "missing or not a boolean"),
    (json.dumps(_good(61, country="Germany")), "country", "not an ISO 3166-1 alpha-2 code"),
    (json.dumps(_good(62, device="")), "device", "missing"),
]


def _ingest(lake: Lake, files: list[str], **kwargs: object) -> tuple[IngestResult, pa.Table]:
    """Ingest into a real lake partition and read back what was stored."""
    result = ingest_day(files, DAY, lambda b: lake.write_batches("listening_events", b, DAY.isoformat()),
                        **kwargs)  # type: ignore[arg-type]
    return result, lake.read("listening_events", DAY.isoformat())


@pytest.fixture()
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


@pytest.fixture()
def landing(tmp_path: Path) -> Path:
    day_dir = tmp_path / "events" / f"date={DAY}"
    day_dir.mkdir(parents=True)
    lines = [json.dumps(_good(n)) for n in range(10)]
    for k, (line, _, _) in enumerate(BAD_LINES):
        lines.insert(2 + 2 * k, line)
    lines.insert(5, "")  # blank lines are not records
    (day_dir / "00.jsonl").write_text("\n".join(lines) + "\n")
    parquet_rows = [_good(n) for n in range(10, 16)] + [_good(3), _good(99, country="de")]
    pq.write_table(pa.Table.from_pylist([
        {**r, "played_at": dt.datetime.fromisoformat(r["played_at"])} for r in parquet_rows]), day_dir / "01.parquet")
    (day_dir / "_manifest.json").write_text("{}")
    (day_dir / ".02.jsonl.tmp").write_text(json.dumps(_good(70)))
    return day_dir


def test_only_finished_export_files_are_read(landing: Path) -> None:
    assert [Path(f).name for f in export_files(landing)] == ["00.jsonl", "01.parquet"]
    assert export_files(landing / "missing") == []


def test_every_bad_line_is_quarantined_with_its_file_line_field_and_reason(landing: Path, lake: Lake) -> None:
    result, _ = _ingest(lake, export_files(landing))
    q = result.quarantine
    assert q.schema == QUARANTINE_SCHEMA
    got = sorted(zip(q["field"].to_pylist(), q["reason"].to_pylist(), strict=True))
    expected = sorted([(f, r) for _, f, r in BAD_LINES] + [("country", "not an ISO 3166-1 alpha-2 code")])
    assert got == expected
    refs = dict(zip(q["raw"].to_pylist(), q["record_ref"].to_pylist(), strict=True))
    # The raw line is kept verbatim and points at its own line number in its own file.
    lines = (landing / "00.jsonl").read_text().split("\n")
    for line, _, _ in BAD_LINES:
        file, line_no = refs[line].rsplit(":", 1)
        assert Path(file).name == "00.jsonl"
        assert lines[int(line_no) - 1] == line
    parquet_bad = [ref for ref in q["record_ref"].to_pylist() if "01.parquet" in ref]
    assert [ref.rsplit(":", 1)[1] for ref in parquet_bad] == ["8"]


def test_good_records_land_once_and_every_record_is_accounted_for(landing: Path, lake: Lake) -> None:
    result, events = _ingest(lake, export_files(landing))
    assert events.schema == EVENTS_SCHEMA
    assert result.events.rows == events.num_rows
    assert result.rows_by_source == {"export": 16}
    # 10 JSON + 6 Parquet distinct plays; the Parquet copy of play 3 is a duplicate.
    assert sorted(events["event_id"].to_pylist()) == [f"e{n:03d}" for n in range(16)]
    assert result.duplicates == 1
    assert result.export_records == 10 + len(BAD_LINES) + 8
    assert events.num_rows + result.quarantine.num_rows + result.duplicates == result.export_records
    assert set(events["source"].to_pylist()) == {"export"}
    assert all(ts.date() == DAY for ts in events["played_at"].to_pylist())
    # Stored clustered by user, then time.
    order = list(zip(events["user_id"].to_pylist(), events["played_at"].to_pylist(), strict=True))
    assert order == sorted(order)
    # Min/max statistics where they can skip row groups (the sort key, time, source), not on unique ids.
    meta = pq.ParquetFile(lake.path("listening_events", DAY.isoformat())).metadata.row_group(0)
    stats = {meta.column(i).path_in_schema: meta.column(i).is_stats_set for i in range(meta.num_columns)}
    assert stats["user_id"] and stats["played_at"] and stats["source"] and not stats["event_id"]


def test_recently_played_fills_gaps_and_the_export_row_wins_a_tie(landing: Path, lake: Lake) -> None:
    overlap = _good(4)  # the same play as export line e004: the export row, with ms_played, must win
    recent = [
        {"user_id": overlap["user_id"], "track_id": TRACK, "artist_id": ARTIST,
         "played_at": dt.datetime.fromisoformat(overlap["played_at"]), "country": "DE"},
        {"user_id": "user9", "track_id": TRACK, "artist_id": ARTIST,
         "played_at": dt.datetime(2026, 1, 14, 23, 59, tzinfo=dt.UTC), "country": None},
    ]
    result, events = _ingest(lake, export_files(landing), recent=recent)
    rows = {(r["user_id"], r["played_at"]): r for r in events.to_pylist()}
    winner = rows[(overlap["user_id"], dt.datetime.fromisoformat(overlap["played_at"]))]
    assert (winner["source"], winner["ms_played"], winner["event_id"]) == ("export", overlap["ms_played"], "e004")
    added = rows[("user9", dt.datetime(2026, 1, 14, 23, 59, tzinfo=dt.UTC))]
    assert added["source"] == "recently_played" and added["ms_played"] is None
    assert added["event_id"].startswith("rp-")
    assert result.duplicates == 2  # the Parquet copy of e003 and the recently-played copy of e004
    assert result.rows_by_source == {"export": 16, "recently_played": 1}


def test_reingesting_the_same_files_replaces_the_partition_with_identical_bytes(landing: Path, lake: Lake) -> None:
    first, first_events = _ingest(lake, export_files(landing))
    first_bytes = Path(lake.path("listening_events", DAY.isoformat())).read_bytes()
    second, second_events = _ingest(lake, export_files(landing))
    assert second_events.equals(first_events)
    assert Path(lake.path("listening_events", DAY.isoformat())).read_bytes() == first_bytes
    assert first.quarantine.equals(second.quarantine)


def test_a_day_without_files_is_empty_not_an_error(lake: Lake) -> None:
    result, events = _ingest(lake, [])
    assert (events.num_rows, result.quarantine.num_rows, result.export_records) == (0, 0, 0)
    assert events.schema == EVENTS_SCHEMA


def test_a_json_file_much_larger_than_the_memory_limit_streams_through(tmp_path: Path, lake: Lake) -> None:
    # About 40 MB of lines against a 64 MB limit: read whole (as before), DuckDB ran out of memory.
    d = tmp_path / "exports"
    d.mkdir()
    with (d / "00.jsonl").open("w") as fh:
        for n in range(120_000):
            fh.write(json.dumps(_good(n % 1000, event_id=f"e{n:06d}", user_id=f"user{n}",
                                      device="smartphone " + "x" * 200)) + "\n")
    _, roomy = _ingest(lake, export_files(d))
    result, tight = _ingest(lake, export_files(d), memory_limit="64MB", threads=1)
    assert tight.num_rows == 120_000 and result.quarantine.num_rows == 0
    assert tight.equals(roomy)


def test_broken_files_and_bad_parquet_values_are_quarantined_and_the_day_goes_on(tmp_path: Path, lake: Lake) -> None:
    d = tmp_path / "exports"
    d.mkdir()
    (d / "00.jsonl").write_text(json.dumps(_good(1)) + "\n")
    (d / "01.jsonl").write_bytes(json.dumps(_good(2)).encode() + b"\n\xff\xfe not utf-8\n")  # one bad line
    (d / "02.parquet").write_bytes(b"PAR1 this is not really parquet")
    # Strings where timestamps and integers belong, and no `device` column in any Parquet file.
    rows = [{**{k: v for k, v in _good(n).items() if k != "device"}, "ms_played": str(_good(n)["ms_played"])}
            for n in (3, 4)]
    rows[1]["played_at"] = "garbage"
    rows[0]["ms_played"] = "1e30"
    pq.write_table(pa.Table.from_pylist(rows), d / "03.parquet")

    result, events = _ingest(lake, export_files(d))
    assert events["event_id"].to_pylist() == ["e001", "e002"]  # the good line of 01.jsonl lands
    q = {(Path(r["record_ref"].split(":")[0]).name, r["field"]) for r in result.quarantine.to_pylist()}
    assert q == {("01.jsonl", "<line>"), ("02.parquet", "<file>"), ("03.parquet", "ms_played"),
                 ("03.parquet", "played_at")}
    assert events.num_rows + result.quarantine.num_rows + result.duplicates == result.export_records


def test_values_that_would_be_coerced_are_quarantined_instead(tmp_path: Path, lake: Lake) -> None:
    d = tmp_path / "exports"
    d.mkdir()
    lines = [_good(1), _good(2, ms_played=1000.7), _good(3, skipped="yes"), _good(4, played_at="2026-01-14T05:00:00"),
             _good(5, played_at="2026-01-14T05:00:00+01:00"), _good(6, ms_played="1200")]
    (d / "00.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    result, events = _ingest(lake, export_files(d))
    assert sorted(events["event_id"].to_pylist()) == ["e001", "e005", "e006"]
    fields = sorted((r["field"], r["reason"]) for r in result.quarantine.to_pylist())
    assert fields == [("ms_played", "not an integer"), ("played_at", "no time zone (a local time cannot be placed "
                                                                      "in a UTC day)"),
                      ("skipped", "missing or not a boolean")]
