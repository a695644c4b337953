"""Build the Definitions: discover every domain package under `spotify_ai_assets.pipeline`, bind the
environment's resources. Nothing here runs at import time."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Mapping
from types import ModuleType

import dagster as dg

from spotify_ai_assets import pipeline as defs_package
from spotify_ai_assets.environments import build_resources
from spotify_ai_assets.pipeline import automation
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


def discover() -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition], list[dg.SensorDefinition],
                        list[dg.ScheduleDefinition]]:
    assets: dict[int, dg.AssetsDefinition] = {}
    checks: dict[int, dg.AssetChecksDefinition] = {}
    sensors: dict[int, dg.SensorDefinition] = {}
    schedules: dict[int, dg.ScheduleDefinition] = {}
    for module in domain_modules():
        for value in vars(module).values():
            if isinstance(value, dg.AssetChecksDefinition):
                checks[id(value)] = value
            elif isinstance(value, dg.AssetsDefinition):
                assets[id(value)] = value
            elif isinstance(value, dg.SensorDefinition):
                sensors[id(value)] = value
            elif isinstance(value, dg.ScheduleDefinition):
                schedules[id(value)] = value
    return list(assets.values()), list(checks.values()), list(sensors.values()), list(schedules.values())


def build_defs(environ: Mapping[str, str] | None = None) -> dg.Definitions:
    settings = Settings.from_environ(environ)
    assets, checks, sensors, schedules = discover()
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[automation.daily_refresh_job],
        schedules=[automation.daily_refresh_schedule, *schedules],
        sensors=[automation.event_exports_sensor, *sensors],
        resources=build_resources(settings),
    )
