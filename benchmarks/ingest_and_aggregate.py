"""Benchmark one sandbox day end to end: export files -> ingestion -> daily aggregates, each against its peers.

    python benchmarks/ingest_and_aggregate.py                  # full bench day (>= 10M events)
    python benchmarks/ingest_and_aggregate.py --scale medium   # ~1M events, a quick smoke run
    python benchmarks/ingest_and_aggregate.py --events 2000000 --keep --workdir /tmp/bench

Phases: generate (the day's 24 hourly Parquet exports); ingestion three ways on the same files: ours
(`ingest_day` + `Lake.write` of the partition and its quarantine), the naive DuckDB floor with no validation (read,
`DISTINCT ON` the event key, sort, write zstd Parquet: one query) and today's implementation before per-file
isolation (`benchmarks/reference_ingest.py`, the reference); a row-for-row comparison of our partition and
quarantine with the reference's (same rows, same order, same quarantine) plus the accounting (records in = landed +
quarantined + duplicates); then the three aggregates with DuckDB as the `daily_aggregates` asset computes them
(`core.analytics.daily_aggregates`: one pass over `Lake.scan`), the same three as plain DuckDB SQL (the reference
queries, one read each), in plain pandas, in tuned pandas and in Polars (lazy scans collected together), then a
row-by-row comparison of the aggregate results.

The machine is shared and its speed drifts by up to 30% within minutes, so the five aggregate phases run `--repeat`
rounds (default 3) interleaved, DuckDB, pandas and Polars taking turns, and each reports its fastest round (all
rounds are printed, and the ratio of medians next to the ratio of bests). Ours and the naive floor run
`--ingest-repeat` rounds (default 1) interleaved; the reference runs once. The CPU s column is a phase's own CPU time
(user + system, all threads): on a busy machine wall time stretches while CPU time stays put. The CPU steal column is
the share of the VM's CPU time the host gave to other guests while the phase ran (/proc/stat): DuckDB's two threads
lose more to it than single-threaded pandas, so read a ratio next to its steal.

Each phase runs in a fresh child process (this script re-invoked with `--phase`): `ru_maxrss` is a
high-water mark for the process's whole life, so phases sharing one process would report the worst
earlier phase instead of their own. Figures are printed, never asserted; only a result mismatch between
DuckDB and pandas fails the run (exit status 1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# Benchmark the checkout this script lives in, even when another checkout is the one pip installed.
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import harness  # noqa: E402  (benchmarks/harness.py, next to this script)
from harness import peak_rss_mib, run_in_workdir  # noqa: E402

SEED = 7
# 2026-01-09 is a Friday: the bench world's Friday is ~11.8M events, comfortably above the 10M in the
# issue (Mondays only just clear it).
DEFAULT_DAY = dt.date(2026, 1, 9)
# Small but non-zero, so the quarantine and deduplication paths run at realistic cost.
BAD_RATE = 0.0005
DUPLICATE_RATE = 0.0005
EVENTS_TABLE = "listening_events"
AGGREGATES = ("track_country", "artist", "user")
SPEEDUP_TARGET = 5.0
RSS_TARGET_MIB = 3072
# Only the columns the three aggregates use; DuckDB reads the same set (projection pushdown in its Parquet scan).
AGG_COLUMNS = ["user_id", "track_id", "artist_id", "played_at", "ms_played", "skipped", "country"]
INGEST_TARGET_S = 20.0
INGEST_SPEEDUP_TARGET = 2.0
POLARS_SPEEDUP_TARGET = 2.0
INGEST_PHASES = ("ingest", "ingest_naive", "ingest_reference")
AGG_PHASES = ("agg_duckdb", "agg_duckdb_plain", "agg_pandas", "agg_pandas_tuned", "agg_polars")
PHASES = ("generate", *INGEST_PHASES, "ingest_compare", *AGG_PHASES, "verify")
PHASE_LABELS = {
    "generate": "generate exports",
    "ingest": "ingest + lake write",
    "ingest_naive": "naive DuckDB floor",
    "ingest_reference": "ingest (reference)",
    "ingest_compare": "compare with reference",
    "agg_duckdb": "aggregates (duckdb)",
    "agg_duckdb_plain": "aggregates (sql)",
    "agg_pandas": "aggregates (pandas)",
    "agg_pandas_tuned": "aggregates (pandas+)",
    "agg_polars": "aggregates (polars)",
    "verify": "verify",
}


# ---- shared helpers ------------------------------------------------------------------------------
def current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_world(scale: str, events: int | None, day: dt.date) -> Any:
    from spotify_ai_assets.sandbox.world import World

    world = World(seed=SEED, scale=scale)
    if events is None:
        return world
    # events_on() applies a weekday factor and a per-day jitter to events_per_day; invert them so the
    # chosen day lands on (just above) the requested count.
    ratio = world.events_on(day) / world.events_per_day
    return World(seed=SEED, scale=scale, events_per_day=math.ceil(events / ratio))


def landing_dir(workdir: Path) -> Path:
    return workdir / "landing"


def lake_root(workdir: Path) -> Path:
    return workdir / "lake"


def reference_root(workdir: Path) -> Path:
    return workdir / "lake_reference"


def naive_dir(workdir: Path) -> Path:
    return workdir / "naive"


def cpu_seconds() -> float:
    """CPU time of this process so far, all threads, user + system."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def results_dir(workdir: Path) -> Path:
    return workdir / "results"


