"""The lake on S3: daily_refresh_job with SPOTIFY_AI_LAKE=s3://bucket/prefix on a moto S3 server on loopback gives
the same tables (row for row) and the same report files as the same job on a local lake."""

from __future__ import annotations

from pathlib import Path

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets_tests.deploy_fixtures import assert_same_lake
from spotify_ai_assets_tests.maintenance_fixtures import moto_endpoint, s3_bucket  # noqa: F401

DAY = "2026-01-05"


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
    assert_same_lake(local, s3, DAY)
