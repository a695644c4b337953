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
    import pandas as pd

    frames = [pd.read_parquet(p, columns=["date", "track_id", "artist_id", "listeners"]) for p in paths]
    stats = pd.concat(frames, ignore_index=True)
    stats["date"] = pd.to_datetime(stats["date"]).dt.date
    daily = stats.groupby(["date", "track_id"], sort=False)["listeners"].sum().rename("plays").reset_index()
    scored = pandas_scores(daily.rename(columns={"track_id": "entity_id"}), day)
    # explain_spillover: each track's artist from the day's rows, as the track_trends asset takes it.
    artist = stats[stats["date"] == day].groupby("track_id")["artist_id"].min()
    _mark_lifted(scored, artist)
    return scored[scored["trend"].notna()]


def _mark_lifted(scored: Any, artist: Any) -> None:
    """A rising track is `lifted` when another rising track of its artist rose further (ratio, as stored: 3
    decimals) on at least as much evidence (z, as stored), as trends.explain_spillover does."""
    rising = scored[scored["trend"] == "rising"].assign(artist=lambda d: artist.reindex(d.index).to_numpy())
    rising = rising[rising["artist"].notna()].assign(
        ratio=lambda d: ((d["plays"] + 1) / (d["expected"] + 1)).round(3), zr=lambda d: d["z"].round(3))
    lifted = [e for _, g in rising.groupby("artist") if len(g) > 1 for e, row in g.iterrows()
              if ((g.index != e) & (g["ratio"] > row["ratio"]) & (g["zr"] >= row["zr"])).any()]
    scored.loc[lifted, "trend"] = "lifted"


def _deviance_z(y: Any, mu: Any, a: Any) -> Any:
    import numpy as np

    mu, a = np.maximum(mu, 0.01), np.maximum(a, 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0.0)
        dev = 2 * (term - (y + 1 / a) * np.log((1 + a * y) / (1 + a * mu)))
    return np.sign(y - mu) * np.sqrt(np.maximum(dev, 0))


def _mad(x: Any, axis: int | None = None) -> Any:
    import numpy as np

    med = np.nanmedian(x, axis=axis, keepdims=axis is not None)
    return np.nanmedian(np.abs(x - med), axis=axis)


