"""Benchmark a backfill of daily_refresh_job the way production runs it: the production instance on PostgreSQL
(deploy/dagster.prod.yaml, a fresh database per mode, dropped afterwards), `dagster job backfill` submitted to a
real `dagster-daemon` (run queue, pools, one run worker process per run), once per executor mode: `auto` (the
default deployment: this job's steps in its run worker's process), `multiprocess` (a process per step) and
`celery` (each step a task on N Celery worker processes, Redis broker).

    python benchmarks/backfill.py                             # 30 days at 2 million events a day (hours)
    python benchmarks/backfill.py --days 3 --events 2000000   # the reduced check
    python benchmarks/backfill.py --days 2 --events 200000 --modes celery

Every sandbox day's exports are generated first (World at scale medium with `--events` a day, Parquet files in the
landing folder, shared by every mode) and are not timed. Printed per mode: wall time from submitting the backfill
to the last run's end, runs and steps, and the peak RSS of each kind of process (daemon, code server, run worker,
step process, Celery worker) sampled with psutil every 0.2 s (a peak shorter than that can be missed), and the
split between overhead (step process start, imports, definitions, resource setup) and work per day. Then the
proof that every partition was written exactly once: one successful run per day, exactly one materialization
event per (asset, day) in the instance, and one Parquet file per table partition in the lake. Exit status 1 if
any of that fails.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import harness  # noqa: E402  (benchmarks/harness.py, next to this script)

SEED = 7
SCALE = "medium"
FIRST_DAY = dt.date(2026, 1, 1)
PROD_INSTANCE = REPO_ROOT / "deploy" / "dagster.prod.yaml"
BIN = Path(sys.executable).parent


def _generate(args: tuple[str, str, int]) -> tuple[str, int]:
    from spotify_ai_assets.sandbox.exports import write_day_exports
    from spotify_ai_assets.sandbox.world import World

    landing, day, events = args
    manifest = write_day_exports(World(SEED, SCALE, events_per_day=events), landing, dt.date.fromisoformat(day),
                                 fmt="parquet")
    return day, manifest.records


def generate_landing(landing: Path, days: list[str], events: int) -> None:
    todo = [d for d in days if not (landing / "events" / f"date={d}" / "_manifest.json").exists()]
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
        records = dict(pool.map(_generate, [(str(landing), d, events) for d in todo]))
    if todo:
        print(f"generated exports for {len(todo)} days ({sum(records.values()):,} records) in "
              f"{time.perf_counter() - t:.0f} s (not timed below)")


class RssSampler:
    """Peak RSS and CPU time per process, sampled over every process of this benchmark's sessions."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.peaks: dict[int, tuple[str, float]] = {}
        # Each process's own user + system CPU seconds when last seen. Summed, it is the CPU the mode's processes
        # spent (a process's last 0.2 s can be missed; PostgreSQL and Redis are not counted): on a machine shared with
        # other work, a steadier measure of a change in work than the wall, which waits on the other tenants.
        self.cpu: dict[tuple[int, float], float] = {}  # by (pid, start time): a pid can be reused
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def add(self, pid: int) -> None:
        self.roots.append(pid)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            for root in list(self.roots):
                try:
                    procs = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
                except psutil.Error:
                    continue
                for p in procs:
                    try:
                        rss = p.memory_info().rss / 2**20
                        times, key = p.cpu_times(), (p.pid, p.create_time())
                        kind = _kind(p.cmdline(), p.parent().cmdline() if p.parent() else [])
                    except psutil.Error:
                        continue
                    self.cpu[key] = times.user + times.system
                    if rss > self.peaks.get(p.pid, ("", 0.0))[1]:
                        self.peaks[p.pid] = (kind, rss)
            self._stop.wait(0.2)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def by_kind(self) -> dict[str, tuple[int, float]]:
        out: dict[str, tuple[int, float]] = {}
        for kind, rss in self.peaks.values():
            n, peak = out.get(kind, (0, 0.0))
            out[kind] = (n + 1, max(peak, rss))
        return out


def _kind(cmd: list[str], parent: list[str]) -> str:
    line, parent_line = " ".join(cmd), " ".join(parent)
    if "watch_orphans" in line or (cmd and os.path.basename(cmd[0]) == "tail"):
        return "log tail helper"  # the compute-log manager's tail -F and its orphan watcher
    if "dagster-daemon" in line:
        return "daemon"
    if "grpc" in line or "code-server" in line:
        return "code server"
    if "execute_run" in line or ("multiprocessing" in line and ("grpc" in parent_line or "code-server" in parent_line)):
        return "run worker"  # the code server starts each run in a spawned process
    if "celery" in line and "worker" in line:
        return "celery worker"
    if "multiprocessing" in line and "celery" in parent_line:
        return "celery worker"
    if "execute_step" in line or "multiprocessing" in line:
        return "step process"
    return os.path.basename(cmd[0]) if cmd else "?"


