"""GDPR erasure: one run per request (sensor on the requests folder, or run config), a blocking completeness
check, and a deadline check that flags requests open for more than 30 days."""

import datetime as dt
import hashlib
import json
from pathlib import Path

import dagster as dg
from pydantic import Field

from spotify_ai_assets.core.maintenance import erasure
from spotify_ai_assets.lib import instance_scan
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.landing import LandingResource
from spotify_ai_assets.lib.resources.maintenance import BackupTargetResource, ComplianceResource
from spotify_ai_assets.lib.resources.tokens import TokenStoreResource

ASSET = "gdpr_erasure"
COMPLETE = "erasure_complete"


class ErasureConfig(dg.Config):
    request_key: str = Field(default="", pattern=r"^[0-9a-f]{0,24}$", description=(
        "The request to carry out, by its key (what the sensor passes: it names no one, so no user id or file name "
        "reaches the instance's run records)."))
    request_file: str = Field(default="", description=(
        "Or a request file (JSON with user_id, requested_at, requester) by name or path; it must be a file directly "
        "in the requests folder (SPOTIFY_AI_ERASURE_REQUESTS): anything else is refused, not read or deleted."))


def _label(name: str) -> str:
    """A request file named in logs and metadata without its name (which may hold a user id)."""
    return "request file #" + hashlib.sha256(name.encode()).hexdigest()[:10]


def _request(config: ErasureConfig, compliance: ComplianceResource, salt: str) -> tuple[erasure.ErasureRequest, Path]:
    if bool(config.request_key) == bool(config.request_file):
        raise dg.Failure("give exactly one of request_key or request_file (a raw user id is never taken from run "
                         "config: it would stay in the instance's run records)")
    if config.request_file:
        try:
            path = erasure.request_in_folder(compliance.requests_root, config.request_file)
        except erasure.RequestError as exc:
            raise dg.Failure(str(exc)) from None
        return erasure.ErasureRequest.from_file(path), path
    for path in erasure.request_files(compliance.requests_root):
        try:
            request = erasure.ErasureRequest.from_file(path)
        except erasure.RequestError:
            continue
        if request.key(salt) == config.request_key:
            return request, path
    raise dg.Failure(f"no readable request with key {config.request_key} in the requests folder (done already?)")


@dg.asset(
    name=ASSET, group_name="compliance", owners=["team:platform"], kinds={"parquet"}, code_version="gdpr-erasure-v2",
    pool="backup",  # never rewrite the lake while a backup or a restore reads it
    check_specs=[dg.AssetCheckSpec(COMPLETE, asset=ASSET, blocking=True, description=(
        "Scans every place a user can be, for every user in the erasure log: every lake file (tables with user_id "
        "or user_key, quarantine payloads, reports, a restore's staging area), the landing folder, every backup "
        "object, the token store, the JSON log files, the compute logs, and the instance's run records and event "
        "logs (messages and metadata). Lists where any is still found; the request file is kept until none is."))],
)
def gdpr_erasure(context: dg.AssetExecutionContext, config: ErasureConfig, lake: LakeResource,
                 token_store: TokenStoreResource, landing: LandingResource, compliance: ComplianceResource,
                 backup: BackupTargetResource) -> dg.MaterializeResult:
    """Erases one user from every asset that holds personal data (discovered by column: listening events, user
    stats and features, recommendations, quarantine, reports' per-user parts, landing exports), every backup
    object, the log files and the token store, rewriting only the files that hold them. Logs the erasure (salted
    hash only) in the lake and the backup target first, so every restore re-applies it, and writes an audit entry."""
    request, path = _request(config, compliance, compliance.salt)
    store, tokens, lake_ = backup.store(), token_store.store(), lake.lake()
    logs, compute_root = instance_scan.log_files(context.instance), instance_scan.compute_log_root(context.instance)
    entry = erasure.erase(request, lake=lake_, salt=compliance.salt, run_id=context.run.run_id,
                          now=dt.datetime.now(dt.UTC), token_store=tokens, landing_root=landing.root, store=store,
                          log_files=logs, compute_log_root=compute_root)
    hashes = {e.subject_hash for e in erasure.read_log(lake_, store)}
    found = erasure.leftovers(lake_, compliance.salt, hashes, tokens.all_user_ids(), landing.root, store=store,
                              log_files=logs, compute_log_root=compute_root,
                              instance_texts=instance_scan.instance_texts(context.instance),
                              raw_ids=[request.user_id])
    entry.complete, entry.leftovers = not found, len(found)
    erasure.write_audit(lake_, entry)
    if not found:
        path.unlink(missing_ok=True)  # it names the user; the audit keeps only the hash
    table = "\n".join(["| where | removed |", "| --- | ---: |", *(f"| {t} | {n} |" for t, n in
                                                                  sorted(entry.removed.items()))])
    return dg.MaterializeResult(
        metadata={"request_key": entry.request_key, "subject_hash": entry.subject_hash,
                  "files_rewritten": len(entry.partitions_rewritten), "token_store_removed": entry.token_store_removed,
                  "backup_objects_rewritten": entry.backup_objects_rewritten,
                  "backup_manifests_rewritten": entry.backup_manifests_rewritten,
                  "removed": dg.MetadataValue.md(table or "nothing held this user"),
                  "audit": f"{lake_.root}/{erasure.AUDIT}/{entry.request_key}.json"},
        check_results=[dg.AssetCheckResult(
            check_name=COMPLETE, passed=not found, severity=dg.AssetCheckSeverity.ERROR,
            description=f"no trace of the {len(hashes)} erased user(s)" if not found
            else f"{len(found)} place(s) still hold an erased user; the request stays open",
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
            unreadable.append({"file": _label(path.name), "days": round(age, 1),
                               "error": str(exc).replace(str(path), _label(path.name))})
    done = erasure.completed_keys(lake.lake())
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
    description="Erase one user (config: request_key, or request_file: a file in the requests folder).")


@dg.sensor(job=gdpr_erasure_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
           description="One erasure run per request file in the requests folder (run_key = request key; cursor = "
                       "request files already handed to a run).")
def gdpr_requests_sensor(context: dg.SensorEvaluationContext, compliance: ComplianceResource) -> dg.SensorResult:
    # The cursor (stored in the instance) names files by a hash of their name: a name may hold a user id.
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    present, requests = {}, []
    for path in erasure.request_files(compliance.requests_root):
        label = _label(path.name)
        stamp = f"{path.stat().st_size}:{path.stat().st_mtime_ns}"
        present[label] = stamp
        if seen.get(label) == stamp:
            continue
        try:
            request = erasure.ErasureRequest.from_file(path)
        except erasure.RequestError as exc:  # reported once per file version, without the file's name
            context.log.warning(f"erasure request not started: {str(exc).replace(str(path), label)}")
            continue
        requests.append(dg.RunRequest(
            run_key=f"erasure:{request.key(compliance.salt)}",
            run_config={"ops": {ASSET: {"config": {"request_key": request.key(compliance.salt)}}}},
            tags={"spotify_ai/trigger": "gdpr_request"}))
    # Only files still present are remembered: a done request's file is removed by its run.
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(present, sort_keys=True))
