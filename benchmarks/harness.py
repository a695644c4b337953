"""What every benchmark script shares: machine facts, peak RSS, and a working directory it cleans up honestly."""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    # Linux reports ru_maxrss in KiB; RUSAGE_CHILDREN is the largest terminated (and waited-for) child.
    return resource.getrusage(who).ru_maxrss / 1024


def cpu_jiffies() -> tuple[int, int]:
    """(steal, total) CPU time since boot from /proc/stat: steal is time this VM's vCPUs were runnable but the
    host ran someone else, the main reason one benchmark run differs from the next on a shared machine."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
    return fields[7], sum(fields[:8])


def steal_pct(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return 100.0 * (after[0] - before[0]) / total if total else 0.0


def compile_ahead(package: Path) -> str:
    """Write the package's bytecode, as `pip install .` or an image build does. An editable install under
    PYTHONDONTWRITEBYTECODE=1 (set on some machines, this one included) never caches it, so every process, each
    step's included, would compile the ~170 source files again (about 0.3 s): a cost of the checkout, not the code."""
    import compileall

    compileall.compile_dir(str(package), quiet=1, force=False)
    return f"compiled ahead ({package.name}; PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})"


def machine_facts() -> list[tuple[str, str]]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return [
        ("nproc", f"{len(os.sched_getaffinity(0))} usable (os.cpu_count={os.cpu_count()})"),
        ("cpu", cpu),
        ("memory", f"{mem_gib:.1f} GiB"),
        ("platform", platform.platform()),
        ("python", platform.python_version()),
        ("cpu speed", cpu_speed()),
    ]


def cpu_speed() -> str:
    """One core's speed, to compare figures taken on different machines: the best of 3 rounds of a pure-Python loop
    of 10 million additions, and `import dagster` in a fresh interpreter (what every step and command pays first).
    The same VM size has ranged 3-4x on both between sessions here."""
    import subprocess
    import sys
    import time

    loops = []
    for _ in range(3):
        t = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        loops.append(time.perf_counter() - t)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import dagster"], check=True, timeout=120)
    return f"10M-addition loop {min(loops):.2f} s; import dagster {time.perf_counter() - t:.2f} s"


def run_in_workdir(args: argparse.Namespace, prefix: str, ours: Callable[[Path], list[Path]],
                   run: Callable[[], bool]) -> int:
    """Run the benchmark in `args.workdir` (a new /tmp folder by default) and clean up after it.

    `ours(workdir)` names the folders this run writes: they are emptied first, because a leftover from an earlier
    `--keep` run would be mistaken for this run's output, and they are the only thing removed from a folder the
    caller handed in. Exit status 0 when `run()` says the results are right, 1 otherwise.
    """
    created = args.workdir is None
    if created:
        args.workdir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    args.workdir = args.workdir.resolve()
    folders = ours(args.workdir)
    for d in folders:
        shutil.rmtree(d, ignore_errors=True)
    print(f"workdir {args.workdir}", file=sys.stderr)
    try:
        ok = run()
    finally:
        if args.keep:
            print(f"kept {args.workdir}", file=sys.stderr)
        elif created:
            shutil.rmtree(args.workdir, ignore_errors=True)
        else:
            for d in folders:
                shutil.rmtree(d, ignore_errors=True)
    return 0 if ok else 1


_MARKS = {"STEP_WORKER_STARTING": "launched", "STEP_WORKER_STARTED": "ready", "RESOURCE_INIT_STARTED": "init",
          "RESOURCE_INIT_SUCCESS": "inited", "STEP_START": "start", "STEP_SUCCESS": "end", "STEP_FAILURE": "end"}


def run_timings(instance: Any, run_id: str) -> dict[str, Any]:
    """Where a finished run's time went, from its event log: per step `start_s` (launch to the step process being
    ready: process start or fork, imports, definitions), `resources_s` (resource setup) and `compute_s` (the step's
    own work, checks evaluated in the step included); the run's start and end timestamps; and the seconds each
    quality suite took (its `suite_seconds` metadata when evaluated inside an asset's step, else its own step's)."""
    records = instance.get_records_for_run(run_id, limit=100_000).records
    steps: dict[str, dict[str, float]] = defaultdict(dict)
    run_start = run_end = None
    suites: dict[str, float | None] = {}
    for record in records:
        entry = record.event_log_entry
        event, ts = entry.dagster_event, entry.timestamp
        if event is None:
            continue
        kind = event.event_type.name  # enum names: some values are legacy ("PIPELINE_START")
        if kind == "RUN_START":
            run_start = ts
        elif kind in ("RUN_SUCCESS", "RUN_FAILURE"):
            run_end = ts
        if event.step_key and kind in _MARKS:
            steps[event.step_key].setdefault(_MARKS[kind], ts)
        if kind == "ASSET_CHECK_EVALUATION" and event.event_specific_data.check_name.endswith("_suite"):
            seconds = event.event_specific_data.metadata.get("suite_seconds")
            suites[event.event_specific_data.check_name] = float(seconds.value) if seconds is not None else None
    rows = {}
    for key, t in steps.items():
        launched = t.get("launched", t.get("init", t.get("start", 0.0)))
        rows[key] = {"start_s": round(t.get("ready", launched) - launched, 2),
                     "resources_s": round(t["inited"] - t["init"], 2) if "init" in t and "inited" in t else 0.0,
                     "compute_s": round(t.get("end", 0.0) - t.get("start", 0.0), 2),
                     "first_event": launched, "end": t.get("end")}
    for name, seconds in list(suites.items()):  # a suite run as its own step is timed by its step
        step = next((k for k in rows if k.endswith(name)), None)
        if seconds is None and step:
            suites[name] = rows[step]["compute_s"]
    return {"run_start": run_start, "run_end": run_end, "steps": rows, "suites": suites}
