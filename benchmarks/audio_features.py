"""Benchmark per-track audio features (`spotify_ai_assets.core.audio.features`) against plain librosa, same run.

    python benchmarks/audio_features.py                     # 60 sandbox clips of 30 s (wav, flac, ogg)
    python benchmarks/audio_features.py --quick             # 8 clips, a smoke run
    python benchmarks/audio_features.py --clips 100 --numba-cache ~/.cache/spotify_ai_assets/numba --keep

Pipelines, each timed on every clip, one process on one core (-> x realtime per core) and a 2-process pool
(-> clips per second on 2 cores):

  ours    `analyze_file(path)`: one decode, one STFT shared by every spectral feature, tempo and key.
  plain   the naive way: `librosa.load`, then each librosa feature on the raw signal (beat_track, chroma_stft
          plus a Krumhansl-Kessler key pick, rms, spectral centroid / bandwidth / rolloff / flatness,
          zero-crossing rate, onset_detect, mfcc), each one computing its own spectrogram.
  floor   decode plus one STFT magnitude (scipy.fft): the lower bound for any spectral pipeline (no features).

Every phase runs in a fresh child process (this script re-invoked with `--phase`), so its peak RSS is its own
(`ru_maxrss` is a high-water mark for the process's whole life); a pool's workers are that child's children.
BLAS/OpenMP threads are limited to 1 per process (--threads), so one process is one core.

Numba: librosa's beat tracker and peak picker compile on first call (about 25 s cold). The children share
one NUMBA_CACHE_DIR (default: a fresh folder in the workdir, so the `warmup` phase shows the cold compile and
every later process the cached load); each timing process or pool worker analyses one clip before its clock
starts, and that warm-up (imports included) is reported apart from the timings.

Figures are printed, never asserted. Exit status 1 only if the results are wrong: a clip that fails, a clip
missing, or a pool that disagrees with the single process on the same clips. Missed targets are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Benchmark the checkout this script lives in, even when another checkout is the one pip installed.
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import harness  # noqa: E402  (benchmarks/harness.py, next to this script)
from harness import peak_rss_mib, run_in_workdir  # noqa: E402

SEED = 7
SCALE = "small"
DEFAULT_CLIPS = 60
QUICK_CLIPS = 8
DEFAULT_SECONDS = 30.0
FORMATS = ("wav", "flac", "ogg")
SR = 22050
N_FFT = 2048
HOP = 512
POOL_PROCESSES = 2
SPEEDUP_TARGET = 4.0
REALTIME_TARGET = 600.0
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS")
PIPELINES = ("ours", "plain", "floor")
PIPELINE_LABELS = {"ours": "ours (analyze_file)", "plain": "plain librosa", "floor": "floor: decode+STFT"}
PHASES = ("generate", "warmup", *(f"{p}_{mode}" for p in PIPELINES for mode in ("single", "pool")))
# Columns compared between a pipeline's single-process and pool results (same clip, same code, same threads).
COMPARE_EXACT = ("tempo_bpm", "key", "mode", "tempo_null_reason", "content_sha256")


# ---- shared helpers ----------------------------------------------------------------------------------------------
def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_busy_s() -> float:
    """CPU seconds all processes on the machine have used since boot (user, nice, system, irq, softirq, steal)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def clips_dir(workdir: Path) -> Path:
    return workdir / "clips"


def results_dir(workdir: Path) -> Path:
    return workdir / "results"


def manifest_path(workdir: Path) -> Path:
    return results_dir(workdir) / "manifest.json"


def load_manifest(workdir: Path) -> dict[str, Any]:
    path = manifest_path(workdir)
    if not path.exists():
        raise FileNotFoundError(f"{path} missing; run the generate phase first")
    return json.loads(path.read_text())


def numba_cache_files(directory: Path) -> int:
    return sum(1 for p in directory.rglob("*") if p.suffix in (".nbi", ".nbc")) if directory.is_dir() else 0


