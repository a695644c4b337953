"""GDPR erasure: one run per request (sensor on the requests folder, or run config), a blocking completeness
check, and a deadline check that flags requests open for more than 30 days."""

import datetime as dt
import json
import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from spotify_ai_assets.core.maintenance import erasure
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.landing import LandingResource
from spotify_ai_assets.lib.resources.maintenance import BackupTargetResource, ComplianceResource
from spotify_ai_assets.lib.resources.tokens import TokenStoreResource

ASSET = "gdpr_erasure"
COMPLETE = "erasure_complete"


class ErasureConfig(dg.Config):
    request_file: str = Field(default="", description="A request file (JSON with user_id, requested_at, requester); "
                                                      "the sensor passes this, so the user id stays out of run config.")
    user_id: str = Field(default="", max_length=256, description="Or the request itself, when no file is used.")
    requested_at: str = Field(default="", description="ISO timestamp with time zone; default now.")
    requester: str = Field(default="", description="Who asked (hashed in the audit).")


def _request(config: ErasureConfig) -> erasure.ErasureRequest:
    if config.request_file:
        return erasure.ErasureRequest.from_file(config.request_file)
    return erasure.ErasureRequest.parse({
        "user_id": config.user_id, "requester": config.requester,
        "requested_at": config.requested_at or dt.datetime.now(dt.UTC).isoformat()}, "run config")


@dg.asset(
    name=ASSET, group_name="compliance", owners=["team:platform"], kinds={"parquet"}, code_version="gdpr-erasure-v1",
    pool="backup",  # never rewrite the lake while a backup or a restore reads it
    check_specs=[dg.AssetCheckSpec(COMPLETE, asset=ASSET, blocking=True, description=(
        "Scans every lake file (tables with user_id, quarantine payloads, reports), the landing folder and the token "
        "store for every user in the erasure log; lists where any is still found."))],
)
def gdpr_erasure(context: dg.AssetExecutionContext, config: ErasureConfig, lake: LakeResource,
                 token_store: TokenStoreResource, landing: LandingResource, compliance: ComplianceResource,
                 backup: BackupTargetResource) -> dg.MaterializeResult:
    """Erases one user from every asset that holds personal data (discovered by column: listening events, user
    stats and features, recommendations, quarantine, reports' per-user parts, landing exports) and the token store,
    rewriting only the files that hold them. Logs the erasure (salted hash only) in the lake and the backup target,
    so every restore re-applies it, and writes an audit entry."""
    request = _request(config)
    store, tokens, lake_ = backup.store(), token_store.store(), lake.lake()
    entry = erasure.erase(request, lake=lake_, salt=compliance.salt, run_id=context.run.run_id,
                          now=dt.datetime.now(dt.UTC), token_store=tokens, landing_root=landing.root, store=store)
    if config.request_file:
        os.remove(config.request_file)  # it names the user; the audit keeps only the hash
    hashes = {e.subject_hash for e in erasure.read_log(lake_, store)}
    found = erasure.leftovers(lake_, compliance.salt, hashes, tokens.all_user_ids(), landing.root)
    table = "\n".join(["| where | removed |", "| --- | ---: |", *(f"| {t} | {n} |" for t, n in
                                                                  sorted(entry.removed.items()))])
    return dg.MaterializeResult(
        metadata={"request_key": entry.request_key, "subject_hash": entry.subject_hash,
                  "files_rewritten": len(entry.partitions_rewritten), "token_store_removed": entry.token_store_removed,
                  "removed": dg.MetadataValue.md(table or "nothing held this user"),
                  "audit": f"{lake_.root}/{erasure.AUDIT}/{entry.request_key}.json"},
        check_results=[dg.AssetCheckResult(
            check_name=COMPLETE, passed=not found, severity=dg.AssetCheckSeverity.ERROR,
            description=f"no trace of the {len(hashes)} erased user(s)" if not found
            else f"{len(found)} place(s) still hold an erased user",
            metadata={"erased_users": len(hashes), "leftovers": dg.MetadataValue.json(
                [{"path": r.path, "kind": r.kind, "count": r.count} for r in found])})],
    )


@dg.asset_check(asset=ASSET, description="Fails when any erasure request has been open for more than 30 days "
                                         "(also listed: request files that cannot be read, by their age).")
def erasure_deadline(lake: LakeResource, compliance: ComplianceResource) -> dg.AssetCheckResult:
    now = dt.datetime.now(dt.UTC)
    pending, unreadable = [], []
    for path in erasure.request_files(compliance.requests_root):
        try:
            pending.append(erasure.ErasureRequest.from_file(path))
        except erasure.RequestError as exc:
            age = (now.timestamp() - path.stat().st_mtime) / 86400
            unreadable.append({"file": path.name, "days": round(age, 1), "error": str(exc)})
    done = {e.request_key for e in erasure.read_log(lake.lake())}
    late = erasure.overdue(pending, done, compliance.salt, now)
    late_unreadable = [u for u in unreadable if u["days"] > erasure.DEADLINE.days]
    return dg.AssetCheckResult(
        passed=not late and not late_unreadable, severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(late) + len(late_unreadable)} request(s) open past 30 days" if late or late_unreadable
        else f"{len(pending)} request(s) pending, none past 30 days",
        metadata={"pending": len(pending), "overdue": dg.MetadataValue.json(
            [{"request_key": k, "days_open": d} for k, d in late]), "unreadable": dg.MetadataValue.json(unreadable)})


gdpr_erasure_job = dg.define_asset_job(
    "gdpr_erasure_job", selection=dg.AssetSelection.assets(ASSET), tags={"spotify_ai/job": "gdpr_erasure"},
    description="Erase one user (config: request_file, or user_id/requested_at/requester).")


@dg.sensor(job=gdpr_erasure_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
           description="One erasure run per request file in the requests folder (run_key = request key; cursor = "
                       "request files already handed to a run).")
def gdpr_requests_sensor(context: dg.SensorEvaluationContext, compliance: ComplianceResource) -> dg.SensorResult:
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    present, requests = {}, []
    for path in erasure.request_files(compliance.requests_root):
        stamp = f"{path.stat().st_size}:{path.stat().st_mtime_ns}"
        present[path.name] = stamp
        if seen.get(path.name) == stamp:
            continue
        try:
            request = erasure.ErasureRequest.from_file(path)
        except erasure.RequestError as exc:
            context.log.warning(f"erasure request not started: {exc}")  # reported once per file version
            continue
        requests.append(dg.RunRequest(
            run_key=f"erasure:{request.key(compliance.salt)}",
            run_config={"ops": {ASSET: {"config": {"request_file": str(Path(path).absolute())}}}},
            tags={"spotify_ai/trigger": "gdpr_request"}))
    # Only files still present are remembered: a done request's file is removed by its run.
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(present, sort_keys=True))
