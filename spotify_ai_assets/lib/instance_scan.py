"""Where the Dagster instance may hold personal data, handed to the erasure scan as plain texts and paths: run
records (run config, tags), every event of every run (log messages, materialization and check metadata), the JSON
log files of the instance's Python log handlers, and the local compute log folder.

Nothing should be there (assets log users by pseudonym, the erasure job takes no raw id in run config): this is the
proof, run by `erasure_complete`, not the mechanism."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg


def instance_texts(instance: dg.DagsterInstance) -> Iterator[tuple[str, str]]:
    for record in instance.get_run_records():
        run = record.dagster_run
        yield f"instance: run {run.run_id} (record)", dg.serialize_value(run)
        for entry in instance.all_logs(run.run_id):
            yield f"instance: run {run.run_id} (events)", dg.serialize_value(entry)


def log_files(instance: dg.DagsterInstance) -> list[str]:
    """Files written by the instance's Python log handlers (dagster.yaml `python_logs`), e.g. the JSON lines log."""
    files = []
    for handler in instance.get_handlers():
        name = getattr(handler, "baseFilename", None)
        if name:
            files.append(str(Path(name).absolute()))
    return sorted(set(files))


def compute_log_root(instance: dg.DagsterInstance) -> str | None:
    """The local compute log folder (stdout/stderr of every step), when the instance keeps them on this disk."""
    data = getattr(instance.compute_log_manager, "inst_data", None)
    base = (getattr(data, "config_dict", None) or {}).get("base_dir") if data is not None else None
    return str(Path(base).absolute()) if base else None
