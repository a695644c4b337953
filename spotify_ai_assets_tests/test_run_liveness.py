"""A run killed with SIGKILL never holds a pool for good (issue 22, item 1), through the real daemon and CLI: with
the repository's dagster.yaml (run monitoring on; only its polling made faster here), a run whose step holds the
spotify_api pool is killed with SIGKILL, and the next run of the pool proceeds without a hand: the dead run is
marked failed from its silent heartbeat and run monitoring frees its slot."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import yaml

from spotify_ai_assets.core.maintenance.liveness import HEARTBEAT_TAG
from spotify_ai_assets_tests.deploy_fixtures import REPO, cli, start, stop, wait_for, workspace

LOCATION = "spotify_ai_assets_tests.liveness_location"


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert config["run_monitoring"]["enabled"] and config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
    config["run_monitoring"].update(poll_interval_seconds=2, free_slots_after_run_end_seconds=1)
    for section, key in (("storage", "sqlite"), ("local_artifact_storage", "config"), ("compute_logs", "config")):
        config[section][key]["base_dir"] = str(home / config[section][key]["base_dir"])
    config["python_logs"]["dagster_handler_config"]["handlers"]["json_lines"]["filename"] = str(home / "logs.jsonl")
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return home


def test_a_run_killed_with_sigkill_frees_its_pool_slot_and_the_next_run_proceeds(tmp_path: Path) -> None:
    home = _home(tmp_path)
    env = {**os.environ, "DAGSTER_HOME": str(home), "SPOTIFY_AI_HOME": str(tmp_path / "sandbox"),
           "SPOTIFY_AI_RUN_HEARTBEAT_S": "1", "SPOTIFY_AI_RUN_DEAD_AFTER_S": "6"}
    subprocess.run([cli("python"), "-m", "spotify_ai_assets.instance", "migrate", "--quiet"], env=env, cwd=REPO,
                   check=True, timeout=180)
    # One slot, so the second run can only start once the killed run's slot is freed (migrate gives spotify_api 2).
    subprocess.run([cli("dagster"), "instance", "concurrency", "set", "spotify_api", "1"], env=env, cwd=REPO,
                   check=True, timeout=180, capture_output=True)
    daemon_log = tmp_path / "daemon.log"
    daemon = start([cli("dagster-daemon"), "run", "-w", str(workspace(tmp_path / "workspace.yaml", LOCATION))],
                   env, daemon_log)
    holder = start([cli("dagster"), "job", "execute", "-m", LOCATION, "-j", "pool_holder_job"], env,
                   tmp_path / "holder.log")
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            def holding() -> dg.DagsterRun | None:
                for run in instance.get_runs(filters=dg.RunsFilter(job_name="pool_holder_job")):
                    started = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
                    if started:
                        return run
                return None

            held = wait_for(holding, 120, "the pool holder's step to start", holder, tmp_path / "holder.log")
            os.killpg(holder.pid, signal.SIGKILL)  # the run worker and its step process, no goodbye
            holder.wait(10)
            assert instance.get_run_by_id(held.run_id).status == dg.DagsterRunStatus.STARTED
            assert HEARTBEAT_TAG in instance.get_run_by_id(held.run_id).tags

            began = time.monotonic()
            user = subprocess.run([cli("dagster"), "job", "execute", "-m", LOCATION, "-j", "pool_user_job"], env=env,
                                  cwd=REPO, capture_output=True, text=True, timeout=240)
            assert user.returncode == 0, user.stdout[-2000:] + user.stderr[-2000:]
            waited = time.monotonic() - began
            dead = instance.get_run_by_id(held.run_id)
            assert dead.status == dg.DagsterRunStatus.FAILURE
            failure = instance.all_logs(held.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
            assert "no heartbeat" in failure[-1].message
            (done,) = instance.get_runs(filters=dg.RunsFilter(job_name="pool_user_job"))
            assert done.status == dg.DagsterRunStatus.SUCCESS
            assert waited < 200
    finally:
        stop(daemon)
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
