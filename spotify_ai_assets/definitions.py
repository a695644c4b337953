"""The code location's entry point (`dg`, `dagster -m spotify_ai_assets.definitions`, workspace.yaml).

`defs` is lazy: Dagster calls it when it loads the code location, so environment variables are read then, never at
import. Everything at module scope under `spotify_ai_assets/defs/` (assets, checks, jobs, schedules, sensors) is found
by Dagster's own package loader, with no registration; this module adds what depends on the environment (resources,
executor) and on the loaded graph as a whole (freshness).

Why `load_definitions_from_package_module` and not the components loader (`load_from_defs_folder`), which finds the
same definitions: the latter also imports every installed `dg` plugin to describe its component types to the UI, and
dagster-aws's plugin costs about 3 s per process (it imports Dagster's test utilities). Every step process of the
multiprocess executor loads the definitions, so that would be seconds per step for nothing we use
(`benchmarks/code_location.py` times both). `dg` commands work either way: they load this module's `defs`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg

from spotify_ai_assets.core.quality.worker import use_suite_server
from spotify_ai_assets.lib import freshness
from spotify_ai_assets.lib.environments import build_resources
from spotify_ai_assets.lib.executors import build_executor, job_executor
from spotify_ai_assets.settings import Settings


def build_defs(environ: Mapping[str, str] | None = None) -> dg.Definitions:
    """The Definitions for `environ` (default: the process environment)."""
    settings = Settings.from_environ(environ)
    # Every process that executes steps (run worker, step process, Celery worker) loads these definitions before its
    # first step: from here on its quality suites go to the machine's shared suite server, or not.
    use_suite_server(settings.suite_server_idle_s)
    with _quiet():
        found = _with_job_executors(load_defs_folder(), settings)
        bound = dg.Definitions.merge(found, dg.Definitions(resources=build_resources(settings),
                                                           executor=build_executor(settings)))
        fresh = freshness.with_freshness(bound)
        return dg.Definitions.merge(fresh, dg.Definitions(asset_checks=[freshness.freshness_check(fresh)]))


def load_defs_folder() -> dg.Definitions:
    """What Dagster's loader finds in `spotify_ai_assets/defs/`, before any environment is applied (resources are
    bound by `build_defs`; pass them to `dg.materialize` yourself when you use these assets directly).

    Every asset gets the audit hooks here, in one place, so each step writes the audit records of what it
    materialized however its run was launched (see defs/observability/audit_trail.py)."""
    import spotify_ai_assets.defs
    from spotify_ai_assets.defs.observability.audit_trail import audit_hooks

    with _quiet():
        found = dg.load_definitions_from_package_module(spotify_ai_assets.defs)
        return dg.Definitions(
            assets=[a.with_hooks(audit_hooks) if isinstance(a, dg.AssetsDefinition) and a.is_executable else a
                    for a in found.assets or []],
            asset_checks=found.asset_checks, jobs=found.jobs, schedules=found.schedules, sensors=found.sensors,
            resources=found.resources, executor=found.executor, loggers=found.loggers, metadata=found.metadata,
        )


def _with_job_executors(found: dg.Definitions, settings: Settings) -> dg.Definitions:
    """`found` with each asset job that has an executor of its own in this environment (lib/executors.py) rebuilt
    with it, and the schedules and sensors that start it pointed at the rebuilt job. Jobs are defined at import, where
    no environment is read, so their executor is given here."""
    rebuilt: dict[str, Any] = {}  # dg.define_asset_job's (unresolved) jobs
    jobs = []
    for job in found.jobs or []:
        # An op job (dg.JobDefinition) keeps the code location's executor.
        executor = None if isinstance(job, dg.JobDefinition) else job_executor(settings, job.name)
        if executor is not None:
            job = rebuilt[job.name] = dg.define_asset_job(
                job.name, selection=job.selection, config=job.config, description=job.description, tags=job.tags,
                run_tags=job.run_tags, metadata=job.metadata, partitions_def=job.partitions_def,
                executor_def=executor, hooks=job.hooks, op_retry_policy=job.op_retry_policy, owners=job.owners,
                automation_condition=job.automation_condition)
        jobs.append(job)
    if not rebuilt:
        return found
    schedules = [s.with_updated_job(rebuilt[s.job_name]) if s.job_name in rebuilt else s
                 for s in found.schedules or []]
    sensors = []
    for sensor in found.sensors or []:
        targets = [t.job_name for t in sensor.targets]
        if any(name in rebuilt for name in targets):
            if len(targets) != 1:
                raise dg.DagsterInvariantViolationError(f"sensor {sensor.name} starts several jobs, one of them "
                                                        f"{sorted(rebuilt)}: retarget it here by hand")
            sensor = sensor.with_updated_job(rebuilt[targets[0]])
        sensors.append(sensor)
    return dg.Definitions(assets=found.assets, asset_checks=found.asset_checks, jobs=jobs, schedules=schedules,
                          sensors=sensors, resources=found.resources, executor=found.executor,
                          loggers=found.loggers, metadata=found.metadata)


@contextmanager
def _quiet() -> Iterator[None]:
    """Loading uses Dagster APIs marked beta or preview (this loader, `map_resolved_asset_specs`, an asset's
    `backfill_policy`): their warnings say nothing a user of the platform can act on, so they are not printed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        yield


_LOADED: tuple[tuple[str, tuple[tuple[str, str], ...]], dg.Definitions] | None = None


@dg.definitions
def defs() -> dg.Definitions:
    """`build_defs()` for this process's environment, built once per environment. Dagster calls this at every load
    of the code location, and one `dg launch` loads it six times (the command, the run's job, its plan, ...), each a
    full rebuild of the graph. The same environment variables and working directory (relative paths resolve against
    it) build the same Definitions, so the last ones are reused; a change in either builds them again."""
    global _LOADED
    key = (os.getcwd(), tuple(sorted(os.environ.items())))
    if _LOADED is None or _LOADED[0] != key:
        _LOADED = (key, build_defs())
    return _LOADED[1]
