"""Build the Definitions: discover every domain package under `spotify_ai_assets.pipeline`, bind the
environment's resources. Nothing here runs at import time."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from spotify_ai_assets import pipeline as defs_package
from spotify_ai_assets.environments import build_resources
from spotify_ai_assets.pipeline import automation
from spotify_ai_assets.pipeline.executors import build_executor, route_to_queues
from spotify_ai_assets.pipeline.maintenance import freshness
from spotify_ai_assets.settings import Settings


def domain_modules() -> Iterator[ModuleType]:
    """Every module of every domain package (a subpackage of spotify_ai_assets.pipeline), imported."""
    for pkg in pkgutil.iter_modules(defs_package.__path__, defs_package.__name__ + "."):
        if not pkg.ispkg:
            continue
        package = importlib.import_module(pkg.name)
        yield package
        for mod in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            yield importlib.import_module(mod.name)


@dataclass
class Discovered:
    assets: list[dg.AssetsDefinition] = field(default_factory=list)
    checks: list[dg.AssetChecksDefinition] = field(default_factory=list)
    sensors: list[dg.SensorDefinition] = field(default_factory=list)
    schedules: list[dg.ScheduleDefinition] = field(default_factory=list)
    jobs: list[UnresolvedAssetJobDefinition | dg.JobDefinition] = field(default_factory=list)


# Checked in this order: an AssetChecksDefinition is also an AssetsDefinition.
_KINDS: tuple[tuple[type, str], ...] = (
    (dg.AssetChecksDefinition, "checks"), (dg.AssetsDefinition, "assets"), (dg.SensorDefinition, "sensors"),
    (dg.ScheduleDefinition, "schedules"), (UnresolvedAssetJobDefinition, "jobs"), (dg.JobDefinition, "jobs"),
)


def discover() -> Discovered:
    found = Discovered()
    seen: set[int] = set()
    for module in domain_modules():
        for value in vars(module).values():
            if id(value) in seen:
                continue
            for kind, attr in _KINDS:
                if isinstance(value, kind):
                    seen.add(id(value))
                    getattr(found, attr).append(value)
                    break
    return found


def build_defs(environ: Mapping[str, str] | None = None) -> dg.Definitions:
    settings = Settings.from_environ(environ)
    found = discover()
    assets = route_to_queues(freshness.with_freshness(found.assets))
    return dg.Definitions(
        assets=assets,
        asset_checks=[*found.checks, freshness.freshness_check(assets)],
        jobs=[automation.daily_refresh_job, *found.jobs],
        schedules=[automation.daily_refresh_schedule, *found.schedules],
        sensors=[automation.event_exports_sensor, *found.sensors],
        resources=build_resources(settings),
        executor=build_executor(settings),
    )
