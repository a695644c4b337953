"""A test-only code location for the run-liveness test: `pool_holder_job` holds the spotify_api pool's slot until
its run is killed, `pool_user_job` needs the slot for a moment. Both use the platform's own executor (with its
heartbeat) and the platform's own `dead_run_sensor` (on by default), so a daemon started by the test does exactly
what it does in a deployment. Loaded by `dagster-daemon run` and `dagster job execute`, never inside pytest."""

import os
import time

import dagster as dg

from spotify_ai_assets.defs.maintenance.liveness import dead_run_sensor
from spotify_ai_assets.lib.executors import build_executor
from spotify_ai_assets.lib.resources.maintenance import HealthResource
from spotify_ai_assets.settings import Settings


@dg.asset(group_name="liveness_probe", kinds={"python"}, pool="spotify_api")
def pool_holder() -> dg.MaterializeResult:
    """Holds the spotify_api pool's slot until the test kills its run with SIGKILL (bounded: 10 minutes)."""
    time.sleep(600)
    return dg.MaterializeResult()


@dg.asset(group_name="liveness_probe", kinds={"python"}, pool="spotify_api")
def pool_user() -> dg.MaterializeResult:
    """Needs the spotify_api pool's slot for a moment: it runs only once the slot is free."""
    return dg.MaterializeResult(metadata={"pid": os.getpid()})


@dg.definitions
def defs() -> dg.Definitions:
    settings = Settings.from_environ()
    return dg.Definitions(
        assets=[pool_holder, pool_user],
        jobs=[dg.define_asset_job("pool_holder_job", selection=[pool_holder]),
              dg.define_asset_job("pool_user_job", selection=[pool_user])],
        sensors=[dead_run_sensor],
        resources={"health": HealthResource(disk_path=settings.home, run_dead_after_s=settings.run_dead_after_s)},
        executor=build_executor(settings))
