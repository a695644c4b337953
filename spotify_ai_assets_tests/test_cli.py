"""The README's commands, run as a user runs them: `dg` and the dagster CLI in a fresh instance.

The README's `dg launch --job daily_refresh_job` runs the day's light steps in the run's own process (the job's default
executor); with `SPOTIFY_AI_EXECUTOR=multiprocess` every step is its own process, so the steps run at the same time
against the same lake: none may wait for or fight over a writer lock. No command may print a warning a user cannot act
on (Dagster's superseded-command, beta and preview warnings).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.observability.audit import read_run

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> dict[str, str]:
    # The instance's folders are relative to where a command runs (the README runs from the repository root with
    # DAGSTER_HOME=$PWD); `dg` runs from the project's root, so here they are made absolute under tmp_path.
    text = (REPO / "dagster.yaml").read_text().replace(".dagster_home", str(tmp_path / ".dagster_home"))
    (tmp_path / "dagster.yaml").write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(tmp_path), SPOTIFY_AI_HOME=str(tmp_path / "spotify_ai"),
               SPOTIFY_AI_SANDBOX_SCALE="tiny")
    return env


NOISE = ("SupersessionWarning", "BetaWarning", "PreviewWarning")


def _cli(name: str, args: list[str], tmp_path: Path,
         extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run in `tmp_path`; `dg` finds the project with --target-path."""
    exe = Path(sys.executable).with_name(name)
    if name == "dg":
        args = [*args, "--target-path", str(REPO)]
    return subprocess.run([str(exe), *args], cwd=tmp_path, env={**_env(tmp_path), **(extra_env or {})},
                          capture_output=True, text=True, timeout=900)


def test_definitions_validate(tmp_path):
    out = _cli("dagster", ["definitions", "validate", "-m", "spotify_ai_assets.definitions"], tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_dg_checks_and_lists_the_project_from_its_root(tmp_path):
    checked = _cli("dg", ["check", "defs"], tmp_path)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = _cli("dg", ["list", "defs", "--json"], tmp_path)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "daily_refresh_job" in listed.stdout and "listening_events" in listed.stdout
    for out in (checked, listed):
        assert not [w for w in NOISE if w in out.stdout + out.stderr], out.stderr[-3000:]


@pytest.mark.parametrize(("executor", "said"), [(None, "executing steps in process"),
                                               ("multiprocess", "executing steps using multiprocess executor")])
def test_readme_job_command_runs_a_sandbox_day(tmp_path, executor: str | None, said: str):
    extra = {"SPOTIFY_AI_EXECUTOR": executor} if executor else None
    out = _cli("dg", ["launch", "--job", "daily_refresh_job", "--partition", "2026-01-05"], tmp_path, extra)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-5000:]
    assert "RUN_SUCCESS" in log
    assert said in log.lower(), log[-5000:]
    lake = Lake(str(tmp_path / "spotify_ai" / "lake"))
    for table in ("listening_events", "daily_track_country_stats", "daily_artist_stats", "daily_user_stats",
                  "spotify_tracks", "playlist_snapshots"):
        assert (lake.row_count(table, "2026-01-05") or 0) > 0, table
    # The instance kept the run in the folder named by the README.
    assert (tmp_path / ".dagster_home" / "storage").is_dir()
    # A run from the CLI, with no daemon, is audited by its own steps: one record per materialization, one trace.
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        [run] = instance.get_runs()
        materialized = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        audited = read_run(lake, run.run_id)
        assert audited.num_rows == len(materialized.records) > 10
        assert set(audited["trace_id"].to_pylist()) == {run.run_id}  # its root run: no daemon tagged it
    finally:
        instance.dispose()
    assert not [w for w in NOISE if w in log], log[-5000:]


def test_a_backfill_from_the_cli_runs_under_the_daemon_and_every_run_is_audited(tmp_path):
    from spotify_ai_assets_tests.deploy_fixtures import start, stop, wait_for

    days = ["2026-01-05", "2026-01-06"]
    out = _cli("dagster", ["job", "backfill", "-m", "spotify_ai_assets.definitions", "-j", "daily_refresh_job",
                           "--from", days[0], "--to", days[-1], "--noprompt"], tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    # The backfill's runs wait in the queue until the daemon launches them.
    log = tmp_path / "daemon.log"
    daemon = start([str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m",
                    "spotify_ai_assets.definitions"], _env(tmp_path), log, cwd=tmp_path)
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    lake = Lake(str(tmp_path / "spotify_ai" / "lake"))
    try:
        def finished() -> list[dg.DagsterRun] | None:
            runs = instance.get_runs()
            if any(r.status == dg.DagsterRunStatus.FAILURE for r in runs):
                pytest.fail(f"a backfill run failed: {[r.run_id for r in runs]}; see {log}")
            done = [r for r in runs if r.status == dg.DagsterRunStatus.SUCCESS]
            return done if len(done) == len(days) else None

        runs = wait_for(finished, 600, "the backfill's two runs to succeed", daemon, log, interval=3)
        for run in runs:
            audited = read_run(lake, run.run_id)
            assert audited.num_rows > 10, run.run_id
            assert set(audited["started_by"].to_pylist()) == {f"backfill:{run.tags['dagster/backfill']}"}
            assert set(audited["partition"].to_pylist()) == {run.tags["dagster/partition"]}
        assert sorted(r.tags["dagster/partition"] for r in runs) == days
    finally:
        instance.dispose()
        stop(daemon)