def _machine_busy_s() -> float:
    """CPU seconds every core of the machine has spent busy (not idle, not waiting on I/O) since boot."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, cwd=REPO_ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


def _print_split(instance: object, runs: list, records: list, days: int) -> None:
    """Per day, the split between overhead and work, summed over a run's steps (steps overlap, so these are
    step-seconds, not wall seconds): the run worker's start (queued to started), each step's start (process start or
    fork, imports, definitions) and resource setup, against the steps' own work."""
    totals = defaultdict(float)
    by_step: dict[str, list[float]] = defaultdict(list)
    run_walls: list[float] = []
    intervals: list[tuple[float, float]] = []
    all_timings: dict[str, dict] = {}
    for run, record in zip(runs, records, strict=True):
        timings = all_timings[run.run_id] = harness.run_timings(instance, run.run_id)
        if record and record.start_time and record.create_timestamp:
            totals["run_start"] += record.start_time - record.create_timestamp.timestamp()
        if timings["run_start"] and timings["run_end"]:
            run_walls.append(timings["run_end"] - timings["run_start"])
        for name, step in timings["steps"].items():
            for key in ("start_s", "resources_s", "compute_s"):
                totals[key] += step[key]
            by_step[name].append(step["compute_s"])
            if step["end"]:
                intervals.append((step["first_event"], step["end"]))
    overhead = totals["start_s"] + totals["resources_s"]
    per_day = {k: v / days for k, v in totals.items()}
    share = 100 * overhead / max(overhead + totals["compute_s"], 1e-9)
    print(f"  per day, summed over steps: overhead {overhead / days:.1f} step-s (step start {per_day['start_s']:.1f}, "
          f"resources {per_day['resources_s']:.1f}), work {per_day['compute_s']:.1f} step-s ({share:.0f}% overhead); "
          f"run queued to started {per_day['run_start']:.1f} s")
    if intervals:
        # How busy the steps kept the machine: the share of the span with at least one step under way, and how many
        # were under way on average (2 cores: below 2 means cores waited on the queue, a pool or a dependency).
        span_start, span_end = min(a for a, _ in intervals), max(b for _, b in intervals)
        edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
        busy = level = 0.0
        prev = span_start
        for t, d in edges:
            busy += (t - prev) if level > 0 else 0.0
            level += d
            prev = t
        span = max(span_end - span_start, 1e-9)
        mean = sum(b - a for a, b in intervals) / span
        median_run = sorted(run_walls)[len(run_walls) // 2] if run_walls else float("nan")
        print(f"  steps under way: at least one {100 * busy / span:.0f}% of the span, {mean:.2f} on average; "
              f"a run's wall: median {median_run:.1f} s")
        _print_handovers(instance, all_timings)
        slowest = sorted(by_step.items(), key=lambda kv: -sum(kv[1]))[:6]
        print("  work per step, mean s: " + ", ".join(f"{k} {sum(v) / len(v):.1f}" for k, v in slowest))


def _print_handovers(instance: object, timings_by_run: dict[str, dict]) -> None:
    """Where a run's wall goes outside its steps, as medians over the runs: from the end of the run whose slot it
    took to its own start (the daemon's run queue and the run worker's launch), from its start to its first step,
    and from its last step to its end. A backfill's wall is these plus the steps, wave after wave."""
    import dagster as dg

    spans = []  # (dequeued or None, run start, first step, last step end, run end)
    for run_id, t in timings_by_run.items():
        steps = [s for s in t["steps"].values() if s["end"]]
        if t["run_start"] and t["run_end"] and steps:
            starting = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_STARTING).records
            spans.append((starting[0].event_log_entry.timestamp if starting else None, t["run_start"],
                          min(s["first_event"] for s in steps), max(s["end"] for s in steps), t["run_end"]))
    if not spans:
        return
    first_start = min(s[1] for s in spans)
    # A run that started after some run had ended took that run's slot: the gap is the queue's (until the daemon
    # dequeues it: RUN_STARTING) and the launch's (the run worker's process start and code load, until RUN_START).
    handover, queue = [], []
    for dequeued, start, *_ in spans:
        freed = [e for *_, e in spans if e <= start]
        if start > first_start + 1e-3 and freed:
            handover.append(start - max(freed))
            if dequeued is not None:
                queue.append(dequeued - max(freed))

    def median(xs: list[float]) -> str:
        return f"{sorted(xs)[len(xs) // 2]:.1f} s" if xs else "n/a"

    print(f"  outside the steps, medians: a freed slot to the next run's start {median(handover)} "
          f"({len(handover)} runs; dequeued after {median(queue)}), "
          f"run start to first step {median([b - a for _, a, b, _, _ in spans])}, "
          f"last step to run end {median([d - c for _, _, _, c, d in spans])}")