def pandas_scores(daily: Any, day: dt.date) -> Any:
    """Every entity's score and trend for `day` from (date, entity_id, plays) rows: TRENDS_SQL in pandas + numpy
    (a dense entity x day matrix of the window; no catalog groups, as the track_trends asset runs without the day's
    catalog snapshot). The learned clusters are core/analytics/co_movement.py's (what is compared here is the
    scoring); their factors, as the rest, are computed in pandas + numpy."""
    import warnings

    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from spotify_ai_assets.core.analytics import trends as T
    from spotify_ai_assets.core.analytics.co_movement import learned_clusters

    warnings.simplefilter("ignore", RuntimeWarning)  # medians of empty rows and days are NaN, as NULL in SQL
    start = day - dt.timedelta(days=T.BASELINE_DAYS)
    daily = daily[(daily["date"] >= start) & (daily["date"] <= day)]
    daily = daily.groupby(["date", "entity_id"], sort=False)["plays"].sum().reset_index()
    dates = sorted(daily["date"].unique())
    ents = pd.Index(sorted(daily.loc[daily["date"] < day, "entity_id"].unique()))
    y = np.zeros((len(ents), len(dates)))
    known = daily[daily["entity_id"].isin(ents)]
    y[ents.get_indexer(known["entity_id"]), pd.Index(dates).get_indexer(known["date"])] = known["plays"]
    total = daily.groupby("date")["plays"].sum().reindex(dates).to_numpy(float)
    first = np.argmax(y > 0, axis=1)
    live = np.arange(len(dates))[None, :] >= first[:, None]  # every day since the entity's first listener
    lag = np.array([(day - d).days for d in dates])
    base = live & (lag >= T.BASE_GAP)[None, :]
    is_today = np.array([d == day for d in dates])
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = (y * base).sum(1) / (total[None, :] * base).sum(1)
        e_raw = raw[:, None] * total[None, :]
        lr = np.where(live & (e_raw >= T.FACTOR_MIN_EXPECTED), np.log((y + 0.5) / (e_raw + 0.5)), np.nan)
        n = (~np.isnan(lr)).sum(0)
        m = np.nan_to_num(np.nanmedian(lr, axis=0) * n / (n + T.PLATFORM_PRIOR))
        # Each learned cluster's factor, leaning on the platform's; an entity without a cluster takes the platform's.
        learned = learned_clusters(pa.Table.from_pandas(daily[["date", "entity_id", "plays"]], preserve_index=False),
                                   day, T.BASELINE_DAYS)
        cluster = pd.Series(learned["cluster_id"].to_pylist(), index=learned["entity_id"].to_pylist(),
                            dtype=object).reindex(ents)
        codes = pd.factorize(cluster)[0]
        member = pd.Series(learned["member"].to_pylist(), index=learned["entity_id"].to_pylist(),
                           dtype=object).reindex(ents).fillna(False).astype(bool).to_numpy()
        pm = np.tile(m, (len(ents), 1))
        for c in range(codes.max() + 1):
            members = lr[codes == c]
            nc = (~np.isnan(members)).sum(0)
            pm[codes == c] = (nc * np.nan_to_num(np.nanmedian(members, axis=0)) + T.GROUP_PRIOR * m) / (
                nc + T.GROUP_PRIOR)
        ftotal = total[None, :] * np.exp(pm)
        b_plays, b_days = (y * base).sum(1), base.sum(1)
        share = b_plays / (ftotal * base).sum(1)
        e = share[:, None] * ftotal
        r = np.where(base, y - e, np.nan)
        num, e2 = np.nansum(np.where(base, r * r - y, np.nan), 1), np.nansum(np.where(base, e * e, np.nan), 1)
        spread = 1.4826 * _mad(r, axis=1)
        big = (b_plays >= T.POOL_MIN_MEAN * b_days) & (e2 > 0)
        a0 = float(np.median(np.maximum(num[big] / e2[big], 0))) if big.any() else max(num.sum() / e2.sum(), 0.0)
        a0 = 0.0 if np.isnan(a0) else a0
        keep = base & (np.abs(y - e) <= T.TRIM_Z * np.maximum(np.sqrt(e + a0 * e * e + 1),
                                                               np.nan_to_num(spread)[:, None]))
        tn, t2 = (np.where(keep, (y - e) ** 2 - y, 0)).sum(1), np.where(keep, e ** 2, 0).sum(1)
        t3, t4 = np.where(keep, e ** 3, 0).sum(1), np.where(keep, e ** 4, 0).sum(1)
        den = 2 * (t2 + 2 * a0 * t3 + a0 ** 2 * t4)
        w = np.where(den > 0, t2 * t2 / den, 0.0)
        prior = 1 / (T.TAU_SCALE * a0 + T.TAU_MIN) ** 2
        alpha = (w * np.maximum(np.where(t2 > 0, tn / t2, 0.0), 0) + a0 * prior) / (w + prior)
        # no baseline day (first listeners in the last few days): no score, as NULL in SQL
        unc = np.where(b_days > 0, 1 / (b_plays + 1) + alpha / np.maximum(b_days, 1), np.nan)
        cols = {"expected": (e * is_today).sum(1), "a1": alpha + unc, "member": member,
                "history_days": [(day - dates[f]).days for f in first]}
        e0, rows = np.nan_to_num(e), np.arange(len(ents))
        for k in T.WINDOWS:  # the window sums, each without its highest (u) or lowest (d) day against expected
            m = live & (lag < k)[None, :]
            wy, we, has = np.where(m, y, 0).sum(1), np.where(m, e0, 0).sum(1), m.any(1)
            hi = np.argmax(np.where(m, y - e0, -np.inf), axis=1)
            lo = np.argmin(np.where(m, y - e0, np.inf), axis=1)
            cols |= {f"wy{k}": wy, f"we{k}": we, f"wa{k}": alpha / (k - 1) + unc,
                     f"uy{k}": wy - np.where(has, y[rows, hi], 0), f"ue{k}": we - np.where(has, e0[rows, hi], 0),
                     f"dy{k}": wy - np.where(has, y[rows, lo], 0), f"de{k}": we - np.where(has, e0[rows, lo], 0)}
        scored = pd.DataFrame(cols, index=ents)
    today = daily[daily["date"] == day].set_index("entity_id")["plays"]
    scored = scored.join(today.rename("plays"), how="outer")
    scored["plays"] = scored["plays"].fillna(0)
    scored = scored.fillna({"expected": 0.0, "history_days": 0, "member": False})
    ok = scored["a1"].notna()
    z_day = np.where(ok, _deviance_z(scored["plays"], scored["expected"], scored["a1"].fillna(1)), 0.0)
    null = (scored["history_days"] >= T.MIN_HISTORY_DAYS) & (scored["expected"] >= 1)
    enough = null.sum() >= T.NULL_MIN_ENTITIES
    if enough:
        z_day = z_day / max(1.0, 1.4826 * _mad(z_day[null]))
    plays, exp = scored["plays"], scored["expected"]
    # No catalog groups here: an entity is grouped when it took part in a learned cluster's k-means (a smaller entity
    # joined to a cluster takes its factor, not the grouped window rule).
    grouped = scored["member"].astype(bool).to_numpy()
    zw = np.where(grouped, T.Z_WINDOW, T.Z_WINDOW_UNGROUPED)
    rw = np.where(grouped, T.MIN_RATIO_WINDOW, T.MIN_RATIO_WINDOW_UNGROUPED)
    rise_win = np.full(len(scored), np.nan)
    fall_win = np.full(len(scored), np.nan)
    for k in T.WINDOWS:
        wy, we, wa = (scored[f"{c}{k}"].fillna(0 if c != "wa" else 1) for c in ("wy", "we", "wa"))
        for u in "ud":
            zk = np.where(ok, _deviance_z(scored[f"{u}y{k}"].fillna(0), scored[f"{u}e{k}"].fillna(0), wa), 0.0)
            if enough:
                zk = zk / max(1.0, 1.4826 * _mad(zk[null]))
            if u == "u":
                rise_win = np.fmax(rise_win, np.where((zk >= zw) & (wy >= rw * we), zk, np.nan))
            else:
                fall_win = np.fmin(fall_win, np.where((zk <= -zw) & (wy * rw <= we), zk, np.nan))
    rises, falls = ~np.isnan(rise_win), ~np.isnan(fall_win)
    scored["z"] = np.where(rises, np.fmax(z_day, rise_win), np.where(falls, np.fmin(z_day, fall_win), z_day))
    new = scored["history_days"] < T.MIN_HISTORY_DAYS
    z = T.Z_ALERT
    rising = ~new & (plays >= T.MIN_PLAYS) & (((z_day >= z) & (plays >= T.MIN_RATIO * exp))
                                             | (rises & (plays >= T.MIN_RATIO_DAY * exp)))
    falling = ~new & (exp >= T.MIN_PLAYS) & (((z_day <= -z) & (plays * T.MIN_RATIO <= exp))
                                             | (falls & (plays * T.MIN_RATIO_DAY <= exp)))
    emerging = new & (plays >= T.MIN_EMERGING_PLAYS)
    scored["trend"] = np.select([emerging, rising, falling], ["emerging", "rising", "falling"], default=None)
    if len(dates) - 1 - int(is_today.any()) + 1 < T.MIN_HISTORY_DAYS + 1:  # days before `day` in the data
        scored["trend"] = None
    return scored[(plays > 0) | (exp >= T.MIN_PLAYS)]


def _window(args: argparse.Namespace) -> list[str]:
    from spotify_ai_assets.core.analytics import trends as T

    return [d.isoformat() for d in _days(args.day)[-(T.BASELINE_DAYS + 1):]]


def phase_track_trends_duckdb(args: argparse.Namespace) -> dict[str, Any]:
    """What the track_trends asset computes, without Dagster around it: the like-for-like rival of pandas."""
    import pyarrow as pa

    from spotify_ai_assets.core.analytics import trends as T
    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.core.kernel.query import sql_to_arrow
    from spotify_ai_assets.defs.analytics.trends import TRACKS

    lake = Lake(str(lake_root(args.workdir)))
    t = time.perf_counter()
    daily = sql_to_arrow(TRACKS.daily_sql, {"s": lake.scan("daily_track_country_stats", _window(args))})
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
