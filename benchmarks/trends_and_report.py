"""Benchmark the day's trends and reports on a 10-million-event day with 30 days of history.

    python benchmarks/trends_and_report.py                      # bench world: >= 10M events on the scored day
    python benchmarks/trends_and_report.py --scale medium       # ~1M events a day, a quick smoke run
    python benchmarks/trends_and_report.py --keep --workdir /tmp/trends-bench   # keep the history for a re-run

Phases, each in a fresh child process (this script re-invoked with `--phase`) so each peak RSS is its own:

- history: the 31 days of daily aggregates (`daily_track_country_stats`, `daily_artist_stats`) the trends read,
  computed with the pipeline's own SQL from the sandbox's events; reused when the workdir already has them.
- trends: `track_trends` and `artist_trends` for the scored day, materialized through Dagster as the daily job does.
- trends (pandas): the same track scores in plain pandas over the same Parquet files, the baseline; its flagged
  tracks must equal the asset's (the run fails otherwise).
- reports: `platform_daily_report` and `artist_daily_reports` (one HTML per watched artist) for the scored day.

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import harness  # noqa: E402
from harness import peak_rss_mib, run_in_workdir  # noqa: E402

SEED = 7
DEFAULT_DAY = dt.date(2026, 2, 6)  # a Friday: the bench world's busiest weekday, 31 days after its first day
HISTORY_DAYS = 30
STATS = ("daily_track_country_stats", "daily_artist_stats")
PHASES = ("history", "trends", "track_trends_duckdb", "track_trends_pandas", "reports")
LABELS = {"history": "history (31 days of aggregates)", "trends": "trends: track + artist assets (Dagster)",
          "track_trends_duckdb": "track trends, core DuckDB SQL", "track_trends_pandas": "track trends, plain pandas",
          "reports": "reports: platform + per-artist assets (Dagster)"}


def lake_root(workdir: Path) -> Path:
    return workdir / "lake"


def _days(day: dt.date) -> list[dt.date]:
    return [day - dt.timedelta(days=n) for n in range(HISTORY_DAYS, -1, -1)]


def phase_history(args: argparse.Namespace) -> dict[str, Any]:
    import pyarrow as pa

    from spotify_ai_assets.core.analytics.daily_aggregates import daily_aggregates
    from spotify_ai_assets.core.ingestion.catalog import ARTISTS_SCHEMA
    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.sandbox.world import World
    from spotify_ai_assets_tests.sandbox_lake import day_events

    world = World(seed=SEED, scale=args.scale)
    lake = Lake(str(lake_root(args.workdir)))
    built, events_on_day = 0, world.events_on(args.day)
    for day in _days(args.day):
        if all(lake.exists(t, day.isoformat()) for t in STATS):
            continue
        events = day_events(world, day)
        tables = daily_aggregates(events, day, only=("track_country", "artist")).tables
        lake.write("daily_track_country_stats", tables["track_country"], day.isoformat())
        lake.write("daily_artist_stats", tables["artist"], day.isoformat())
        built += 1
        del events
    watched = world.watchlist()["artists"]
    lake.write("spotify_artists", pa.Table.from_pylist(
        [{"snapshot_date": args.day, "artist_id": a, "name": world.artist_name(world.artist_ids.index(a)),
          "genres": [], "popularity": None, "followers": None} for a in watched], ARTISTS_SCHEMA),
        args.day.isoformat())
    return {"events": events_on_day, "details": {"days_built": built, "days_reused": HISTORY_DAYS + 1 - built,
                                                 "watched_artists": len(watched)}}


def _materialize(args: argparse.Namespace, assets: list[Any]) -> dict[str, float]:
    import dagster as dg

    from spotify_ai_assets.lib.resources.lake import LakeResource

    result = dg.materialize(assets, partition_key=args.day.isoformat(),
                            resources={"lake": LakeResource(root=str(lake_root(args.workdir)))})
    if not result.success:
        raise SystemExit("materialization failed")
    return {}


def _track_stat_rows(args: argparse.Namespace) -> int:
    from spotify_ai_assets.core.kernel.lake import Lake

    lake = Lake(str(lake_root(args.workdir)))
    return sum(lake.row_count("daily_track_country_stats", d.isoformat()) or 0 for d in _days(args.day)[-29:])


def phase_trends(args: argparse.Namespace) -> dict[str, Any]:
    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.defs.analytics.trends import artist_trends, track_trends

    t = time.perf_counter()
    _materialize(args, [track_trends, artist_trends])
    wall = time.perf_counter() - t
    lake = Lake(str(lake_root(args.workdir)))
    flagged = lake.read("track_trends", args.day.isoformat())
    return {"wall_s": wall, "rows_in": _track_stat_rows(args),
            "details": {"tracks_flagged": flagged.num_rows,
                        "artists_flagged": lake.row_count("artist_trends", args.day.isoformat())}}


def pandas_track_trends(paths: list[str], day: dt.date) -> Any:
    """core/analytics/trends.py's method for tracks, written the way a pandas user would."""
    import numpy as np
    import pandas as pd

    from spotify_ai_assets.core.analytics import trends as T

    frames = [pd.read_parquet(p, columns=["date", "track_id", "listeners"]) for p in paths]
    stats = pd.concat(frames, ignore_index=True)
    stats["date"] = pd.to_datetime(stats["date"]).dt.date
    daily = stats.groupby(["date", "track_id"], sort=False)["listeners"].sum().rename("plays").reset_index()
    start = day - dt.timedelta(days=T.BASELINE_DAYS)
    daily = daily[(daily["date"] >= start) & (daily["date"] <= day)]
    totals = daily.groupby("date")["plays"].sum()
    before = totals[totals.index < day].sort_index(ascending=False).cumsum()  # plays since each day, to yesterday
    past = daily[daily["date"] < day]
    history = past.groupby("track_id").agg(hist=("plays", "sum"), first_seen=("date", "min"))
    today = daily[daily["date"] == day].groupby("track_id")["plays"].sum()
    scored = history.join(today.rename("plays"), how="outer")
    scored["plays"] = scored["plays"].fillna(0)
    scored["history_days"] = [(day - d).days if isinstance(d, dt.date) else 0 for d in scored["first_seen"]]
    since = scored["first_seen"].map(before)
    scored["expected"] = (scored["hist"] / since.replace(0, np.nan) * totals.get(day, 0)).fillna(0)
    z = (scored["plays"] - scored["expected"]) / np.sqrt(scored["expected"] + 1)
    new = scored["history_days"] < T.MIN_HISTORY_DAYS
    rising = ~new & (z >= T.Z_RISING) & (scored["plays"] >= T.MIN_PLAYS) & (scored["plays"] >= T.MIN_RATIO
                                                                             * scored["expected"])
    falling = ~new & (z <= -T.Z_RISING) & (scored["expected"] >= T.MIN_PLAYS) & (scored["plays"] * T.MIN_RATIO
                                                                                <= scored["expected"])
    emerging = new & (scored["plays"] >= T.MIN_EMERGING_PLAYS)
    scored["trend"] = np.select([emerging, rising, falling], ["emerging", "rising", "falling"], default=None)
    return scored[scored["trend"].notna()]


