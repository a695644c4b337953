"""Health checks: all pass on the sandbox (emulator, local lake and backup folder), each fails when its target is
down (closed port, refused credentials, unwritable lake, impossible disk threshold), and the freshness check names
the one daily asset that is late. Every daily asset carries a freshness policy."""

from __future__ import annotations

import datetime as dt
import socket

import dagster as dg
import pytest

from spotify_ai_assets.core.maintenance import health
from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets.defs.maintenance.health import platform_health
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.maintenance import BackupTargetResource, HealthResource
from spotify_ai_assets.lib.resources.spotify import LiveSpotifyResource

from .conftest import DAY


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, str]]:
    return {e.event_specific_data.check_name: (e.event_specific_data.passed, e.event_specific_data.description)
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_every_daily_asset_has_a_freshness_policy(sandbox_environ):
    graph = build_defs(sandbox_environ).resolve_asset_graph()
    daily = [k for k in graph.get_all_asset_keys()
             if isinstance(graph.get(k).partitions_def, dg.DailyPartitionsDefinition)]
    assert len(daily) >= 15
    assert [k for k in daily if graph.get(k).freshness_policy is None] == []


def test_health_passes_on_the_sandbox_and_freshness_names_the_late_asset(sandbox_environ):
    defs = build_defs(sandbox_environ)
    graph = defs.resolve_asset_graph()
    daily = sorted(k.to_user_string() for k in graph.get_all_asset_keys()
                   if isinstance(graph.get(k).partitions_def, dg.DailyPartitionsDefinition))
    with dg.DagsterInstance.ephemeral() as instance:
        for key in daily:
            if key != "daily_user_stats":
                instance.report_runless_asset_event(dg.AssetMaterialization(key, partition="2026-01-05"))
        result = defs.resolve_job_def("health_job").execute_in_process(instance=instance, raise_on_error=False)
    checks = _checks(result)
    assert {k: v[0] for k, v in checks.items()} == {
        "spotify_api": True, "lake_read_write": True, "backup_target": True, "disk_space": True,
        "erasure_deadline": True, "daily_assets_fresh": False}, checks
    assert checks["daily_assets_fresh"][1] == f"1 of {len(daily)} daily assets late: daily_user_stats"


def test_each_check_fails_when_its_target_is_down(tmp_path, emulator):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("a file where the lake should be a folder")
    port = _closed_port()
    resources = {
        "lake": LakeResource(root=str(not_a_dir / "lake")),
        "spotify": LiveSpotifyResource(client_id="x", client_secret="y", api_url=f"http://127.0.0.1:{port}/v1/",
                                   accounts_url=f"http://127.0.0.1:{port}/", max_attempts=1, timeout_s=2),
        "backup": BackupTargetResource(url=str(not_a_dir / "backups")),
        "health": HealthResource(disk_path=str(tmp_path), min_free_disk_gib=10**9),
    }
    checks = _checks(dg.materialize([platform_health], resources=resources, raise_on_error=False))
    assert {k: v[0] for k, v in checks.items()} == {
        "spotify_api": False, "lake_read_write": False, "backup_target": False, "disk_space": False}, checks
    assert "GiB free" in checks["disk_space"][1]

    # The API answers but refuses the app's credentials.
    bad_secret = LiveSpotifyResource(client_id="sandbox-client", client_secret="wrong", api_url=emulator.api_url,
                                 accounts_url=emulator.accounts_url, max_attempts=1, timeout_s=2)
    probe = health.spotify_api(bad_secret.gateway(DAY))
    assert not probe.passed
    good = LiveSpotifyResource(client_id="sandbox-client", client_secret="sandbox-secret", api_url=emulator.api_url,
                           accounts_url=emulator.accounts_url, max_attempts=1, timeout_s=2)
    assert health.spotify_api(good.gateway(DAY)).passed


def test_the_backup_target_check_fails_when_s3_is_unreachable():
    store = BackupTargetResource(url="s3://backups-health/x", s3_endpoint_url=f"http://127.0.0.1:{_closed_port()}")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in (("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t"),
                            ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_MAX_ATTEMPTS", "1")):
            mp.setenv(name, value)
        probe = health.backup_target(store.store())
    assert not probe.passed and "Could not connect" in probe.description


@pytest.mark.parametrize("last, late", [(None, True), ("2026-01-06T06:30", False), ("2026-01-06T05:59", True)])
def test_the_daily_deadline_matches_the_cron_policy(last, late):
    rule = health.DailyDeadline(hour_utc=6, lower_bound=dt.timedelta(hours=24))
    now = dt.datetime(2026, 1, 7, 7, 0, tzinfo=dt.UTC)  # last deadline Jan 7 06:00: due after Jan 6 06:00
    when = dt.datetime.fromisoformat(last).replace(tzinfo=dt.UTC) if last else None
    assert rule.is_late(when, now) is late