def partition_rows(workdir: Path, day: dt.date) -> int:
    from spotify_ai_assets.core.kernel.lake import Lake

    rows = Lake(str(lake_root(workdir))).row_count(EVENTS_TABLE, day.isoformat())
    if rows is None:
        raise FileNotFoundError(f"no {EVENTS_TABLE} partition for {day}; run the ingest phase first")
    return rows


# ---- phases (each runs in its own child process) -------------------------------------------------
def phase_generate(args: argparse.Namespace) -> dict[str, Any]:
    from spotify_ai_assets.sandbox.exports import write_day_exports

    t0 = time.perf_counter()
    world = make_world(args.scale, args.events, args.day)
    t_world = time.perf_counter() - t0
    manifest = write_day_exports(world, landing_dir(args.workdir), args.day, fmt="parquet",
                                 bad_rate=BAD_RATE, duplicate_rate=DUPLICATE_RATE)
    wall = time.perf_counter() - t0
    out = landing_dir(args.workdir) / "events" / f"date={args.day.isoformat()}"
    size = sum(p.stat().st_size for p in out.glob("*.parquet"))
    return {
        "wall_s": wall, "events": manifest.records,
        "details": {"files": len(manifest.files), "records": manifest.records, "bad": manifest.bad,
                    "duplicates": manifest.duplicates, "unique_good": manifest.unique_good,
                    "bytes": size, "world_build_s": round(t_world, 2)},
    }


def _export_files(args: argparse.Namespace) -> tuple[Path, list[str]]:
    from spotify_ai_assets.core.ingestion.listening_events import export_files
    from spotify_ai_assets.sandbox.exports import day_dir

    directory = day_dir(landing_dir(args.workdir), args.day)
    files = export_files(directory)
    if not files:
        raise FileNotFoundError(f"no export files in {directory}; run the generate phase first")
    return directory, files


def _run_ingest(args: argparse.Namespace, root: Path, ingest_day: Callable[..., Any]) -> dict[str, Any]:
    """One ingestion (ours or the reference) of the day's files into the lake at `root`, timed."""
    from spotify_ai_assets.core.ingestion.listening_events import manifest_summary
    from spotify_ai_assets.core.kernel.lake import Lake

    directory, files = _export_files(args)
    lake = Lake(str(root))
    rss_before = current_rss_mib()
    c0, t0 = cpu_seconds(), time.perf_counter()
    # The same two writes the listening_events asset makes: events streamed into the partition, then quarantine.
    partition = args.day.isoformat()
    result = ingest_day(files, args.day, lambda batches: lake.write_batches(EVENTS_TABLE, batches, partition))
    lake.write(f"quarantine/{EVENTS_TABLE}", result.quarantine, partition)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    manifest = manifest_summary(directory) or {}
    # Every exported record must be accounted for: kept once, quarantined, or dropped as a duplicate.
    accounted = (result.events.rows + result.quarantine.num_rows + result.duplicates == result.export_records)
    matches_manifest = (result.quarantine.num_rows == manifest.get("bad")
                        and result.duplicates == manifest.get("duplicates"))
    return {
        "wall_s": wall, "cpu_s": cpu, "events": result.export_records,
        "details": {"files": len(files), "records_in": result.export_records, "rows_out": result.events.rows,
                    "quarantined": result.quarantine.num_rows, "duplicates": result.duplicates,
                    "all_accounted": accounted, "matches_manifest": matches_manifest,
                    "partition_bytes": result.events.bytes, "rss_before_mib": round(rss_before)},
    }


def phase_ingest(args: argparse.Namespace) -> dict[str, Any]:
    """Ours: each file screened and read alone, the day ordered with integer sorts (`core.ingestion`)."""
    from spotify_ai_assets.core.ingestion.listening_events import ingest_day

    return _run_ingest(args, lake_root(args.workdir), ingest_day)


def phase_ingest_reference(args: argparse.Namespace) -> dict[str, Any]:
    """Today's implementation before this change (one DuckDB union of all files, DISTINCT ON + ORDER BY)."""
    from reference_ingest import ingest_day  # benchmarks/reference_ingest.py, next to this script

    return _run_ingest(args, reference_root(args.workdir), ingest_day)


def phase_ingest_naive(args: argparse.Namespace) -> dict[str, Any]:
    """The floor the issue names: read, DISTINCT ON the event key, sort, write zstd Parquet; no validation, no
    quarantine, DuckDB's defaults (all cores, its own memory limit)."""
    import duckdb

    _, files = _export_files(args)
    out = naive_dir(args.workdir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "part-0.parquet"
    listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    rss_before = current_rss_mib()
    c0, t0 = cpu_seconds(), time.perf_counter()
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"""
        COPY (SELECT DISTINCT ON (user_id, track_id, played_at) *
              FROM read_parquet({listed}, union_by_name = true)
              ORDER BY user_id, played_at, track_id)
        TO '{target}' (FORMAT parquet, COMPRESSION zstd)
    """)
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]
    con.close()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"wall_s": wall, "cpu_s": cpu, "events": sum(_parquet_rows(f) for f in files),
            "details": {"rows_out": rows, "partition_bytes": target.stat().st_size,
                        "rss_before_mib": round(rss_before)}}


