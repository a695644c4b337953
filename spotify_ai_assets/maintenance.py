"""Maintenance from the shell.

    python -m spotify_ai_assets.maintenance backups [--target URL]
    python -m spotify_ai_assets.maintenance backup [--target URL] [--lake URL] [--no-drill]
    python -m spotify_ai_assets.maintenance verify BACKUP_ID [--target URL]
    python -m spotify_ai_assets.maintenance restore BACKUP_ID --into LAKE [--target URL]
    python -m spotify_ai_assets.maintenance repair BACKUP_ID [--lake URL] [--target URL]
    python -m spotify_ai_assets.maintenance prune [--keep 7,4,6] [--target URL]

Defaults come from the same environment as the definitions (SPOTIFY_AI_BACKUP_URL, SPOTIFY_AI_LAKE,
AWS_ENDPOINT_URL, SPOTIFY_AI_ERASURE_SALT, SPOTIFY_AI_BACKUP_KEEP). `restore` checks every checksum before it
writes anything and re-applies the erasure log afterwards; it prints a JSON report and exits 1 on a damaged backup.
`backup` runs the same restore drill as the nightly `lake_backup` asset (restore into a scratch folder, re-read every
file) and records its verdict, so `backups` lists it as good; it exits 1 when the drill fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from dataclasses import asdict

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.maintenance import backup, restore, retention
from spotify_ai_assets.core.maintenance.storage import open_store
from spotify_ai_assets.settings import Settings
from spotify_ai_assets.version import code_version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spotify_ai_assets.maintenance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("backups", "backup", "verify", "restore", "repair", "prune"):
        p = sub.add_parser(name)
        p.add_argument("--target", help="backup target: folder or s3://bucket/prefix (default SPOTIFY_AI_BACKUP_URL)")
        if name in ("verify", "restore", "repair"):
            p.add_argument("backup_id")
        if name == "restore":
            p.add_argument("--into", required=True, help="target lake: folder or s3://bucket/prefix")
            p.add_argument("--keep-extra", action="store_true", help="keep lake files the backup does not have")
        if name in ("backup", "repair"):
            p.add_argument("--lake", help="the source lake (default SPOTIFY_AI_LAKE)")
        if name == "backup":
            p.add_argument("--no-drill", action="store_true", help="skip the restore drill (the backup stays "
                                                                    "'not drilled' and retention will not count on it)")
        if name == "prune":
            p.add_argument("--keep", help="daily,weekly,monthly (default SPOTIFY_AI_BACKUP_KEEP)")
    args = parser.parse_args(argv)
    settings = Settings.from_environ()
    store = open_store(args.target or settings.backup_url, endpoint_url=settings.s3_endpoint_url)
    now = dt.datetime.now(dt.UTC)
    if args.command == "backups":
        infos = retention.describe(store)
        if not infos:
            print(f"no backups in {args.target or settings.backup_url}")
        for info in infos:
            state = ("not drilled" if not info.drilled else "good (restore drill passed)" if info.good
                     else "bad (restore drill failed)")
            print(f"{info.backup_id}  {info.created_at.isoformat()}  {state}")
        return 0
    if args.command == "backup":
        lake = Lake(args.lake or settings.lake_root, s3_endpoint_url=settings.s3_endpoint_url)
        result = backup.take_backup(lake, store, code_version=code_version(), now=now)
        out: dict[str, object] = {"backup_id": result.backup_id, "objects": len(result.manifest.entries),
                                  "objects_copied": result.objects_copied, "bytes_copied": result.bytes_copied}
        passed = True
        if not args.no_drill:
            try:
                with tempfile.TemporaryDirectory(prefix="restore-drill-") as scratch:
                    drill = restore.drill(store, result.backup_id, scratch)
            except Exception as exc:  # e.g. no room for the scratch copy: the backup is taken, only not drilled
                passed = False
                out["drill"] = {"passed": False, "error": f"{type(exc).__name__}: {exc}"}
            else:
                backup.record_drill(store, result.backup_id, drill.verdict(dt.datetime.now(dt.UTC)))
                passed = drill.passed
                out["drill"] = {"passed": drill.passed, "objects_checked": drill.objects,
                                "problems": drill.problems[:20]}
        print(json.dumps(out))
        return 0 if passed else 1
    if args.command == "verify":
        problems = restore.verify(store, backup.load_manifest(store, args.backup_id))
        print(json.dumps({"backup_id": args.backup_id, "problems": problems}, indent=1))
        return 1 if problems else 0
    if args.command == "restore":
        target = Lake(args.into, s3_endpoint_url=settings.s3_endpoint_url)
        salt = os.environ.get("SPOTIFY_AI_ERASURE_SALT") or settings.erasure_salt_default
        if not salt:  # a wrong salt would silently match no one and bring erased users back
            print("SPOTIFY_AI_ERASURE_SALT must be set to restore outside the sandbox", file=sys.stderr)
            return 2
        try:
            report = restore.restore(store, args.backup_id, target, salt=salt, mirror=not args.keep_extra)
        except restore.BackupDamaged as exc:
            print(json.dumps({"backup_id": exc.backup_id, "damaged": exc.problems}, indent=1))
            return 1
        print(json.dumps(asdict(report), indent=1))
        return 0
    if args.command == "repair":
        lake = Lake(args.lake or settings.lake_root, s3_endpoint_url=settings.s3_endpoint_url)
        repaired, lost = restore.repair(store, args.backup_id, lake)
        print(json.dumps({"backup_id": args.backup_id, "repaired": repaired, "unrecoverable": lost}, indent=1))
        return 1 if lost else 0
    policy = retention.Policy.parse(args.keep, "--keep") if args.keep else retention.Policy(*settings.backup_retention)
    report = retention.prune(store, policy)
    print(json.dumps(asdict(report), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