# ---- the three pipelines, one clip each (module level: pool workers import them by name) --------------------------
def _import_libs(pipeline: str) -> None:
    """Import what a pipeline needs, so its first clip times the first call rather than the imports."""
    import numpy  # noqa: F401
    import soundfile  # noqa: F401

    from spotify_ai_assets.core.audio import features  # noqa: F401

    if pipeline == "floor":
        import scipy.fft
        import scipy.signal  # noqa: F401
    else:
        import librosa

        # librosa loads its submodules lazily; touch the ones used so their import is not in the first clip.
        _ = (librosa.beat.beat_track, librosa.onset.onset_detect, librosa.feature.mfcc)


def _key_pick() -> Callable[[Any], tuple[int | None, int | None]]:
    """The plain recipe's key pick: Krumhansl-Kessler profiles on a 12-bin mean chroma -> (tonic, mode)."""
    import numpy as np

    major = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
    minor = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
    rows = np.array([np.roll(p, t) for p in (major, minor) for t in range(12)])
    rows = (rows - rows.mean(1, keepdims=True)) / rows.std(1, keepdims=True)

    def pick(chroma_mean: Any) -> tuple[int | None, int | None]:
        c = np.asarray(chroma_mean, dtype=float)
        if c.std() <= 1e-12:
            return None, None
        best = int(np.argmax(rows @ ((c - c.mean()) / c.std())))
        return best % 12, 1 if best < 12 else 0

    return pick


def analyze_ours(path: str) -> dict[str, Any]:
    from spotify_ai_assets.core.audio.features import analyze_file

    row = analyze_file(path)
    row.pop("file", None)
    return row


def analyze_plain(path: str) -> dict[str, Any]:
    """Plain librosa: one load, then every feature from the raw signal, each with its own spectrogram."""
    import librosa
    import numpy as np

    y, sr = librosa.load(path, sr=SR, mono=True)
    tempo, _beats = librosa.beat.beat_track(y=y, sr=sr)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr)
    key, mode = _key_pick()(chroma.mean(axis=1))
    rms = librosa.feature.rms(y=y)
    centroid = librosa.feature.spectral_centroid(y=y, sr=sr)
    bandwidth = librosa.feature.spectral_bandwidth(y=y, sr=sr)
    rolloff = librosa.feature.spectral_rolloff(y=y, sr=sr)
    flatness = librosa.feature.spectral_flatness(y=y)
    zcr = librosa.feature.zero_crossing_rate(y)
    onsets = librosa.onset.onset_detect(y=y, sr=sr)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13)
    duration = len(y) / sr
    return {
        "track_id": Path(path).stem,
        "duration_s": duration,
        "tempo_bpm": round(float(np.asarray(tempo).reshape(-1)[0]), 2),
        "key": int(key),
        "mode": int(mode),
        "energy": float(rms.mean()),
        "spectral_centroid_hz": float(centroid.mean()),
        "spectral_bandwidth_hz": float(bandwidth.mean()),
        "spectral_rolloff_hz": float(rolloff.mean()),
        "spectral_flatness": float(flatness.mean()),
        "zero_crossing_rate": float(zcr.mean()),
        "onset_rate_per_s": len(onsets) / duration if duration else 0.0,
        "mfcc_mean": [float(v) for v in mfcc.mean(axis=1)],
    }


def analyze_floor(path: str) -> dict[str, Any]:
    """Decode (our decoder: mono at 22 050 Hz) plus one STFT magnitude (Hann, n_fft 2048, hop 512, centred).

    Framed float32 `scipy.fft.rfft`, as librosa.stft computes it; `scipy.signal.stft` gives the same spectrogram
    but works in float64 and takes about three times as long, which would make the floor look lower than it is.
    """
    import numpy as np
    import scipy.fft
    import scipy.signal

    from spotify_ai_assets.core.audio.features import decode

    y, _sr, _channels, duration = decode(path)
    window = scipy.signal.get_window("hann", N_FFT).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, N_FFT // 2), N_FFT)[::HOP]
    magnitude = np.abs(scipy.fft.rfft(frames * window, axis=1))
    return {"track_id": Path(path).stem, "duration_s": float(duration), "magnitude_sum": float(magnitude.sum())}


