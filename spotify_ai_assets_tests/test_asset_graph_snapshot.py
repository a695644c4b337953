"""A snapshot of the asset graph as Dagster loads it: keys, deps, groups, owners, kinds, partitions, code versions,
freshness, automation conditions, checks (and whether they block), jobs, schedules, sensors and resource keys.

A refactor that only moves code must leave it identical; a change that alters the graph shows up here in review.
Refresh it on purpose with `SNAPSHOT_UPDATE=1 pytest spotify_ai_assets_tests/test_asset_graph_snapshot.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from spotify_ai_assets.definitions import build_defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def _condition(condition: dg.AutomationCondition | None) -> object:
    if condition is None:
        return None
    label = condition.get_label()
    if label:
        return label
    return {condition.name: [_condition(c) for c in condition.children]}


def _partitions(partitions_def: dg.PartitionsDefinition | None) -> str | None:
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.DynamicPartitionsDefinition):
        return f"dynamic:{partitions_def.name}"
    return str(partitions_def)


def graph_snapshot(defs: dg.Definitions) -> dict[str, object]:
    assets = {}
    for spec in defs.resolve_all_asset_specs():
        assets[spec.key.to_user_string()] = {
            "deps": {d.asset_key.to_user_string(): repr(d.partition_mapping) if d.partition_mapping else None
                     for d in sorted(spec.deps, key=lambda d: d.asset_key.to_user_string())},
            "group": spec.group_name,
            "owners": sorted(spec.owners),
            "kinds": sorted(spec.kinds),
            "partitions": _partitions(spec.partitions_def),
            "code_version": spec.code_version,
            "freshness": repr(spec.freshness_policy) if spec.freshness_policy is not None else None,
            "automation": _condition(spec.automation_condition),
        }
    checks, ops = {}, {}
    for assets_def in defs.resolve_asset_graph().assets_defs:
        if assets_def.is_executable:
            # The op's tags carry the Celery queue and the Spotify run tag; its pool decides concurrency.
            ops[assets_def.op.name] = {"assets": sorted(k.to_user_string() for k in assets_def.keys),
                                       "checks": len(assets_def.check_keys), "pool": assets_def.op.pool,
                                       "tags": dict(sorted(assets_def.op.tags.items())),
                                       "can_subset": assets_def.can_subset}
        for check in assets_def.check_specs:
            checks[f"{check.asset_key.to_user_string()}:{check.name}"] = {
                "blocking": check.blocking, "partitions": _partitions(check.partitions_def)}
    jobs = {job.name: sorted(node.name for node in job.graph.nodes)
            for job in defs.resolve_all_job_defs() if not job.name.startswith("__")}
    schedules = {s.name: {"cron": s.cron_schedule, "job": s.job_name, "timezone": s.execution_timezone,
                          "default": s.default_status.value} for s in defs.schedules or []}
    sensors = {s.name: {"type": type(s).__name__, "jobs": sorted(j.name for j in s.jobs) if s.has_jobs else [],
                        "default": s.default_status.value, "interval_s": s.minimum_interval_seconds}
               for s in defs.sensors or []}
    return {"assets": dict(sorted(assets.items())), "checks": dict(sorted(checks.items())),
            "ops": dict(sorted(ops.items())), "jobs": jobs, "executor": defs.executor.name if defs.executor else None,
            "schedules": dict(sorted(schedules.items())), "sensors": dict(sorted(sensors.items())),
            "resources": sorted(defs.resources or {})}


def test_the_asset_graph_matches_its_snapshot(sandbox_environ: dict[str, str]) -> None:
    snapshot = graph_snapshot(build_defs(sandbox_environ))
    text = json.dumps(snapshot, indent=1, sort_keys=False) + "\n"
    if os.environ.get("SNAPSHOT_UPDATE") == "1":
        SNAPSHOT.write_text(text)
    expected = json.loads(SNAPSHOT.read_text())
    for section in expected:
        assert snapshot[section] == expected[section], (
            f"the asset graph's {section} changed; if on purpose, refresh the snapshot (see the module docstring)")
    assert snapshot == expected