def _window(args: argparse.Namespace) -> list[str]:
    from spotify_ai_assets.core.analytics import trends as T

    return [d.isoformat() for d in _days(args.day)[-(T.BASELINE_DAYS + 1):]]


def phase_track_trends_duckdb(args: argparse.Namespace) -> dict[str, Any]:
    """What the track_trends asset computes, without Dagster around it: the like-for-like rival of pandas."""
    import pyarrow as pa

    from spotify_ai_assets.core.analytics import trends as T
    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.core.kernel.query import sql_to_arrow
    from spotify_ai_assets.defs.analytics.trends import _DAILY

    lake = Lake(str(lake_root(args.workdir)))
    t = time.perf_counter()
    daily = sql_to_arrow(_DAILY["track"][1], {"s": lake.scan("daily_track_country_stats", _window(args))})
    scores = T.score_day(daily, args.day)
    flagged = scores.filter(pa.compute.is_valid(scores["trend"]))
    wall = time.perf_counter() - t
    return {"wall_s": wall, "rows_in": _track_stat_rows(args), "details": {"tracks_scored": scores.num_rows,
                                                                        "tracks_flagged": flagged.num_rows}}


def phase_track_trends_pandas(args: argparse.Namespace) -> dict[str, Any]:
    from spotify_ai_assets.core.kernel.lake import Lake

    lake = Lake(str(lake_root(args.workdir)))
    days = _window(args)
    t = time.perf_counter()
    flagged = pandas_track_trends([lake.path("daily_track_country_stats", d) for d in days], args.day)
    wall = time.perf_counter() - t
    ours = lake.read("track_trends", args.day.isoformat())
    same = dict(zip(ours["entity_id"].to_pylist(), ours["trend"].to_pylist(), strict=True)) == dict(
        zip(flagged.index, flagged["trend"], strict=True))
    return {"wall_s": wall, "rows_in": _track_stat_rows(args), "ok": same,
            "details": {"tracks_flagged": len(flagged), "same_flags_as_duckdb": same}}


