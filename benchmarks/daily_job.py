"""Where the time of a day goes: `daily_refresh_job` on one sandbox day, through the CLI, with its per-step breakdown,
next to a baseline (another commit of this repository, by default the code before the throughput work) measured in
the same run.

    python benchmarks/daily_job.py                         # small sandbox day, ours vs the baseline, 2 rounds
    python benchmarks/daily_job.py --repeat 3 --baseline 8747581 --scale small --day 2026-01-05

Each round runs every variant once (interleaved, so a busy moment hurts both alike), each in a fresh instance
(SQLite, `dagster.yaml` of that commit with its folders made absolute) and a fresh lake, the day's export files
delivered beforehand (the sandbox's backend writing them is not the platform's work). The run is started the way
the README says (`dg launch` here; the baseline commit's own command for older commits) and timed from the command's
start to its exit. The run's event log then says, for every step:

- `start`: from the step's launch to the step process being ready (process start or fork, imports, definitions),
- `resources`: resource setup,
- `compute`: the step's own work (reading, computing, writing, and any check evaluated inside the step),

and, for the run: `launch` (the command's start to the run's start: interpreter, imports, loading the code location)
and `finish` (the last step's end to the command's exit). Steps run two at a time on 2 cores, so the per-step sums
are CPU-ish time and the wall time is what a user waits for. Quality suites are reported with the time GX took
(`suite_s`), whether they run as their own steps (the baseline) or inside the asset's step (ours).

Every round starts with no quality-suite server on the machine (core/quality/suite_server.py; it stops any): a day's
run finds none, so each round pays the Great Expectations import as that run would.

Figures depend on the machine: run it on an otherwise idle one (it prints the load average and CPU steal).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import harness  # noqa: E402

BIN = Path(sys.executable).parent


def _worktree(rev: str, workdir: Path) -> Path:
    path = workdir / f"tree-{rev}"
    if not path.exists():
        subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", str(path), rev], check=True,
                       capture_output=True, timeout=120)
    return path


def _command(tree: Path, day: str) -> list[str]:
    """The README's command of that commit: `dg launch` where the project has a dg layout."""
    if (tree / "spotify_ai_assets" / "definitions.py").exists() and "[tool.dg" in (tree / "pyproject.toml").read_text():
        return [str(BIN / "dg"), "launch", "--job", "daily_refresh_job", "--partition", day, "--target-path", str(tree)]
    return [str(BIN / "dagster"), "job", "execute", "-m", "spotify_ai_assets", "-j", "daily_refresh_job",
            "--tags", json.dumps({"dagster/partition": day})]


def _instance(tree: Path, home: Path) -> None:
    home.mkdir(parents=True)
    text = (tree / "dagster.yaml").read_text().replace(".dagster_home", str(home / "instance"))
    (home / "dagster.yaml").write_text(text)


def _deliver(seed: Path, spotify_home: Path) -> None:
    shutil.copytree(seed / "landing", spotify_home / "landing")


def _breakdown(home: Path) -> dict[str, object]:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_runs(limit=1)[0]
        return {"run_id": run.run_id, "status": run.status.value, **harness.run_timings(instance, run.run_id)}