ANALYZERS: dict[str, Callable[[str], dict[str, Any]]] = {
    "ours": analyze_ours, "plain": analyze_plain, "floor": analyze_floor,
}


def run_clip(pipeline: str, path: str) -> dict[str, Any]:
    """One clip: {"path", "row" or "error", "cpu_s", "wall_s"}; never raises (a failure is a wrong result)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out: dict[str, Any] = {"path": path}
    try:
        out["row"] = ANALYZERS[pipeline](path)
    except Exception as exc:  # reported, and fails the run
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["cpu_s"] = time.process_time() - c0
    out["wall_s"] = time.perf_counter() - t0
    return out


def warm_up(pipeline: str, path: str) -> dict[str, float]:
    """Imports, then one clip: what a fresh process pays before its first real clip (numba cache load included)."""
    t0 = time.perf_counter()
    _import_libs(pipeline)
    t1 = time.perf_counter()
    first = run_clip(pipeline, path)
    if "error" in first:
        raise RuntimeError(f"warm-up of {pipeline} on {path} failed: {first['error']}")
    return {"import_s": t1 - t0, "first_clip_s": time.perf_counter() - t1}


def _pool_init(pipeline: str, path: str, queue: Any) -> None:
    queue.put({"pid": os.getpid(), **warm_up(pipeline, path)})


def _pool_clip(args: tuple[str, str]) -> dict[str, Any]:
    out = run_clip(*args)
    out["pid"] = os.getpid()
    out["worker_rss_mib"] = peak_rss_mib()
    return out


# ---- phases (each runs in its own child process) -----------------------------------------------------------------
def phase_generate(args: argparse.Namespace) -> dict[str, Any]:
    from spotify_ai_assets.sandbox.audio import truth, write_clip
    from spotify_ai_assets.sandbox.world import World

    t0 = time.perf_counter()
    world = World(seed=SEED, scale=SCALE)
    n_tracks = len(world.track_ids)
    if args.clips > n_tracks:
        raise ValueError(f"--clips {args.clips} exceeds the {n_tracks} tracks of the {SCALE} world")
    # Spread over the catalogue rather than the first N tracks; formats rotate so each is a third of the clips.
    indices = sorted({round(i * (n_tracks - 1) / max(1, args.clips - 1)) for i in range(args.clips)})
    out = clips_dir(args.workdir)
    paths, formats = [], {f: 0 for f in FORMATS}
    for n, index in enumerate(indices):
        fmt = FORMATS[n % len(FORMATS)]
        paths.append(str(write_clip(world, index, out, fmt=fmt, seconds=args.seconds)))
        formats[fmt] += 1
    wall = time.perf_counter() - t0
    manifest = {"paths": paths, "truth": truth(world, indices), "formats": formats, "seconds": args.seconds,
                "bytes": sum(Path(p).stat().st_size for p in paths)}
    manifest_path(args.workdir).write_text(json.dumps(manifest))
    return {"wall_s": wall, "details": {"clips": len(paths), **formats, "MiB": round(manifest["bytes"] / 2**20, 1)}}


def phase_warmup(args: argparse.Namespace) -> dict[str, Any]:
    """First calls in a process against the shared numba cache: cold compile if the cache is empty."""
    cache = Path(os.environ["NUMBA_CACHE_DIR"])
    first = load_manifest(args.workdir)["paths"][0]
    before = numba_cache_files(cache)
    details: dict[str, Any] = {"cache_files_before": before}
    t0 = time.perf_counter()
    for pipeline in ("ours", "plain"):  # plain also needs the beat tracker, which ours does not call
        w = warm_up(pipeline, first)
        details[f"{pipeline}_import_s"] = round(w["import_s"], 2)
        details[f"{pipeline}_first_clip_s"] = round(w["first_clip_s"], 2)
    details["cache_files_after"] = numba_cache_files(cache)
    return {"wall_s": time.perf_counter() - t0, "details": details}


def _timing_summary(runs: list[dict[str, Any]], wall: float, cpu: float, busy: float) -> dict[str, Any]:
    audio = sum(r["row"]["duration_s"] for r in runs if "row" in r)
    # CPU the rest of the machine used meanwhile, in cores: what made this timing noisy, if anything.
    other = max(0.0, busy - cpu) / wall if wall else 0.0
    by_format: dict[str, list[float]] = {}  # suffix -> [audio s, clip wall s]
    for r in runs:
        if "row" in r:
            acc = by_format.setdefault(Path(r["path"]).suffix.lstrip("."), [0.0, 0.0])
            acc[0] += r["row"]["duration_s"]
            acc[1] += r["wall_s"]
    return {"wall_s": wall, "cpu_s": cpu, "other_cores": other, "clips": len(runs), "audio_s": audio,
            "by_format": by_format,
            "errors": [f"{Path(r['path']).name}: {r['error']}" for r in runs if "error" in r],
            "rows": [r["row"] for r in runs if "row" in r]}


def phase_single(args: argparse.Namespace, pipeline: str) -> dict[str, Any]:
    paths = load_manifest(args.workdir)["paths"]
    warm = warm_up(pipeline, paths[0])
    best: dict[str, Any] | None = None
    walls = []
    for _ in range(args.repeat):
        b0, c0, t0 = machine_busy_s(), time.process_time(), time.perf_counter()
        runs = [run_clip(pipeline, p) for p in paths]
        wall, cpu, busy = time.perf_counter() - t0, time.process_time() - c0, machine_busy_s() - b0
        walls.append(wall)
        if best is None or wall < best["wall_s"]:
            best = _timing_summary(runs, wall, cpu, busy)
    assert best is not None
    best["warmup"] = warm
    best["walls"] = walls
    return best


def phase_pool(args: argparse.Namespace, pipeline: str) -> dict[str, Any]:
    import multiprocessing as mp

    paths = load_manifest(args.workdir)["paths"]
    # spawn: each worker is a fresh interpreter, as a run process is; nothing inherited from this one.
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    t0 = time.perf_counter()
    pool = ctx.Pool(POOL_PROCESSES, initializer=_pool_init, initargs=(pipeline, paths[0], queue))
    try:
        warms = [queue.get(timeout=900) for _ in range(POOL_PROCESSES)]  # both workers imported and warm
        ready = time.perf_counter() - t0
        best: dict[str, Any] | None = None
        walls = []
        for _ in range(args.repeat):
            b0, c0, t1 = machine_busy_s(), time.process_time(), time.perf_counter()
            runs = list(pool.imap_unordered(_pool_clip, [(pipeline, p) for p in paths], chunksize=1))
            wall, busy = time.perf_counter() - t1, machine_busy_s() - b0
            # Ours: the workers' CPU on the clips plus this process dispatching them.
            cpu = sum(r["cpu_s"] for r in runs) + time.process_time() - c0
            walls.append(wall)
            if best is None or wall < best["wall_s"]:
                best = _timing_summary(runs, wall, cpu, busy)
                best["per_worker"] = {str(pid): sum(r["pid"] == pid for r in runs) for pid in {r["pid"] for r in runs}}
                best["worker_rss_mib"] = max(r["worker_rss_mib"] for r in runs)
        pool.close()
        pool.join()
    finally:
        pool.terminate()
    assert best is not None
    best["warmup"] = {"ready_s": ready, "workers": warms}
    best["walls"] = walls
    best["worker_peak_rss_mib"] = peak_rss_mib(resource.RUSAGE_CHILDREN)
    return best


def run_phase_here(args: argparse.Namespace) -> None:
    """Child side: run one phase and leave its figures as JSON for the parent."""
    phase = args.phase
    load = loadavg()
    if phase == "generate":
        result = phase_generate(args)
    elif phase == "warmup":
        result = phase_warmup(args)
    else:
        pipeline, mode = phase.rsplit("_", 1)
        result = phase_single(args, pipeline) if mode == "single" else phase_pool(args, pipeline)
    result["phase"] = phase
    result["loadavg_before"] = load
    result["loadavg_after"] = loadavg()
    # Read last, so the high-water mark covers everything the phase did, imports included.
    result["peak_rss_mib"] = peak_rss_mib()
    (results_dir(args.workdir) / f"{phase}.json").write_text(json.dumps(result))


# ---- parent: orchestration and report ----------------------------------------------------------------------------
def child_env(args: argparse.Namespace) -> dict[str, str]:
    env = os.environ.copy()
    env["NUMBA_CACHE_DIR"] = str(args.numba_cache)
    for var in THREAD_VARS:
        env[var] = str(args.threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def run_phase_in_child(args: argparse.Namespace, phase: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--workdir", str(args.workdir),
           "--clips", str(args.clips), "--seconds", str(args.seconds), "--repeat", str(args.repeat)]
    print(f"  running {phase} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=args.workdir, env=child_env(args), check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"phase {phase} failed with exit status {proc.returncode}")
    result = json.loads((results_dir(args.workdir) / f"{phase}.json").read_text())
    result["process_s"] = time.perf_counter() - t0
    return result


def machine_facts(args: argparse.Namespace) -> list[tuple[str, str]]:
    import librosa
    import numba
    import numpy
    import scipy
    import soundfile

    return [
        *harness.machine_facts(),
        ("librosa", librosa.__version__),
        ("numba", numba.__version__),
        ("numpy", numpy.__version__),
        ("scipy", scipy.__version__),
        ("soundfile", f"{soundfile.__version__} (libsndfile {soundfile.__libsndfile_version__})"),
        ("threads", f"{args.threads} BLAS/OpenMP thread(s) per process ({', '.join(THREAD_VARS[:3])}, ...)"),
        ("numba", f"NUMBA_CACHE_DIR={args.numba_cache}"),
    ]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _rows_by_track(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["track_id"]: r for r in result["rows"]}


def _agree(single: dict[str, Any], pool: dict[str, Any]) -> list[str]:
    """Tracks whose pool row differs from the single-process row (exact for tempo/key/ids, 1e-6 relative else)."""
    a, b = _rows_by_track(single), _rows_by_track(pool)
    bad = sorted(set(a) ^ set(b))
    for track in set(a) & set(b):
        for col in set(a[track]) | set(b[track]):
            x, y = a[track].get(col), b[track].get(col)
            if col in COMPARE_EXACT or not isinstance(x, float) or not isinstance(y, float):
                same = x == y
            else:
                same = abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y))
            if not same:
                bad.append(f"{track}.{col}: {x} vs {y}")
                break
    return bad


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> bool:
    from spotify_ai_assets.core.audio.accuracy import KEY_TARGET, TEMPO_TARGET, score

    manifest = load_manifest(args.workdir)
    truth = manifest["truth"]
    print()
    print("machine")
    for key, value in machine_facts(args):
        print(f"  {key:<9} {value}")
    print()
    gen = results["generate"]["details"]
    print(f"clips: {gen['clips']} x {args.seconds:g} s from World(seed={SEED}, scale={SCALE!r}), "
          f"{', '.join(f'{gen[f]} {f}' for f in FORMATS)}, {gen['MiB']} MiB, mono {SR} Hz; "
          f"generated in {results['generate']['wall_s']:.1f} s")
    w = results["warmup"]["details"]
    state = "empty: cold compile" if w["cache_files_before"] == 0 else f"{w['cache_files_before']} files: cached"
    print(f"numba warm-up in the first process (cache {state}), imports + first clip: "
          f"ours {w['ours_import_s']:.2f} + {w['ours_first_clip_s']:.2f} s, then plain "
          f"{w['plain_import_s']:.2f} + {w['plain_first_clip_s']:.2f} s (beat tracker); "
          f"cache now {w['cache_files_after']} files")
    print("warm-up in every later process, imports + first clip (numba cache loaded, not compiled):")
    for pipeline in PIPELINES:
        s = results[f"{pipeline}_single"]["warmup"]
        p = results[f"{pipeline}_pool"]["warmup"]
        workers = ", ".join(f"{x['import_s']:.2f} + {x['first_clip_s']:.2f} s" for x in p["workers"])
        print(f"  {PIPELINE_LABELS[pipeline]:<21} single {s['import_s']:.2f} + {s['first_clip_s']:.2f} s; "
              f"pool workers {workers} (pool ready in {p['ready_s']:.2f} s)")
    print()

    header = (f"{'pipeline':<21} {'clips':>5} {'audio s':>8} {'wall s 1c':>9} {'x realtime/core':>15} "
              f"{'2-core clips/s':>14} {'peak RSS MiB':>12} {'tempo ok':>8} {'key ok':>6}")
    print(header)
    print("-" * len(header))
    figures: dict[str, dict[str, Any]] = {}
    ok = True
    problems: list[str] = []
    for pipeline in PIPELINES:
        single, pool = results[f"{pipeline}_single"], results[f"{pipeline}_pool"]
        acc = score(single["rows"], truth) if pipeline != "floor" else {"tempo_share": None, "key_share": None}
        xrt = single["audio_s"] / single["wall_s"]
        cps = pool["clips"] / pool["wall_s"]
        figures[pipeline] = {"xrt": xrt, "cps": cps, "acc": acc, "pool_xrt": pool["audio_s"] / pool["wall_s"]}
        print(f"{PIPELINE_LABELS[pipeline]:<21} {single['clips']:>5} {single['audio_s']:>8.0f} "
              f"{single['wall_s']:>9.2f} {xrt:>14.0f}x {cps:>14.1f} {single['peak_rss_mib']:>12.0f} "
              f"{_pct(acc['tempo_share']):>8} {_pct(acc['key_share']):>6}")
        for mode, r in (("single", single), ("pool", pool)):
            if r["errors"]:
                problems += [f"{pipeline} {mode}: {e}" for e in r["errors"]]
            if len(r["rows"]) != len(manifest["paths"]):
                problems.append(f"{pipeline} {mode}: {len(r['rows'])} rows for {len(manifest['paths'])} clips")
        problems += [f"{pipeline} pool differs: {d}" for d in _agree(single, pool)[:5]]
    print()
    for pipeline in PIPELINES:
        single, pool = results[f"{pipeline}_single"], results[f"{pipeline}_pool"]
        f = figures[pipeline]
        util1 = single["cpu_s"] / single["wall_s"]
        util2 = pool["cpu_s"] / (POOL_PROCESSES * pool["wall_s"])
        walls = ""
        if args.repeat > 1:
            rounded = {m: [round(x, 2) for x in r["walls"]] for m, r in (("single", single), ("pool", pool))}
            walls = f", walls single {rounded['single']} pool {rounded['pool']}"
        print(f"  {PIPELINE_LABELS[pipeline]}: 2-core {f['pool_xrt']:.0f}x realtime "
              f"({f['pool_xrt'] / f['xrt']:.2f}x one core), pool wall {pool['wall_s']:.2f} s, "
              f"clips per worker {sorted(pool['per_worker'].values())}, worker peak RSS "
              f"{pool['worker_peak_rss_mib']:.0f} MiB; cpu/wall single {util1:.2f}, pool {util2:.2f} per core; "
              f"other processes used {single['other_cores']:.2f} / {pool['other_cores']:.2f} cores meanwhile{walls}")
    for pipeline in PIPELINES:
        by_format = results[f"{pipeline}_single"]["by_format"]
        rates = ", ".join(f"{fmt} {a / w:.0f}x" for fmt in FORMATS if fmt in by_format for a, w in [by_format[fmt]])
        print(f"  {PIPELINE_LABELS[pipeline]}: x realtime per core by format (sum of clip times): {rates}")
    misses = figures["ours"]["acc"].get("misses") or []
    for m in misses[:5]:
        print(f"  ours miss: {m}")
    print()

    noisy = [f"{p} {mode} ({results[f'{p}_{mode}']['other_cores']:.2f})" for p in PIPELINES
             for mode in ("single", "pool") if results[f"{p}_{mode}"]["other_cores"] > 0.1]
    if noisy:
        print(f"note: other processes used > 0.1 core on average while timing {', '.join(noisy)}: "
              "those timings are noisy (on 2 cores, a pool shares them with whatever else runs)")

    if problems:
        ok = False
        for p in problems[:20]:
            print(f"  WRONG {p}")
    print(f"results: {'OK' if ok else 'WRONG'} (every clip analysed by every pipeline; pool rows equal single rows)")
    print()

    ours, plain, floor = figures["ours"], figures["plain"], figures["floor"]
    speedup = ours["xrt"] / plain["xrt"]
    print(f"speed-up ours / plain librosa: {speedup:.1f}x per core, {ours['cps'] / plain['cps']:.1f}x on 2 cores; "
          f"ours runs at {ours['xrt'] / floor['xrt']:.0%} of the decode+STFT floor ({floor['xrt']:.0f}x realtime)")

    def target(label: str, value: float, goal: float, shown: str) -> None:
        print(f"target {label}: {shown} -> {'met' if value >= goal else 'MISSED'}")

    target(f">= {SPEEDUP_TARGET:.0f}x plain librosa per core", speedup, SPEEDUP_TARGET, f"{speedup:.1f}x")
    target(f">= {REALTIME_TARGET:.0f}x realtime per core", ours["xrt"], REALTIME_TARGET, f"{ours['xrt']:.0f}x")
    acc = ours["acc"]
    target(f"tempo within 4% >= {TEMPO_TARGET:.0%}", acc["tempo_share"] or 0.0, TEMPO_TARGET,
           f"{_pct(acc['tempo_share'])} of {acc['evaluated']}")
    target(f"key and mode exact >= {KEY_TARGET:.0%}", acc["key_share"] or 0.0, KEY_TARGET,
           f"{_pct(acc['key_share'])} of {acc['evaluated']}")
    total = sum(r["process_s"] for r in results.values())
    print(f"total wall time of the phase processes: {total:.1f} s")
    return ok


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=None,
                        help=f"number of clips (default {DEFAULT_CLIPS}, {QUICK_CLIPS} with --quick)")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="clip length in s (default 30)")
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK_CLIPS} clips unless --clips")
    parser.add_argument("--repeat", type=int, default=1, help="timed passes over the clips per phase; best is kept")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads per process (default 1)")
    parser.add_argument("--numba-cache", type=Path, default=None,
                        help="NUMBA_CACHE_DIR for every child (default: a fresh one in the workdir: cold compile once)")
    parser.add_argument("--workdir", type=Path, default=None, help="working directory (default: a new one in /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (clips, results, cache)")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.clips is None:
        args.clips = QUICK_CLIPS if args.quick else DEFAULT_CLIPS
    if args.clips < 1 or args.seconds <= 0 or args.repeat < 1 or args.threads < 1:
        parser.error("--clips, --seconds, --repeat and --threads must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.phase:
        run_phase_here(args)
        return 0

    own_cache = args.numba_cache is None

    def ours(workdir: Path) -> list[Path]:
        if own_cache:
            args.numba_cache = workdir / "numba-cache"
        args.numba_cache = args.numba_cache.expanduser().resolve()
        # A cache we made ourselves is emptied too, so the warm-up shows the cold compile.
        return [clips_dir(workdir), results_dir(workdir)] + ([args.numba_cache] if own_cache else [])

    def run() -> bool:
        results_dir(args.workdir).mkdir(parents=True)
        args.numba_cache.mkdir(parents=True, exist_ok=True)
        return report(args, {phase: run_phase_in_child(args, phase) for phase in PHASES})

    return run_in_workdir(args, "bench-audio-", ours, run)


if __name__ == "__main__":
    sys.exit(main())