def phase_reports(args: argparse.Namespace) -> dict[str, Any]:
    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.defs.analytics.reports import ARTIST_TABLE, artist_daily_reports, platform_daily_report

    t = time.perf_counter()
    _materialize(args, [platform_daily_report, artist_daily_reports])
    wall = time.perf_counter() - t
    files = Lake(str(lake_root(args.workdir))).list_files(ARTIST_TABLE, args.day.isoformat())
    return {"wall_s": wall, "details": {"artist_reports": len(files)}}


def run_phase(args: argparse.Namespace, phase: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", phase, "--scale", args.scale, "--day", args.day.isoformat(),
           "--workdir", str(args.workdir)]
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.setdefault("wall_s", time.perf_counter() - t)
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", default="bench", choices=["tiny", "small", "medium", "bench"])
    p.add_argument("--day", type=dt.date.fromisoformat, default=DEFAULT_DAY)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--keep", action="store_true", help="keep the workdir (and its history) for a re-run")
    p.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.phase:
        result = globals()[f"phase_{args.phase}"](args)
        result["peak_rss_mib"] = peak_rss_mib()
        print(json.dumps(result, default=str))
        return 0

    def run() -> bool:
        results = {}
        for phase in PHASES:
            results[phase] = run_phase(args, phase)
            print(f"{LABELS[phase]}: {results[phase]['wall_s']:.2f} s", file=sys.stderr)
        for name, value in harness.machine_facts():
            print(f"{name:9} {value}")
        print(f"scored day {args.day} ({args.scale} world, seed {SEED}): {results['history']['events']:,} events, "
              f"{HISTORY_DAYS} days of history; {results['trends']['rows_in']:,} track x country rows in the "
              f"trends' 29-day window\n")
        print("| phase | wall s | peak RSS MiB | details |\n| --- | ---: | ---: | --- |")
        for phase in PHASES:
            r = results[phase]
            print(f"| {LABELS[phase]} | {r['wall_s']:.2f} | {r['peak_rss_mib']:.0f} | {json.dumps(r['details'])} |")
        assets = results["trends"]["wall_s"] + results["reports"]["wall_s"]
        duck, pandas = results["track_trends_duckdb"]["wall_s"], results["track_trends_pandas"]["wall_s"]
        print(f"\ntrends + reports for the day (the assets): {assets:.2f} s wall, peak RSS "
              f"{max(results['trends']['peak_rss_mib'], results['reports']['peak_rss_mib']):.0f} MiB")
        print(f"track trend scoring, plain pandas / DuckDB: {pandas / duck:.2f}x "
              f"({results['trends']['rows_in'] / duck:,.0f} input rows/s in DuckDB)")
        return bool(results["track_trends_pandas"].get("ok"))

    # Nothing is emptied first: a kept workdir's history is reused, and every phase rewrites its own outputs.
    return run_in_workdir(args, "trends-bench-", lambda w: [], run)


if __name__ == "__main__":
    sys.exit(main())