def _print_timeline(instance: object, runs: list, records: list) -> None:
    """Each run's life in seconds from the first run's creation: queued, dequeued (RUN_STARTING), started, ended, and
    every step as name[launched>started-ended] (launched: the executor asked for it; started: STEP_START), in start
    order. Shows what waits on what: a step's launch after its inputs' ends, a run's start after a slot freed."""
    import dagster as dg

    t0 = min(r.create_timestamp.timestamp() for r in records if r)
    rows = []
    waits: dict[str, list[float]] = defaultdict(list)
    for run, record in zip(runs, records, strict=True):
        t = harness.run_timings(instance, run.run_id)
        starting = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_STARTING).records
        dequeued = starting[0].event_log_entry.timestamp - t0 if starting else float("nan")
        # Celery: the executor's "Submitting celery task" engine event is when the step was handed over, and
        # "Executing steps ... in celery worker" is when a worker had taken it and built the step's plan.
        submitted: dict[str, float] = {}
        taken: dict[str, float] = {}
        for rec in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records:
            event = rec.event_log_entry.dagster_event
            if event and event.step_key and (event.message or "").startswith("Submitting celery task"):
                submitted.setdefault(event.step_key, rec.event_log_entry.timestamp)
            if event and event.step_key and (event.message or "").startswith("Executing steps"):
                taken.setdefault(event.step_key, rec.event_log_entry.timestamp)
        steps = sorted(((submitted.get(k, s["first_event"]) - t0, taken.get(k, s["first_event"]) - t0,
                         s["first_event"] - t0 + s["start_s"] + s["resources_s"],
                         (s["end"] or s["first_event"]) - t0, k.split(".")[-1]) for k, s in t["steps"].items()))
        for _, b, c, _, name in steps:
            waits[name].append(c - b)
        rows.append((t["run_start"] - t0 if t["run_start"] else float("nan"), run.tags.get("dagster/partition"),
                     record.create_timestamp.timestamp() - t0, dequeued, t["run_end"] - t0 if t["run_end"] else 0,
                     steps))
    print("  timeline (s from the first run queued): day queued/dequeued/started-ended: steps "
          "launched>taken>ready-end (taken: a Celery worker built the step's plan; else as launched)")
    for start, day, queued, dequeued, end, steps in sorted(rows):
        print(f"  {day} {queued:.1f}/{dequeued:.1f}/{start:.1f}-{end:.1f}: " + ", ".join(
            f"{name}[{a:.1f}>{b:.1f}>{c:.1f}-{d:.1f}]" for a, b, c, d, name in steps))
    print("  taken to ready, median s: " + ", ".join(f"{k} {sorted(v)[len(v) // 2]:.2f}" for k, v in waits.items()))


