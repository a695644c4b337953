"""Benchmark lake backups: a first (full) backup, a repeat of the unchanged lake (incremental: nothing copied), a
repeat after one partition changed, the restore drill and a restore, to a local folder or to S3 (a moto server on
loopback, `--s3`).

    python benchmarks/backup.py                       # 7 sandbox days at scale small, local backup folder
    python benchmarks/backup.py --days 14 --scale medium --s3

The lake holds the sandbox's listening events and the three daily aggregates, written exactly as the assets write
them (one zstd Parquet file per table partition). Figures are printed, never asserted; the run fails (exit 1) only
if the repeat copied anything or a restore does not match the lake byte for byte.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import harness  # noqa: E402  (benchmarks/harness.py, next to this script)
from harness import peak_rss_mib, run_in_workdir  # noqa: E402


def build_lake(root: Path, scale: str, days: int) -> object:
    import pyarrow as pa

    from spotify_ai_assets.core.analytics.daily_aggregates import daily_aggregates
    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.sandbox.events import generate_day
    from spotify_ai_assets.sandbox.world import World

    world, lake = World(seed=7, scale=scale), Lake(str(root))
    for i in range(days):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=i)
        events = pa.concat_tables([t for _, t in generate_day(world, day)])
        events = events.cast(pa.schema([(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                                        for f in events.schema]))
        lake.write("listening_events", events, day.isoformat())
        tables = daily_aggregates(events, day).tables
        for table, name in (("daily_track_country_stats", "track_country"), ("daily_artist_stats", "artist"),
                            ("daily_user_stats", "user")):
            lake.write(table, tables[name], day.isoformat())
    return lake


def digests(lake: object) -> dict[str, str]:
    from spotify_ai_assets.core.maintenance import lakefiles

    return {f.path: hashlib.sha256(lakefiles.read_bytes(lake, f.path)).hexdigest() for f in lakefiles.list_files(lake)}


def run(args: argparse.Namespace) -> bool:
    import pyarrow as pa

    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.core.maintenance import backup, lakefiles, restore
    from spotify_ai_assets.core.maintenance.storage import LocalStore, open_store

    for name, value in harness.machine_facts():
        print(f"{name:>10}: {value}")
    t = time.perf_counter()
    lake = build_lake(args.workdir / "lake", args.scale, args.days)
    files = lakefiles.list_files(lake)
    size = sum(f.size for f in files)
    print(f"lake: {len(files)} files, {size / 2**20:.1f} MiB, {args.days} days at scale {args.scale} "
          f"(built in {time.perf_counter() - t:.1f} s)")

    server = None
    if args.s3:
        import boto3
        from moto.server import ThreadedMotoServer

        for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"),
                            ("AWS_DEFAULT_REGION", "us-east-1")):
            os.environ.setdefault(name, value)
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="bench-backups")
        store = open_store("s3://bench-backups/nightly", s3_client=client)
        print(f"target: {store.url} (moto server on loopback, {endpoint})")
    else:
        store = LocalStore(args.workdir / "backups")
        print(f"target: {store.url} (local folder)")

    ok = True
    rows = []
    try:
        now = dt.datetime(2026, 1, 8, 4, tzinfo=dt.UTC)
        for label, prepare in (("first (full)", None), ("repeat, unchanged", None),
                               ("repeat, 1 partition changed", "change")):
            if prepare == "change":
                lake.write("daily_user_stats", pa.table({"user_id": ["bench"], "plays": [1]}), "2026-01-02")
            t = time.perf_counter()
            result = backup.take_backup(lake, store, code_version="bench", now=now)
            elapsed = time.perf_counter() - t
            now += dt.timedelta(days=1)
            rows.append((label, elapsed, result.objects_copied, result.bytes_copied, result.files_hashed))
            if label == "repeat, unchanged" and (result.objects_copied or result.bytes_copied):
                print("FAIL: the repeat backup of an unchanged lake copied something")
                ok = False
        print(f"\n{'backup':<30}{'time s':>9}{'objects copied':>16}{'bytes copied':>14}{'files read':>12}")
        for label, elapsed, copied, nbytes, hashed in rows:
            print(f"{label:<30}{elapsed:>9.2f}{copied:>16}{nbytes:>14,}{hashed:>12}")
        print(f"repeat vs first: x{rows[0][1] / max(rows[1][1], 1e-9):.0f} faster")

        last = backup.list_backups(store)[-1]
        with tempfile.TemporaryDirectory(prefix="drill-", dir=args.workdir) as scratch:
            t = time.perf_counter()
            drill = restore.drill(store, last, scratch)
            print(f"\nrestore drill: {time.perf_counter() - t:.2f} s, passed={drill.passed}, "
                  f"{drill.objects} objects, {drill.bytes / 2**20:.1f} MiB")
        target = Lake(str(args.workdir / "restored"))
        t = time.perf_counter()
        restore.restore(store, last, target, salt="bench")
        print(f"restore into an empty lake: {time.perf_counter() - t:.2f} s")
        if digests(target) != digests(lake):
            print("FAIL: the restored lake differs from the source")
            ok = False
        else:
            print("restored lake matches the source byte for byte")
        print(f"peak RSS {peak_rss_mib():.0f} MiB")
    finally:
        if server is not None:
            server.stop()
    return ok and drill.passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="small", choices=("tiny", "small", "medium", "bench"))
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--s3", action="store_true", help="back up to a moto S3 server on loopback")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    return run_in_workdir(args, "bench-backup-", lambda w: [w / "lake", w / "backups", w / "restored"],
                          lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
