"""The lake on S3: daily_refresh_job with SPOTIFY_AI_LAKE=s3://bucket/prefix on a moto S3 server on loopback gives
the same tables (row for row) and the same report files as the same job on a local lake."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from spotify_ai_assets.core.lake import Lake
from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets_tests.maintenance_fixtures import moto_endpoint, s3_bucket  # noqa: F401

DAY = "2026-01-05"


def _files(lake: Lake) -> list[str]:
    """Every file under the lake root, relative to it (tables, quarantine, reports)."""
    base = lake.root[len("s3://"):] if lake.root.startswith("s3://") else lake.root
    infos = lake.fs.get_file_info(pafs.FileSelector(base, recursive=True))
    return sorted(i.path[len(base) + 1:] for i in infos if i.type == pafs.FileType.File)


def _sorted(table: pa.Table) -> pa.Table:
    # Row order is not part of a table's contract; its content is.
    return table.sort_by([(c, "ascending") for c in table.column_names
                          if not pa.types.is_nested(table.schema.field(c).type)])


def test_daily_job_on_an_s3_lake_matches_the_local_lake(sandbox_environ, s3_bucket, moto_endpoint,  # noqa: F811
                                                        tmp_path: Path) -> None:
    # One landing folder for both: quarantine records name the export file (path:line) they came from.
    local_env = {**sandbox_environ, "SPOTIFY_AI_LANDING": str(tmp_path / "landing")}
    s3_env = {**local_env, "SPOTIFY_AI_HOME": str(tmp_path / "s3_home"),
              "SPOTIFY_AI_LAKE": f"s3://{s3_bucket}/prod/lake", "AWS_ENDPOINT_URL": moto_endpoint}
    for env in (local_env, s3_env):
        result = build_defs(env).resolve_job_def("daily_refresh_job").execute_in_process(partition_key=DAY)
        assert result.success

    local = Lake(str(Path(local_env["SPOTIFY_AI_HOME"], "lake")))
    s3 = Lake(s3_env["SPOTIFY_AI_LAKE"], s3_endpoint_url=moto_endpoint)
    # Nothing of the S3 run landed in a local lake folder.
    assert not Path(s3_env["SPOTIFY_AI_HOME"], "lake").exists()
    files = _files(local)
    assert files == _files(s3)
    tables = [f.rsplit("/", 2)[0] for f in files if f.endswith(f"/date={DAY}/part-0.parquet")]
    assert {"listening_events", "daily_track_country_stats", "track_trends", "artist_trends",
            "quarantine/listening_events"} <= set(tables)
    for table in tables:
        mine, theirs = local.read(table, DAY), s3.read(table, DAY)
        assert mine.schema == theirs.schema, table
        assert mine.num_rows > 0 or table.startswith("quarantine/") or theirs.num_rows == 0, table
        assert _sorted(mine).equals(_sorted(theirs)), f"{table} differs between the local and the S3 lake"
    reports = [f for f in files if f.startswith("reports/")]
    assert any(f.endswith("report.html") for f in reports)
    for report in reports:
        table, partition, name = report.rsplit("/", 2)
        assert local.read_file(table, name, partition[len("date="):]) == s3.read_file(
            table, name, partition[len("date="):]), report
