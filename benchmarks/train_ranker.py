"""Benchmark training the recommendations ranker on 1M interaction rows: our path against a plain LGBMRanker.fit.

    python benchmarks/train_ranker.py                # 1,000,000 rows, 100 rounds, 1 then 2 threads
    python benchmarks/train_ranker.py --threads 2    # 2 threads only (an idle 2-core machine)
    python benchmarks/train_ranker.py --rows 200000  # a quicker run
    python benchmarks/train_ranker.py --keep         # keep the workdir (the rows as Parquet)

The rows are real sandbox candidates (small world, 2000 users): the candidate feature table of successive weekly
cutoffs, labelled by the week after each, users without a positive dropped (lambdarank learns nothing from them),
cut at a user boundary at `--rows`: 22 features. Both contenders train on exactly those rows with the same
parameters (lambdarank, 100 rounds, 31 leaves, deterministic), with each thread count of `--threads`:

  ours    `ranker.train`: Parquet -> Arrow -> one float32 matrix -> lgb.Dataset -> lgb.train (no pandas).
  plain   the usual way: Parquet -> pandas DataFrame (float64) -> `LGBMRanker(...).fit(X, y, group=...)`.

Each runs in a fresh child process (this script with `--phase`), so its peak RSS is its own; the wall time is the
load plus the fit. On a machine where other processes hold a core, two OpenMP threads wait on each other at every
histogram step and are several times slower than one: compare the rows by thread count, and mind the load average
printed first. Figures are printed, never asserted. Exit status 1 only if a contender fails or the two models
disagree on the training rows' NDCG by more than 1%.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import harness  # noqa: E402  (benchmarks/harness.py, next to this script)
from harness import run_in_workdir  # noqa: E402

ROWS = 1_000_000
ROUNDS = 100
THREADS = "1,2"
TIME_TARGET_S = 20.0
RSS_TARGET_MIB = 2048.0
SALT = "benchmark-salt"  # the models key users by pseudonym (core/kernel/privacy.py)


def prepare(path: Path, rows: int) -> dict:
    """Sandbox candidate rows with labels, users with a positive only, cut at a user boundary at `rows`."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from spotify_ai_assets.core.kernel.privacy import pseudonymize
    from spotify_ai_assets.core.models import features as F
    from spotify_ai_assets.core.models import ranker
    from spotify_ai_assets.sandbox.events import generate_day
    from spotify_ai_assets.sandbox.world import EPOCH, World

    world = World(seed=7, scale="small")
    days: list[pa.Table] = []

    def events_until(n: int) -> pa.Table:
        while len(days) < n:
            day = EPOCH + dt.timedelta(days=len(days))
            t = pa.concat_tables([h for _, h in generate_day(world, day)])
            days.append(pseudonymize(t.cast(pa.schema([
                (f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in t.schema])), SALT))
        return pa.concat_tables(days)

    parts, total, cutoff = [], 0, EPOCH + dt.timedelta(days=F.HISTORY_DAYS)
    while total < rows:
        events = events_until((cutoff - EPOCH).days + F.HORIZON_DAYS)
        feats = F.build(events, cutoff)
        labelled = ranker.with_labels(feats.candidates, F.labels(events, cutoff))
        positive = pc.unique(labelled.filter(pc.equal(labelled["label"], 1))["user_key"])
        labelled = labelled.filter(pc.is_in(labelled["user_key"], value_set=positive))
        parts.append(labelled)
        total += labelled.num_rows
        print(f"  cutoff {cutoff}: {labelled.num_rows:,} rows ({total:,} so far)", file=sys.stderr)
        cutoff += dt.timedelta(days=F.HORIZON_DAYS)
    table = pa.concat_tables(parts)
    key = pc.binary_join_element_wise(table["cutoff"].cast(pa.string()), table["user_key"], "|").to_numpy(
        zero_copy_only=False)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    end = int(starts[np.searchsorted(starts, rows)]) if rows < table.num_rows and rows <= starts[-1] else rows
    table = table.slice(0, end).select(["cutoff", "user_key", "track_id", "label", *F.RANKER_FEATURES])
    pq.write_table(table, path)
    return {"rows": table.num_rows, "features": len(F.RANKER_FEATURES),
            "groups": len(np.unique(key[:end])), "positives": int(pc.sum(table["label"]).as_py())}


def peak_rss_mib() -> float:
    """This process's own high-water RSS (VmHWM). Not ru_maxrss: Linux carries the parent's high-water mark at fork
    across execve, so a child started by a parent holding the prepared rows would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _ndcg(scores, labels, groups) -> float:
    import numpy as np

    out, start = [], 0
    for g in groups:
        s, y = scores[start:start + g], labels[start:start + g]
        start += g
        order = np.argsort(-s, kind="stable")[:10]
        dcg = float(np.sum(y[order] / np.log2(np.arange(2, len(order) + 2))))
        ideal = np.sort(y)[::-1][:10]
        idcg = float(np.sum(ideal / np.log2(np.arange(2, len(ideal) + 2))))
        out.append(dcg / idcg if idcg else 0.0)
    return float(np.mean(out))


def phase(name: str, path: Path, threads: int, rounds: int) -> dict:
    import numpy as np

    t0 = time.perf_counter()
    if name == "ours":
        import pyarrow.parquet as pq

        from spotify_ai_assets.core.models import ranker

        rows = pq.read_table(path)
        m = ranker.matrix(rows)
        t1 = time.perf_counter()
        booster = ranker.fit(m.x, m.y, m.groups, tuple(ranker.RANKER_FEATURES), rounds, {"num_threads": threads})
        t2 = time.perf_counter()
        scores, labels, groups = booster.predict(m.x, num_threads=threads), m.y, m.groups
    else:
        import lightgbm as lgb
        import pandas as pd

        from spotify_ai_assets.core.models import ranker
        from spotify_ai_assets.core.models.features import RANKER_FEATURES

        df = pd.read_parquet(path)
        groups = df.groupby(["cutoff", "user_key"], sort=False).size().to_numpy()
        x, labels = df[list(RANKER_FEATURES)].astype("float64"), df["label"].to_numpy()
        t1 = time.perf_counter()
        p = ranker.PARAMS
        model = lgb.LGBMRanker(
            objective="lambdarank", n_estimators=rounds, learning_rate=p["learning_rate"], num_leaves=p["num_leaves"],
            min_child_samples=p["min_data_in_leaf"], random_state=p["seed"], n_jobs=threads, deterministic=True,
            force_row_wise=True, lambdarank_truncation_level=p["lambdarank_truncation_level"], verbosity=-1)
        model.fit(x, labels, group=groups)
        t2 = time.perf_counter()
        scores = model.predict(x)
    return {"load_s": round(t1 - t0, 2), "fit_s": round(t2 - t1, 2), "wall_s": round(t2 - t0, 2),
            "peak_rss_mib": round(peak_rss_mib(), 1), "train_ndcg_at_10": round(_ndcg(np.asarray(scores),
                                                                                     np.asarray(labels), groups), 5)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=ROWS)
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--threads", default=THREADS, help="comma-separated thread counts, each run for both")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--phase", choices=("ours", "plain"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.workdir / "rows.parquet", int(args.threads), args.rounds)))
        return 0

    def run() -> bool:
        for k, v in harness.machine_facts():
            print(f"{k:10s} {v}")
        print(f"{'load avg':10s} {os.getloadavg()[0]:.2f} (other work on the machine slows every figure below)")
        t = time.perf_counter()
        info = prepare(args.workdir / "rows.parquet", args.rows)
        print(f"data       {info['rows']:,} rows, {info['features']} features, {info['groups']:,} query groups, "
              f"{info['positives']:,} positives (sandbox small, prepared in {time.perf_counter() - t:.0f} s)")
        results: dict[tuple[str, int], dict] = {}
        for threads in [int(t) for t in str(args.threads).split(",")]:
            for name in ("ours", "plain"):
                cmd = [sys.executable, __file__, "--phase", name, "--workdir", str(args.workdir), "--threads",
                       str(threads), "--rounds", str(args.rounds)]
                done = subprocess.run(cmd, capture_output=True, text=True,
                                      env={**os.environ, "OMP_NUM_THREADS": str(threads)})
                if done.returncode != 0:
                    print(f"{name} failed:\n{done.stderr}", file=sys.stderr)
                    return False
                results[(name, threads)] = json.loads(done.stdout.strip().splitlines()[-1])
                r = results[(name, threads)]
                print(f"  {name} x{threads}: wall {r['wall_s']} s (load avg now {os.getloadavg()[0]:.2f})",
                      file=sys.stderr)
        print(f"\n{'':6s} {'threads':>7s} {'load s':>7s} {'fit s':>7s} {'wall s':>7s} {'peak RSS MiB':>13s} "
              f"{'train NDCG@10':>14s}")
        for (name, threads), r in results.items():
            print(f"{name:6s} {threads:7d} {r['load_s']:7.2f} {r['fit_s']:7.2f} {r['wall_s']:7.2f} "
                  f"{r['peak_rss_mib']:13.1f} {r['train_ndcg_at_10']:14.5f}")
        ok = True
        for threads in sorted({t for _, t in results}):
            ours, plain = results[("ours", threads)], results[("plain", threads)]
            print(f"{threads} thread(s): wall < {TIME_TARGET_S:.0f} s "
                  f"{'met' if ours['wall_s'] < TIME_TARGET_S else 'MISSED'}; peak RSS < {RSS_TARGET_MIB:.0f} MiB "
                  f"{'met' if ours['peak_rss_mib'] < RSS_TARGET_MIB else 'MISSED'}; plain / ours wall "
                  f"x{plain['wall_s'] / ours['wall_s']:.2f}")
            a, b = ours["train_ndcg_at_10"], plain["train_ndcg_at_10"]
            ok = ok and abs(a - b) <= 0.01 * max(a, b)
        return ok

    return run_in_workdir(args, "train-ranker-", lambda w: [], run)


if __name__ == "__main__":
    raise SystemExit(main())
