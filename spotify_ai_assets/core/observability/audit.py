"""The audit trail: one record per materialization, in an append-only lake table.

`audit/materializations` holds one partition per step of a run (key = `<run id>.<step key>`), written once and never
replaced: a second write for the same step is refused, so a record cannot be changed after the fact. Per step rather
than per run because the record is written by the step itself when it ends (so a run launched without the daemon, from
the CLI or a test, is audited too), and a run's steps may run in separate processes at once. Each record says
what was written (asset, partition, rows, uri and the SHA-256 of the bytes at that uri), by which code (code
version), in which run and trace, and who or what started it (a schedule, a sensor, a backfill, automation, a user
or a manual launch). Records carry no personal data: materialization metadata is not copied, only the fields below.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from spotify_ai_assets.core.kernel.lake import Lake, WriteResult

AUDIT_TABLE = "audit/materializations"
AUDIT_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("trace_id", pa.string()), ("job", pa.string()), ("started_by", pa.string()),
    ("asset", pa.string()), ("partition", pa.string()), ("code_version", pa.string()),
    ("package_version", pa.string()), ("rows", pa.int64()),
    ("uri", pa.string()), ("content_sha256", pa.string()), ("materialized_at", pa.timestamp("ms", tz="UTC")),
    ("recorded_at", pa.timestamp("ms", tz="UTC")),
])


@dataclass(frozen=True)
class AuditRecord:
    run_id: str
    trace_id: str
    job: str
    started_by: str
    asset: str
    partition: str | None
    code_version: str | None  # the asset's code_version
    package_version: str  # the package version and git commit that ran it
    rows: int | None
    uri: str | None
    content_sha256: str | None
    materialized_at: dt.datetime
    recorded_at: dt.datetime


class AuditExists(Exception):
    """The run's audit records are already written; they are never rewritten."""


def started_by(tags: Mapping[str, str]) -> str:
    """Who or what launched a run, from Dagster's run tags."""
    for tag, label in (("dagster/schedule_name", "schedule"), ("dagster/sensor_name", "sensor"),
                       ("dagster/backfill", "backfill")):
        if tags.get(tag):
            return f"{label}:{tags[tag]}"
    if tags.get("dagster/from_automation_condition") or tags.get("dagster/auto_materialize"):
        return "automation"
    if tags.get("user"):
        return f"user:{tags['user']}"
    return "manual"


def content_sha256(lake: Lake, uri: str | None) -> str | None:
    """SHA-256 of what is at `uri` now: a file's bytes, or for a folder (a set of reports) the hash of its files'
    names and hashes. None when the uri is not in this lake or is gone."""
    if not uri or not (uri.startswith("file://") or uri.startswith("s3://")):
        return None
    path = uri.split("://", 1)[1].rstrip("/")
    info = lake.fs.get_file_info(path)
    if info.type == pafs.FileType.File:
        return _file_hash(lake, path)
    if info.type == pafs.FileType.Directory:
        files = sorted(i.path for i in lake.fs.get_file_info(pafs.FileSelector(path, recursive=True))
                        if i.type == pafs.FileType.File and not i.base_name.startswith("."))
        h = hashlib.sha256()
        for f in files:
            h.update(f"{f[len(path):]}:{_file_hash(lake, f)}\n".encode())
        return h.hexdigest()
    return None


def _file_hash(lake: Lake, path: str) -> str:
    h = hashlib.sha256()
    with lake.fs.open_input_stream(path) as stream:
        while chunk := stream.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def audit_partition(run_id: str, step_key: str) -> str:
    """The partition of one step's records; characters a lake path may not hold become `_`."""
    return f"{run_id}.{re.sub(r'[^A-Za-z0-9_=-]', '_', step_key)}"


def append(lake: Lake, run_id: str, step_key: str, records: list[AuditRecord]) -> WriteResult:
    """Write a step's records once. Raises AuditExists if that step was audited already."""
    partition = audit_partition(run_id, step_key)
    if lake.exists(AUDIT_TABLE, partition):
        raise AuditExists(f"audit records for step {step_key} of run {run_id} exist and are never rewritten")
    return lake.write(AUDIT_TABLE, pa.Table.from_pylist([asdict(r) for r in records], schema=AUDIT_SCHEMA), partition)


def read_run(lake: Lake, run_id: str) -> pa.Table:
    """Every audit record of a run (all its steps)."""
    # `<run id>` alone: a run audited before records were written per step.
    keys = [k for k in lake.partitions(AUDIT_TABLE) if k == run_id or k.startswith(f"{run_id}.")]
    return pa.concat_tables([lake.read(AUDIT_TABLE, k) for k in keys]) if keys else AUDIT_SCHEMA.empty_table()