def _parquet_rows(path: str) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def _stream_equal(a: str, b: str, batch_rows: int = 500_000) -> tuple[int, int, list[str]]:
    """Compare two Parquet files row for row, in order, batch by batch (never both whole in memory): rows compared,
    rows left over on either side, and the columns that differed anywhere."""
    import pyarrow.parquet as pq

    left = pq.ParquetFile(a).iter_batches(batch_size=batch_rows)
    right = pq.ParquetFile(b).iter_batches(batch_size=batch_rows)
    x = y = None
    compared, differing = 0, set()
    while True:
        if x is None or x.num_rows == 0:
            x = next(left, None)
        if y is None or y.num_rows == 0:
            y = next(right, None)
        if x is None or y is None:
            break
        n = min(x.num_rows, y.num_rows)
        xs, ys = x.slice(0, n), y.slice(0, n)
        if xs.schema != ys.schema:
            differing.add("<schema>")
        else:
            differing.update(name for name in xs.schema.names if not xs.column(name).equals(ys.column(name)))
        x, y = x.slice(n), y.slice(n)
        compared += n
    leftover = (x.num_rows if x is not None else 0) + sum(r.num_rows for r in left)
    leftover += (y.num_rows if y is not None else 0) + sum(r.num_rows for r in right)
    return compared, leftover, sorted(differing)


def phase_ingest_compare(args: argparse.Namespace) -> dict[str, Any]:
    """Our partition and quarantine against the reference's: the same rows in the same order, the same quarantine
    (file:line, field, reason, raw payload)."""
    import pyarrow.parquet as pq

    from spotify_ai_assets.core.kernel.lake import Lake

    ours, ref = Lake(str(lake_root(args.workdir))), Lake(str(reference_root(args.workdir)))
    partition = args.day.isoformat()
    t0 = time.perf_counter()
    compared, leftover, differing = _stream_equal(ours.path(EVENTS_TABLE, partition), ref.path(EVENTS_TABLE, partition))
    q_ours = pq.read_table(ours.path(f"quarantine/{EVENTS_TABLE}", partition))
    q_ref = pq.read_table(ref.path(f"quarantine/{EVENTS_TABLE}", partition))
    same_quarantine = q_ours.equals(q_ref)
    match = compared > 0 and leftover == 0 and not differing and same_quarantine
    return {"wall_s": time.perf_counter() - t0, "events": compared,
            "details": {"rows_compared": compared, "rows_left_over": leftover,
                        "columns_differing": differing or "none", "quarantine_rows": q_ours.num_rows,
                        "quarantine_identical": same_quarantine, "match": match}}


def phase_agg_duckdb(args: argparse.Namespace) -> dict[str, Any]:
    """The production path: what the `daily_aggregates` asset runs, one pass for the three tables."""
    import pyarrow.parquet as pq

    from spotify_ai_assets.core.analytics.daily_aggregates import daily_aggregates
    from spotify_ai_assets.core.kernel.lake import Lake

    lake = Lake(str(lake_root(args.workdir)))
    rows = partition_rows(args.workdir, args.day)
    rss_before = current_rss_mib()
    t0 = time.perf_counter()
    result = daily_aggregates(lake.scan(EVENTS_TABLE, [args.day.isoformat()]), args.day)
    wall = time.perf_counter() - t0
    for name, table in result.tables.items():  # outside the timed region: only needed for verification
        pq.write_table(table, results_dir(args.workdir) / f"duckdb_{name}.parquet")
    return {
        "wall_s": wall, "events": rows,
        "details": {**{f"{k}_rows": t.num_rows for k, t in result.tables.items()},
                    "fallbacks": result.fallbacks or "none", "rss_before_mib": round(rss_before)},
    }


def phase_agg_duckdb_plain(args: argparse.Namespace) -> dict[str, Any]:
    """The plain DuckDB form: each table its own reference query over its own read, as three assets would."""
    from spotify_ai_assets.core.analytics.daily_aggregates import REFERENCE_SQL
    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.core.kernel.query import sql_to_arrow

    lake = Lake(str(lake_root(args.workdir)))
    rows = partition_rows(args.workdir, args.day)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    for name in AGGREGATES:
        t = time.perf_counter()
        sql_to_arrow(REFERENCE_SQL[name], {"events": lake.scan(EVENTS_TABLE, [args.day.isoformat()])}, [args.day])
        timings[name] = time.perf_counter() - t
    return {"wall_s": time.perf_counter() - t0, "events": rows,
            "details": {f"{k}_s": round(v, 2) for k, v in timings.items()}}