def run_mode(mode: str, args: argparse.Namespace, days: list[str]) -> bool:
    import dagster as dg
    import psycopg2

    from spotify_ai_assets.core.kernel.lake import PART_FILE, Lake

    work = args.workdir / mode
    home = work / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(args.instance_yaml.read_text())
    db = f"spotify_ai_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{db}"')
    # Every Dagster process reaches PostgreSQL through PgBouncer, as deployed (deploy/pgbouncer.ini), unless
    # `--pg-via direct`; the benchmark's own bookkeeping (this database's creation and drop) goes direct.
    pooler = contextlib.ExitStack()
    pg_port = args.pg_port
    if args.pg_via == "pgbouncer":
        from spotify_ai_assets_tests.deploy_fixtures import pgbouncer

        pg_port = pooler.enter_context(pgbouncer(work / "pgbouncer", args.pg_host, args.pg_port))
    broker = f"redis://127.0.0.1:6379/{args.redis_db}"
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_PG_HOST": args.pg_host,
           "DAGSTER_PG_PORT": str(pg_port),
           "DAGSTER_PG_DB": db, "DAGSTER_PG_USERNAME": args.pg_user, "DAGSTER_PG_PASSWORD": "",
           "SPOTIFY_AI_HOME": str(work / "home"), "SPOTIFY_AI_LANDING": str(args.workdir / "landing"),
           "SPOTIFY_AI_SANDBOX_SCALE": SCALE, "SPOTIFY_AI_SANDBOX_SEED": str(SEED), "SPOTIFY_AI_EXECUTOR": mode,
           "SPOTIFY_AI_CELERY_BROKER": broker, "SPOTIFY_AI_CELERY_BACKEND": broker,
           # `dagster-celery worker start` runs `celery` from PATH: this interpreter's, activated or not.
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for key in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD"):
        os.environ[key] = env[key]
    ws = work / "workspace.yaml"
    ws.write_text(f"load_from:\n  - python_module:\n      module_name: spotify_ai_assets.definitions\n"
                  f"      working_directory: {REPO_ROOT}\n")
    procs: list[subprocess.Popen[bytes]] = []
    instance = None
    ok = True
    try:
        # The tables first, as a deployment does: processes meeting an empty database race to create them.
        subprocess.run([str(BIN / "python"), "-m", "spotify_ai_assets.instance", "migrate"], env=env, cwd=REPO_ROOT,
                       check=True, capture_output=True)
        for pool in args.pool:  # as an operator sizes a pool: `dagster instance concurrency set NAME LIMIT`
            name, limit = pool.split("=")
            subprocess.run([str(BIN / "dagster"), "instance", "concurrency", "set", name, limit], env=env,
                           cwd=REPO_ROOT, check=True, capture_output=True)
        if mode == "celery":
            # The workers start as deployed (README, deploy/celery.yaml: broker and backend from the environment).
            for n in range(args.workers):
                procs.append(_start([str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                                     "-y", str(args.celery_yaml), "-q", "dagster,cpu_heavy",
                                     "-n", f"w{n}",
                                     "--", "--concurrency=1"], env, work / f"worker{n}.log"))
        procs.append(_start([str(BIN / "dagster-daemon"), "run", "-w", str(ws)], env, work / "daemon.log"))
        instance = dg.DagsterInstance.from_config(str(home))
        with RssSampler([p.pid for p in procs]) as sampler:
            t0, busy0 = time.perf_counter(), _machine_busy_s()
            subprocess.run([str(BIN / "dagster"), "job", "backfill", "-w", str(ws), "-j", "daily_refresh_job",
                            "--from", days[0], "--to", days[-1], "--noprompt"], env=env, cwd=REPO_ROOT, check=True,
                           capture_output=True)
            (backfill,) = instance.get_backfills()
            done = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
            while True:
                runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
                finished = [r for r in runs if r.status in done]
                if len(finished) >= len(days) and len(finished) == len(runs):
                    break
                if any(p.poll() is not None for p in procs):
                    raise RuntimeError(f"a server process exited; see the logs in {work}")
                time.sleep(1)
            records = [instance.get_run_record_by_id(r.run_id) for r in runs]
            end = max(r.end_time for r in records if r and r.end_time)
            start = min(r.start_time for r in records if r and r.start_time)
            wall, busy = time.perf_counter() - t0, _machine_busy_s() - busy0
        statuses = defaultdict(int)
        for r in runs:
            statuses[r.status.value] += 1
        per_day = defaultdict(list)
        for r in runs:
            per_day[r.tags.get("dagster/partition")].append(r.status)
        steps = len(instance.get_records_for_run(runs[0].run_id, of_type=dg.DagsterEventType.STEP_SUCCESS).records)
        print(f"\n[{mode}{f', {args.workers} workers' if mode == 'celery' else ''}] {len(days)} days: "
              f"wall {wall:.0f} s from submit to last run's end ({end - start:.0f} s first run start to last end, "
              f"{wall / len(days):.1f} s a day); runs {dict(statuses)}; {steps} steps a run")
        _print_split(instance, runs, records, len(days))
        if args.timeline:
            _print_timeline(instance, runs, records)
        cpu = sum(sampler.cpu.values())
        # The machine's, from /proc/stat over the same span: every process, PostgreSQL and PgBouncer included (the
        # sampler above misses them, the suite server and short-lived processes); the machine runs nothing else.
        print(f"  CPU of the whole machine over the backfill: {busy:.0f} s, {busy / len(days):.1f} s a day "
              f"(PostgreSQL reached {'through PgBouncer' if args.pg_via == 'pgbouncer' else 'directly'})")
        print(f"  CPU (user + system) of the mode's processes, sampled: {cpu:.0f} s, {cpu / len(days):.1f} s a day "
              f"(2 cores: {cpu / (2 * wall):.0%} of the wall)")
        print(f"  {'process kind':<16}{'count':>6}{'peak RSS MiB':>14}")
        for kind, (count, peak) in sorted(sampler.by_kind().items(), key=lambda kv: -kv[1][1]):
            print(f"  {kind:<16}{count:>6}{peak:>14.0f}")

        # Exactly once: one successful run per day ...
        bad_days = {d: s for d, s in per_day.items() if s != [dg.DagsterRunStatus.SUCCESS]}
        if set(per_day) != set(days) or bad_days:
            print(f"  FAIL: runs per day are not exactly one success: {bad_days or set(days) ^ set(per_day)}")
            ok = False
        # ... exactly one materialization per (asset, day) ...
        keys = sorted({rec.asset_key for r in runs for rec in instance.get_records_for_run(
            r.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records if rec.asset_key}, key=str)
        counts = defaultdict(int)
        for key in keys:
            cursor = None
            while True:
                page = instance.fetch_materializations(key, limit=1000, cursor=cursor)
                for rec in page.records:
                    counts[(key.to_user_string(), rec.partition_key)] += 1
                if not page.has_more:
                    break
                cursor = page.cursor
        wrong = {k: n for k, n in counts.items() if n != 1}
        missing = [(k.to_user_string(), d) for k in keys for d in days if (k.to_user_string(), d) not in counts]
        print(f"  materializations: {len(counts)} (asset, day) pairs over {len(keys)} assets; "
              f"not exactly once: {len(wrong)}; missing: {len(missing)}")
        if wrong or missing:
            print(f"  FAIL: {list(wrong.items())[:5]} {missing[:5]}")
            ok = False
        # ... and one Parquet file per table partition in the lake.
        lake = Lake(str(work / "home" / "lake"))
        tables = ["recently_played", "listening_events", "daily_track_country_stats", "daily_artist_stats",
                  "daily_user_stats", "track_trends", "artist_trends"]
        for table in tables:
            parts = lake.partitions(table)
            files = [lake.list_files(table, d) for d in days]
            if parts != days or any(f != [PART_FILE] for f in files):
                print(f"  FAIL: {table}: partitions {parts} files {files}")
                ok = False
        events = sum(lake.row_count("listening_events", d) or 0 for d in days)
        print(f"  lake: {', '.join(tables)}: one {PART_FILE} per day each; listening_events {events:,} rows "
              f"({events / wall:,.0f} events/s end to end)")
    finally:
        if instance is not None:
            instance.dispose()
        for p in reversed(procs):
            _stop(p)
        pooler.close()
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--events", type=int, default=2_000_000, help="sandbox events a day")
    parser.add_argument("--modes", default="auto,multiprocess,celery", help="SPOTIFY_AI_EXECUTOR values")
    parser.add_argument("--pool", action="append", default=[], metavar="NAME=LIMIT",
                        help="a pool's slots for this benchmark's instance (default: the instance's default_limit)")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--instance-yaml", type=Path, default=PROD_INSTANCE,
                        help="the instance's dagster.yaml (to compare run queue settings; default: production's)")
    parser.add_argument("--celery-yaml", type=Path, default=REPO_ROOT / "deploy" / "celery.yaml",
                        help="the Celery workers' -y file (to compare worker settings; default: as deployed)")
    parser.add_argument("--first-day", default=FIRST_DAY.isoformat())
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-via", choices=("pgbouncer", "direct"), default="pgbouncer",
                        help="how the Dagster processes reach PostgreSQL: through PgBouncer as deployed "
                             "(deploy/pgbouncer.ini, started by this benchmark) or directly")
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--redis-db", type=int, default=14, help="Redis database used as the Celery broker")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the workdir (landing files are reused)")
    parser.add_argument("--timeline", action="store_true", help="print each run's steps on a time line")
    args = parser.parse_args()
    first = dt.date.fromisoformat(args.first_day)
    days = [(first + dt.timedelta(days=i)).isoformat() for i in range(args.days)]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]

    def ours(workdir: Path) -> list[Path]:
        return [workdir / m for m in modes]

    def run() -> bool:
        for name, value in harness.machine_facts():
            print(f"{name:>10}: {value}")
        print(f"backfill of daily_refresh_job: {days[0]}..{days[-1]} ({len(days)} days), ~{args.events:,} events a "
              f"day, sandbox scale {SCALE}, production instance on PostgreSQL (Dagster's processes reach it "
              f"{'through PgBouncer' if args.pg_via == 'pgbouncer' else 'directly'}), modes {modes}")
        generate_landing(args.workdir / "landing", days, args.events)
        return all([run_mode(mode, args, days) for mode in modes])

    return harness.run_in_workdir(args, "backfill-bench-", ours, run)


if __name__ == "__main__":
    sys.exit(main())
