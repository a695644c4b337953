"""Names and ids from outside are validated before they touch a path, and SQL gets them only as parameters."""

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from spotify_ai_assets.core.analytics.reports import report_data
from spotify_ai_assets.core.audio.landing import name_problem
from spotify_ai_assets.core.ingestion.watchlist import Watchlist, WatchlistError
from spotify_ai_assets.core.kernel.lake import Lake, LakePathError
from spotify_ai_assets.core.kernel.query import sql_to_arrow

INJECTIONS = ["x' OR '1'='1", "'; DROP TABLE t; --", "a\" OR \"\"=\"", "1) OR (1=1"]
TRAVERSALS = ["../etc", "..", "a/../../b", "/etc/passwd", "date=2026-01-01/../../x", "~root", ".hidden/../x"]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_lake_table_and_partition_names_cannot_leave_the_lake(tmp_path: Path, name: str) -> None:
    lake = Lake(str(tmp_path / "lake"))
    table = pa.table({"a": [1]})
    with pytest.raises(LakePathError):
        lake.write(name, table, "2026-01-01")
    with pytest.raises(LakePathError):
        lake.write("t", table, name)
    with pytest.raises(LakePathError):
        lake.write_file("reports/x", name, b"x", "2026-01-01")
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # nothing written anywhere


@pytest.mark.parametrize("name", ["../../evil.wav", "x/../../y.flac", "/tmp/a.wav", "4uLU6hMCjMI75M1A2tKUQC.wav.sh",
                                  "4uLU6hMCjMI75M1A2tKU'C.wav"])
def test_audio_file_names_must_be_a_track_id_and_an_audio_suffix(name: str) -> None:
    assert name_problem(name) is not None
    assert name_problem("4uLU6hMCjMI75M1A2tKUQC.wav") is None


@pytest.mark.parametrize("value", INJECTIONS)
def test_watchlist_ids_from_run_config_are_checked_before_use(value: str) -> None:
    with pytest.raises(WatchlistError, match=r"run config: artists\[1\]"):
        Watchlist.of(["0TnOYISbd1XYRBk9myaseg", value], [], "run config")


def test_a_watchlist_path_from_run_config_opens_only_yaml_and_never_echoes_content(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match=r"must be a \.yaml or \.yml file"):
        Watchlist.load("/etc/passwd")
    secret = tmp_path / "other.yaml"
    secret.write_text("password: hunter2\n  - [unbalanced: hunter2-again\n")
    with pytest.raises(WatchlistError) as err:
        Watchlist.load(secret)
    assert "hunter2" not in str(err.value) and "line" in str(err.value)


@pytest.mark.parametrize("value", INJECTIONS)
def test_sql_takes_outside_values_as_parameters(value: str) -> None:
    day = dt.date(2026, 1, 5)
    stats = pa.table({"date": [day] * 2, "track_id": ["t1", "t2"], "artist_id": ["a1", "a2"], "country": ["US"] * 2,
                      "plays": [5, 7], "listeners": [3, 4], "skip_rate": [0.1, 0.2]})
    artists = pa.table({"date": [day] * 2, "artist_id": ["a1", "a2"], "plays": [5, 7], "listeners": [3, 4]})
    trends = pa.table({"date": [day], "entity_id": ["t1"], "plays": [9], "expected": [1.0], "z": [7.0],
                       "trend": ["rising"]})
    data = report_data(day, stats, artists, trends, artist_id=value)
    # An injected artist id matches nothing; as SQL text it would have matched everything or failed.
    assert data.top_tracks.num_rows == 0 and data.daily.num_rows == 0 and data.rising.num_rows == 0
    count = sql_to_arrow("SELECT count(*) AS n FROM s WHERE artist_id = $1", {"s": artists}, [value])
    assert count["n"][0].as_py() == 0


@pytest.mark.parametrize("backup_id", ["../../etc", "20260106T040000123456Z/../x", "", "latest"])
def test_run_config_that_becomes_a_path_is_refused_before_the_op_runs(backup_id: str) -> None:
    from pydantic import ValidationError

    from spotify_ai_assets.defs.maintenance.backups import RestoreConfig
    from spotify_ai_assets.defs.models.training import TrainConfig

    with pytest.raises(ValidationError):
        RestoreConfig(backup_id=backup_id)
    assert RestoreConfig(backup_id="20260106T040000123456Z").backup_id == "20260106T040000123456Z"
    with pytest.raises(ValidationError):
        TrainConfig(as_of="2026-01-01; DROP TABLE x")
    with pytest.raises(ValidationError):
        TrainConfig(rounds=10**9)