def _one(tree: Path, label: str, seed: Path, workdir: Path, day: str, n: int,
         extra_env: dict[str, str] | None = None) -> dict[str, object]:
    home = workdir / f"{label}-{n}"
    shutil.rmtree(home, ignore_errors=True)
    _instance(tree, home / "dagster_home")
    _deliver(seed, home / "spotify")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(home / "dagster_home"), SPOTIFY_AI_HOME=str(home / "spotify"),
               SPOTIFY_AI_SANDBOX_SCALE=SCALE, PYTHONPATH=str(tree), **(extra_env or {}))
    # A daily run finds no suite server on the machine (it exits 2 minutes after the last suite, and the runs are a day
    # apart): each round starts without one, so it pays the GX import as a real day would.
    subprocess.run(["pkill", "-f", "spotify_ai_assets.core.quality.suite_server"], check=False, timeout=30)
    steal0 = harness.cpu_jiffies()
    started = time.time()
    done = subprocess.run(_command(tree, day), cwd=home, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.time() - started
    steal = harness.steal_pct(steal0, harness.cpu_jiffies())
    if done.returncode != 0:
        raise SystemExit(f"{label}: the command failed\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    out = _breakdown(home / "dagster_home")
    out.update(label=label, wall_s=round(wall, 2), steal_pct=round(steal, 1),
               launch_s=round(out["run_start"] - started, 2), finish_s=round(started + wall - out["run_end"], 2))
    return out


def _report(label: str, runs: list[dict[str, object]]) -> None:
    best = min(runs, key=lambda r: r["wall_s"])
    walls, steals = (", ".join(str(r[k]) for r in runs) for k in ("wall_s", "steal_pct"))
    print(f"\n{label}: wall {walls} s (best {best['wall_s']} s, median "
          f"{statistics.median(r['wall_s'] for r in runs):.2f} s); CPU steal {steals}%")
    print(f"  launch (interpreter, imports, code location) {best['launch_s']} s; "
          f"after the last step {best['finish_s']} s")
    print(f"  {'step':58} {'start':>7} {'resources':>9} {'compute':>8}")
    steps = best["steps"]
    for key in sorted(steps, key=lambda k: steps[k]["first_event"] or 0):
        s = steps[key]
        print(f"  {key[:58]:58} {s['start_s']:>7} {s['resources_s']:>9} {s['compute_s']:>8}")
    total = {k: round(sum(s[k] for s in steps.values()), 2) for k in ("start_s", "resources_s", "compute_s")}
    print(f"  {'sum over ' + str(len(steps)) + ' steps':58} {total['start_s']:>7} {total['resources_s']:>9} "
          f"{total['compute_s']:>8}")
    for name, seconds in sorted(best["suites"].items()):
        print(f"  quality suite {name}: {seconds} s")


SCALE = "small"


def main() -> int:
    global SCALE
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--day", default="2026-01-05")
    p.add_argument("--scale", default="small", choices=("tiny", "small", "medium"))
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--baseline", default="8747581", help="a commit to measure beside the working tree ('' for none)")
    p.add_argument("--workdir", type=Path)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--also-executor", choices=("in_process", "multiprocess"),
                   help="also run the working tree with this executor (SPOTIFY_AI_EXECUTOR), as a third variant")
    args = p.parse_args()
    SCALE = args.scale
    dt.date.fromisoformat(args.day)

    def ours(workdir: Path) -> list[Path]:
        return [workdir / "seed", *sorted(workdir.glob("ours*-*")), *sorted(workdir.glob("baseline-*"))]

    def run() -> bool:
        workdir: Path = args.workdir
        seed = workdir / "seed"
        env = {**os.environ, "SPOTIFY_AI_HOME": str(seed), "SPOTIFY_AI_SANDBOX_SCALE": SCALE}
        subprocess.run([sys.executable, "-m", "spotify_ai_assets.sandbox", "exports", "--day", args.day], env=env,
                       check=True, capture_output=True, timeout=900, cwd=REPO_ROOT)
        variants = [("ours", REPO_ROOT)] + ([("baseline", _worktree(args.baseline, workdir))] if args.baseline else [])
        executor = args.also_executor
        extra = {f"ours-{executor}": {"SPOTIFY_AI_EXECUTOR": executor}} if executor else {}
        variants += [(label, REPO_ROOT) for label in extra]
        results: dict[str, list[dict[str, object]]] = defaultdict(list)
        for name, value in harness.machine_facts():
            print(f"{name:9} {value}")
        for root in dict.fromkeys(root for _, root in variants):
            print(f"bytecode  {harness.compile_ahead(root / 'spotify_ai_assets')}")
        print(f"load average before: {os.getloadavg()}")
        for n in range(args.repeat):
            for label, tree in variants:
                results[label].append(_one(tree, label, seed, workdir, args.day, n, extra.get(label)))
        for label, _ in variants:
            _report(label + (f" ({args.baseline})" if label == "baseline" else " (working tree)"), results[label])
        summary = {label: {"best_wall_s": min(r["wall_s"] for r in rs),
                           "median_wall_s": statistics.median(r["wall_s"] for r in rs),
                           "steps": len(rs[0]["steps"]), "suites_s": rs[0]["suites"]} for label, rs in results.items()}
        print("\n" + json.dumps({"day": args.day, "scale": SCALE, "target_wall_s": 12, "target_suite_s": 1,
                                 **summary}))
        return all(r["status"] == "SUCCESS" for rs in results.values() for r in rs)

    try:
        return harness.run_in_workdir(args, "daily-job-", ours, run)
    finally:  # the baseline's worktree folder is gone with the workdir: forget it in git too
        subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "prune"], check=False, timeout=60)


if __name__ == "__main__":
    sys.exit(main())