def pandas_track_country(df: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    out = (
        df.assign(country=df["country"].fillna("XX"))
        .groupby(["track_id", "country"], sort=False)
        .agg(artist_id=("artist_id", "first"), plays=("user_id", "size"), listeners=("user_id", "nunique"),
             ms_played=("ms_played", "sum"), skip_rate=("skipped", "mean"))
        .reset_index()
    )
    out["ms_played"] = out["ms_played"].astype("int64")
    out.insert(0, "date", day)
    return out


def pandas_artist(df: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    out = (
        df[df["artist_id"].notna()]
        .groupby("artist_id", sort=False)
        .agg(plays=("user_id", "size"), listeners=("user_id", "nunique"), tracks_played=("track_id", "nunique"),
             ms_played=("ms_played", "sum"), skip_rate=("skipped", "mean"))
        .reset_index()
    )
    out["ms_played"] = out["ms_played"].astype("int64")
    out.insert(0, "date", day)
    return out


def _sessions_per_user(user_id: pd.Series, new_session: pd.Series, ms: pd.Series, day: dt.date,
                       sort: bool) -> pd.DataFrame:
    """Sessions, plays and minutes per user from each play's new-session flag (both baselines end here)."""
    import pandas as pd

    out = (
        pd.DataFrame({"user_id": user_id, "new_session": new_session, "ms": ms})
        .groupby("user_id", sort=sort)
        .agg(sessions=("new_session", "sum"), plays=("new_session", "size"), ms=("ms", "sum"))
        .reset_index()
    )
    out["minutes"] = (out.pop("ms") / 60000.0).round(3)
    out["sessions"] = out["sessions"].astype("int64")
    out.insert(0, "date", day)
    return out


def pandas_user(df: pd.DataFrame, day: dt.date, gap_minutes: int) -> pd.DataFrame:
    import pandas as pd

    ordered = df[["user_id", "played_at", "ms_played"]].sort_values(["user_id", "played_at"], kind="stable")
    ms = ordered["ms_played"].fillna(0)
    ends = ordered["played_at"] + pd.to_timedelta(ms, unit="ms")
    # After the sort, "previous play of the same user" is the previous row whenever the user is unchanged;
    # a whole-column shift plus that mask is the vectorised form of groupby(user).shift(), minus the regrouping.
    same_user = ordered["user_id"].eq(ordered["user_id"].shift())
    new_session = ~same_user | (ordered["played_at"] - ends.shift() > pd.Timedelta(minutes=gap_minutes))
    return _sessions_per_user(ordered["user_id"], new_session, ms, day, sort=False)


def pandas_user_plain(df: pd.DataFrame, day: dt.date, gap_minutes: int) -> pd.DataFrame:
    """Sessions the way the pandas docs suggest: sort, then a per-user shift."""
    import pandas as pd

    df = df.sort_values(["user_id", "played_at"])
    ms = df["ms_played"].fillna(0)
    prev_end = (df["played_at"] + pd.to_timedelta(ms, unit="ms")).groupby(df["user_id"]).shift()
    new_session = prev_end.isna() | (df["played_at"] - prev_end > pd.Timedelta(minutes=gap_minutes))
    return _sessions_per_user(df["user_id"], new_session, ms, day, sort=True)


# The columns each aggregate reads, as the DuckDB side's projection pushdown does.
PLAIN_COLUMNS = {
    "track_country": ["user_id", "track_id", "artist_id", "ms_played", "skipped", "country"],
    "artist": ["user_id", "track_id", "artist_id", "ms_played", "skipped"],
    "user": ["user_id", "played_at", "ms_played"],
}


PandasFuncs = dict[str, Callable[["pd.DataFrame", dt.date], "pd.DataFrame"]]


def _pandas_funcs(user: Callable[..., pd.DataFrame]) -> PandasFuncs:
    from spotify_ai_assets.core.analytics.daily_aggregates import SESSION_GAP_MINUTES

    return {"track_country": pandas_track_country, "artist": pandas_artist,
            "user": lambda frame, day: user(frame, day, SESSION_GAP_MINUTES)}


def _read_events(path: str, columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    df = pd.read_parquet(path, columns=columns)
    if "skipped" in df:
        # Nullable booleans arrive as object; floats make mean() skip nulls like SQL avg() does.
        df["skipped"] = df["skipped"].astype("float64")
    return df


def _pandas_phase(args: argparse.Namespace, variant: str, shared_read: bool, funcs: PandasFuncs) -> dict[str, Any]:
    from spotify_ai_assets.core.kernel.lake import Lake

    path = Lake(str(lake_root(args.workdir))).path(EVENTS_TABLE, args.day.isoformat())
    rows = partition_rows(args.workdir, args.day)
    rss_before = current_rss_mib()
    timings: dict[str, float] = {}
    results: dict[str, pd.DataFrame] = {}
    t0 = time.perf_counter()
    shared = _read_events(path, AGG_COLUMNS) if shared_read else None
    if shared_read:
        timings["read"] = time.perf_counter() - t0
    for name in AGGREGATES:
        t = time.perf_counter()
        df = shared if shared is not None else _read_events(path, PLAIN_COLUMNS[name])
        results[name] = funcs[name](df, args.day)
        del df
        timings[name] = time.perf_counter() - t
    wall = time.perf_counter() - t0
    for name, frame in results.items():
        frame.to_parquet(results_dir(args.workdir) / f"{variant}_{name}.parquet", index=False)
    return {
        "wall_s": wall, "events": rows,
        "details": {**{f"{k}_s": round(v, 2) for k, v in timings.items()},
                    **{f"{k}_rows": len(f) for k, f in results.items()}, "rss_before_mib": round(rss_before)},
    }


def phase_agg_pandas(args: argparse.Namespace) -> dict[str, Any]:
    """The baseline: each aggregate is its own function reading its partition, as each Dagster asset does."""
    return _pandas_phase(args, "pandas", shared_read=False, funcs=_pandas_funcs(pandas_user_plain))


def phase_agg_pandas_tuned(args: argparse.Namespace) -> dict[str, Any]:
    """A stronger baseline: one shared read for all three, sessions by a whole-column shift."""
    return _pandas_phase(args, "pandas_tuned", shared_read=True, funcs=_pandas_funcs(pandas_user))


def phase_agg_polars(args: argparse.Namespace) -> dict[str, Any]:
    """The Polars peer: the same three definitions as lazy queries over one scan, collected together (Polars shares
    the scan between them and runs on every core)."""
    import polars as pl

    from spotify_ai_assets.core.analytics.daily_aggregates import SESSION_GAP_MINUTES
    from spotify_ai_assets.core.kernel.lake import Lake

    path = Lake(str(lake_root(args.workdir))).path(EVENTS_TABLE, args.day.isoformat())
    rows = partition_rows(args.workdir, args.day)
    rss_before = current_rss_mib()
    t0 = time.perf_counter()
    events = pl.scan_parquet(path).select(AGG_COLUMNS)
    skip = pl.col("skipped").cast(pl.Float64)
    day = pl.lit(args.day, dtype=pl.Date).alias("date")
    track_country = (
        events.with_columns(pl.col("country").fill_null("XX"))
        .group_by("track_id", "country")
        .agg(pl.col("artist_id").drop_nulls().first(), pl.len().cast(pl.Int64).alias("plays"),
             pl.col("user_id").n_unique().cast(pl.Int64).alias("listeners"),
             pl.col("ms_played").sum().cast(pl.Int64), skip.mean().alias("skip_rate"))
        .select(day, pl.all())
    )
    artist = (
        events.filter(pl.col("artist_id").is_not_null())
        .group_by("artist_id")
        .agg(pl.len().cast(pl.Int64).alias("plays"), pl.col("user_id").n_unique().cast(pl.Int64).alias("listeners"),
             pl.col("track_id").n_unique().cast(pl.Int64).alias("tracks_played"),
             pl.col("ms_played").sum().cast(pl.Int64), skip.mean().alias("skip_rate"))
        .select(day, pl.all())
    )
    ms = pl.col("ms_played").fill_null(0)
    gap_ms = SESSION_GAP_MINUTES * 60_000
    start_ms = pl.col("played_at").dt.epoch("ms")
    user = (
        events.select("user_id", "played_at", ms.alias("ms"))
        .sort("user_id", "played_at", "ms")
        .with_columns((start_ms - (start_ms + pl.col("ms")).shift(1).over("user_id")).alias("gap"))
        .group_by("user_id")
        .agg(((pl.col("gap").is_null()) | (pl.col("gap") > gap_ms)).sum().cast(pl.Int64).alias("sessions"),
             pl.len().cast(pl.Int64).alias("plays"), (pl.col("ms").sum() / 60000.0).round(3).alias("minutes"))
        .select(day, pl.all())
    )
    results = dict(zip(AGGREGATES, pl.collect_all([track_country, artist, user]), strict=True))
    wall = time.perf_counter() - t0
    for name, frame in results.items():
        frame.write_parquet(results_dir(args.workdir) / f"polars_{name}.parquet")
    return {"wall_s": wall, "events": rows,
            "details": {**{f"{k}_rows": f.height for k, f in results.items()}, "rss_before_mib": round(rss_before)}}


# Key columns, exact (integer/string) columns and approximate (float) columns with their tolerance.
# minutes is rounded to 3 decimals on both sides, but DuckDB rounds half away from zero and numpy half
# to even, so a tie may differ by one unit in the last place.
COMPARE: dict[str, tuple[list[str], list[str], dict[str, float]]] = {
    "track_country": (["track_id", "country"], ["artist_id", "plays", "listeners", "ms_played"], {"skip_rate": 1e-9}),
    "artist": (["artist_id"], ["plays", "listeners", "tracks_played", "ms_played"], {"skip_rate": 1e-9}),
    "user": (["user_id"], ["sessions", "plays"], {"minutes": 0.001 + 1e-9}),
}
TOTALS = {"track_country": ["plays", "listeners", "ms_played"], "artist": ["plays", "listeners", "tracks_played"],
          "user": ["sessions", "plays", "minutes"]}


PANDAS_VARIANTS = ("pandas", "pandas_tuned", "polars")


def _compare(con: Any, name: str, d_path: str, p_path: str) -> dict[str, Any]:
    keys, exact, approx = COMPARE[name]
    con.execute(f"CREATE OR REPLACE VIEW d AS SELECT *, true AS _present FROM read_parquet('{d_path}')")
    con.execute(f"CREATE OR REPLACE VIEW p AS SELECT *, true AS _present FROM read_parquet('{p_path}')")
    differs = [f"d.{c} IS DISTINCT FROM p.{c}" for c in exact]
    differs += [f"(d.{c} IS NULL) <> (p.{c} IS NULL) OR abs(d.{c} - p.{c}) > {tol}" for c, tol in approx.items()]
    join = " AND ".join(f"d.{k} = p.{k}" for k in keys)
    only_d, only_p, differing = con.execute(f"""
        SELECT count(*) FILTER (WHERE p._present IS NULL), count(*) FILTER (WHERE d._present IS NULL),
               count(*) FILTER (WHERE d._present AND p._present AND ({" OR ".join(differs)}))
        FROM d FULL OUTER JOIN p ON {join}
    """).fetchone()
    totals = {}
    for side in ("d", "p"):
        sums = ", ".join(f"sum({c})" for c in TOTALS[name])
        totals[side] = list(con.execute(f"SELECT count(*), {sums} FROM {side}").fetchone())
    rows = totals["d"][0]
    # Rounded floats may differ by their tolerance per row, so their totals by at most rows x tolerance.
    totals_ok = all(
        abs(dv - pv) <= rows * approx[col] if col in approx else dv == pv
        for col, dv, pv in zip(["rows", *TOTALS[name]], totals["d"], totals["p"], strict=True)
    )
    spot_cols = ", ".join([*(f"d.{k}" for k in keys), *(f"d.{c}, p.{c}" for c in TOTALS[name])])
    spot = con.execute(f"SELECT {spot_cols} FROM d JOIN p ON {join} "
                       f"ORDER BY d.plays DESC, {', '.join(f'd.{k}' for k in keys)} LIMIT 2").fetchall()
    return {"only_duckdb": only_d, "only_pandas": only_p, "differing": differing,
            "totals_columns": ["rows", *TOTALS[name]],
            "totals_duckdb": [round(v, 3) if isinstance(v, float) else int(v) for v in totals["d"]],
            "totals_pandas": [round(v, 3) if isinstance(v, float) else int(v) for v in totals["p"]],
            "spot": [[str(v) for v in row] for row in spot],
            "match": only_d == 0 and only_p == 0 and differing == 0 and totals_ok}


def phase_verify(args: argparse.Namespace) -> dict[str, Any]:
    import duckdb

    res = results_dir(args.workdir)
    con = duckdb.connect(":memory:")
    checks: dict[str, Any] = {}
    t0 = time.perf_counter()
    for variant in PANDAS_VARIANTS:
        for name in AGGREGATES:
            checks[f"{variant}/{name}"] = _compare(con, name, str(res / f"duckdb_{name}.parquet"),
                                                   str(res / f"{variant}_{name}.parquet"))
    con.close()
    return {"wall_s": time.perf_counter() - t0, "events": 0,
            "details": {"checks": checks, "match": all(c["match"] for c in checks.values())}}


PHASE_FUNCS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "generate": phase_generate,
    "ingest": phase_ingest,
    "ingest_naive": phase_ingest_naive,
    "ingest_reference": phase_ingest_reference,
    "ingest_compare": phase_ingest_compare,
    "agg_duckdb": phase_agg_duckdb,
    "agg_duckdb_plain": phase_agg_duckdb_plain,
    "agg_pandas": phase_agg_pandas,
    "agg_pandas_tuned": phase_agg_pandas_tuned,
    "agg_polars": phase_agg_polars,
    "verify": phase_verify,
}


def run_phase_here(args: argparse.Namespace) -> None:
    """Child side: run one phase and leave its figures as JSON for the parent."""
    c0 = cpu_seconds()
    result = PHASE_FUNCS[args.phase](args)
    # Phases that time a region of their own report its CPU; the others, the whole phase after start-up.
    result.setdefault("cpu_s", cpu_seconds() - c0)
    result["phase"] = args.phase
    # Read last, so the high-water mark covers everything the phase did (imports included: they are part
    # of what a real step's process holds).
    result["peak_rss_mib"] = peak_rss_mib()
    (results_dir(args.workdir) / f"{args.phase}.json").write_text(json.dumps(result))


# ---- parent: orchestration and report ------------------------------------------------------------
def run_phase_in_child(args: argparse.Namespace, phase: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--workdir", str(args.workdir),
           "--day", args.day.isoformat(), "--scale", args.scale]
    if args.events is not None:
        cmd += ["--events", str(args.events)]
    print(f"  running {PHASE_LABELS[phase]} ...", file=sys.stderr, flush=True)
    # cwd = workdir: an in-memory DuckDB that spills writes its temp files under the current directory,
    # which must not be the repository.
    before = harness.cpu_jiffies()
    proc = subprocess.run(cmd, cwd=args.workdir, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"phase {phase} failed with exit status {proc.returncode}")
    result = json.loads((results_dir(args.workdir) / f"{phase}.json").read_text())
    result["steal_pct"] = harness.steal_pct(before, harness.cpu_jiffies())
    return result


def machine_facts() -> list[tuple[str, str]]:
    import duckdb
    import numpy
    import pandas
    import polars
    import pyarrow

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return [*harness.machine_facts(), ("duckdb", duckdb.__version__), ("pandas", pandas.__version__),
            ("polars", polars.__version__), ("pyarrow", pyarrow.__version__), ("numpy", numpy.__version__),
            ("numpy THP", "NUMPY_MADVISE_HUGEPAGE=" + os.environ.get("NUMPY_MADVISE_HUGEPAGE", "unset (NumPy's "
             "default: huge pages asked for on Linux)") + "; every phase inherits it"),
            ("load avg", f"{load} (1, 5, 15 min) at the end: other work on this machine")]


def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest round, with every round's wall time and the highest peak RSS of any round."""
    best = dict(min(runs, key=lambda r: r["wall_s"]))
    walls = [r["wall_s"] for r in runs]
    best["rounds_s"] = walls
    best["median_s"] = statistics.median(walls)
    best["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    best["details"] = {**best["details"], "rounds_s": [round(w, 2) for w in walls],
                       "steal_pct": [round(r["steal_pct"], 1) for r in runs]}
    return best


def fmt_int(n: float) -> str:
    return f"{n:,.0f}"


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> bool:
    print()
    print("machine")
    for key, value in machine_facts():
        print(f"  {key:<9} {value}")
    print()
    gen = results["generate"]["details"]
    print(f"day {args.day.isoformat()} ({args.day:%A}), scale {args.scale}, seed {SEED}: "
          f"{fmt_int(gen['records'])} exported records ({gen['bad']} bad, {gen['duplicates']} duplicates) "
          f"in {gen['files']} Parquet files, {gen['bytes'] / 2**20:.0f} MiB")
    print()
    header = (f"{'phase':<24} {'wall s':>8} {'CPU s':>7} {'events/s':>12} {'peak RSS MiB':>13} {'CPU steal':>10}")
    print(header)
    print("-" * len(header))
    for phase in PHASES[:-1]:
        r = results[phase]
        rate = r["events"] / r["wall_s"] if r["wall_s"] else float("nan")
        cpu = f"{r['cpu_s']:>7.1f}" if "cpu_s" in r else f"{'':>7}"
        print(f"{PHASE_LABELS[phase]:<24} {r['wall_s']:>8.2f} {cpu} {fmt_int(rate):>12} "
              f"{fmt_int(r['peak_rss_mib']):>13} {r['steal_pct']:>9.1f}%")
    print()
    for phase in PHASES[:-1]:
        details = ", ".join(f"{k}={v}" for k, v in results[phase]["details"].items())
        print(f"  {PHASE_LABELS[phase]}: {details}")
    print()

    ok = report_ingestion(results)
    verify = results["verify"]["details"]
    for name, c in verify["checks"].items():
        totals = ", ".join(f"{col}={d}" + ("" if d == p else f" (pandas {p})")
                           for col, d, p in zip(c["totals_columns"], c["totals_duckdb"], c["totals_pandas"],
                                                strict=True))
        print(f"  verify {name:<26} {'MATCH' if c['match'] else 'MISMATCH'}: {totals}; "
              f"only in duckdb {c['only_duckdb']}, only in the peer {c['only_pandas']}, differing {c['differing']}")
        for row in c["spot"]:
            print(f"    spot check {row}")
    print(f"results: {'MATCH' if verify['match'] else 'MISMATCH'}")
    print()

    def ratio(baseline: str, key: str = "wall_s") -> float:
        return results[baseline][key] / results["agg_duckdb"][key]

    rounds = len(results["agg_duckdb"].get("rounds_s", [0]))
    print(f"aggregates, one pass ({rounds} rounds; fastest, and medians in brackets):")
    for baseline, label in (("agg_duckdb_plain", "plain DuckDB SQL, one read per table"),
                            ("agg_pandas_tuned", "pandas+ (one shared read, whole-column shift)")):
        print(f"  speed-up vs {label}: {ratio(baseline):.1f}x ({ratio(baseline, 'median_s'):.1f}x)")
    # The target is judged on the less flattering of the two ratios.
    speedup = min(ratio("agg_pandas"), ratio("agg_pandas", "median_s"))
    print(f"  speed-up vs pandas: {ratio('agg_pandas'):.1f}x ({ratio('agg_pandas', 'median_s'):.1f}x); "
          f"target >= {SPEEDUP_TARGET:.0f}x -> {'met' if speedup >= SPEEDUP_TARGET else 'MISSED'}")
    vs_polars = min(ratio("agg_polars"), ratio("agg_polars", "median_s"))
    print(f"  speed-up vs Polars: {ratio('agg_polars'):.1f}x ({ratio('agg_polars', 'median_s'):.1f}x); "
          f"target >= {POLARS_SPEEDUP_TARGET:.0f}x -> {'met' if vs_polars >= POLARS_SPEEDUP_TARGET else 'MISSED'}")
    ours = ("generate", "ingest", "agg_duckdb")  # the other phases are baselines, not the pipeline
    peak = max(results[p]["peak_rss_mib"] for p in ours)
    worst = max(ours, key=lambda p: results[p]["peak_rss_mib"])
    print(f"peak RSS max over phases: {fmt_int(peak)} MiB in {PHASE_LABELS[worst]} (target < {RSS_TARGET_MIB} MiB)"
          f" -> {'met' if peak < RSS_TARGET_MIB else 'MISSED'}")
    total = sum(sum(results[p].get("rounds_s", [results[p]["wall_s"]])) for p in PHASES)
    print(f"total measured wall time: {total:.1f} s")
    return bool(verify["match"]) and ok


def report_ingestion(results: dict[str, dict[str, Any]]) -> bool:
    """Ours against the naive floor and the reference, and the row-for-row comparison; True if the output matches."""
    ours, naive, ref = results["ingest"], results["ingest_naive"], results["ingest_reference"]
    compare = results["ingest_compare"]["details"]
    print(f"ingestion + lake write ({len(ours.get('rounds_s', [0]))} round(s) of ours and the floor; fastest):")
    for label, r in (("ours", ours), ("naive DuckDB floor", naive), ("today's implementation", ref)):
        print(f"  {label:<24} {r['wall_s']:>7.2f} s wall, {r['cpu_s']:>6.1f} s CPU, peak RSS "
              f"{fmt_int(r['peak_rss_mib'])} MiB, steal {r['steal_pct']:.1f}%")
    speedup = naive["wall_s"] / ours["wall_s"]
    print(f"  ours vs the naive floor: {speedup:.2f}x by wall time ({naive['cpu_s'] / ours['cpu_s']:.2f}x by CPU "
          f"time); target >= {INGEST_SPEEDUP_TARGET:.0f}x -> {'met' if speedup >= INGEST_SPEEDUP_TARGET else 'MISSED'}")
    print(f"  ours vs today's: {ref['wall_s'] / ours['wall_s']:.2f}x by wall time "
          f"({ref['cpu_s'] / ours['cpu_s']:.2f}x by CPU time)")
    print(f"  ours: {ours['wall_s']:.1f} s, target <= {INGEST_TARGET_S:.0f} s -> "
          f"{'met' if ours['wall_s'] <= INGEST_TARGET_S else 'MISSED'}; peak RSS {fmt_int(ours['peak_rss_mib'])} MiB, "
          f"target < {RSS_TARGET_MIB} MiB -> {'met' if ours['peak_rss_mib'] < RSS_TARGET_MIB else 'MISSED'}")
    d = ours["details"]
    print(f"  accounting: {d['records_in']:,} records in = {d['rows_out']:,} landed + {d['quarantined']:,} "
          f"quarantined + {d['duplicates']:,} duplicates -> {'yes' if d['all_accounted'] else 'NO'}; "
          f"matches the generator's manifest -> {'yes' if d['matches_manifest'] else 'NO'}")
    print(f"  row for row against today's output: {compare['rows_compared']:,} rows compared in order, "
          f"{compare['rows_left_over']} left over, differing columns: {compare['columns_differing']}; quarantine "
          f"({compare['quarantine_rows']:,} rows) identical -> {'yes' if compare['quarantine_identical'] else 'NO'}: "
          f"{'MATCH' if compare['match'] else 'MISMATCH'}")
    print()
    return bool(compare["match"] and d["all_accounted"])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=None,
                        help="events in the day (default: the scale's own volume for --day; bench: ~11.8M)")
    parser.add_argument("--day", type=dt.date.fromisoformat, default=DEFAULT_DAY,
                        help=f"sandbox day to generate (default {DEFAULT_DAY})")
    parser.add_argument("--scale", default="bench", choices=["tiny", "small", "medium", "bench"],
                        help="sandbox world size (medium: ~1M events a day, a quick smoke run)")
    parser.add_argument("--workdir", type=Path, default=None, help="working directory (default: a new one in /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (exports, lake, results)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of the aggregate phases, interleaved; each reports its fastest (default 3)")
    parser.add_argument("--ingest-repeat", type=int, default=1,
                        help="rounds of our ingestion and the naive floor, interleaved (default 1)")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.phase:
        run_phase_here(args)
        return 0

    def run() -> bool:
        results_dir(args.workdir).mkdir(parents=True)
        results = {"generate": run_phase_in_child(args, "generate")}
        ingest_rounds: dict[str, list[dict[str, Any]]] = {"ingest": [], "ingest_naive": []}
        for _ in range(args.ingest_repeat):
            for phase in ingest_rounds:
                ingest_rounds[phase].append(run_phase_in_child(args, phase))
        results.update({phase: fastest(runs) for phase, runs in ingest_rounds.items()})
        results["ingest_reference"] = run_phase_in_child(args, "ingest_reference")
        results["ingest_compare"] = run_phase_in_child(args, "ingest_compare")
        rounds: dict[str, list[dict[str, Any]]] = {phase: [] for phase in AGG_PHASES}
        for _ in range(args.repeat):
            for phase in AGG_PHASES:  # interleaved, so a slow spell of the machine hits every side alike
                rounds[phase].append(run_phase_in_child(args, phase))
        results.update({phase: fastest(runs) for phase, runs in rounds.items()})
        results["verify"] = run_phase_in_child(args, "verify")
        return report(args, results)

    return run_in_workdir(args, "bench-ingest-",
                          lambda w: [landing_dir(w), lake_root(w), reference_root(w), naive_dir(w), results_dir(w)],
                          run)


if __name__ == "__main__":
    sys.exit(main())
