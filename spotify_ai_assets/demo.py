"""A first run that shows the product: a month of sandbox history, in one process, then what it found.

    DAGSTER_HOME=$PWD python -m spotify_ai_assets.demo [--days 28] [--end 2026-01-28]

One day after another (oldest first, as a backfill runs them): `daily_refresh_job` (ingestion, aggregates, trends,
insights, reports), then the day's pseudonymous events and model features. Then `model_retraining_job` trains, gates
and promotes the ranker and the forecaster, and `daily_recommendations_job` serves the last day's recommendations.
Every run goes into the instance of DAGSTER_HOME, so `dg dev` shows them afterwards, with their checks, reports and
audit records. The default window ends on 2026-01-28 so that it covers the sandbox's planted breakouts (from
2026-01-18) with more than the 7 days of history trends need. It ends by printing the last day's rising tracks and
artists by name, the report to open, and how long each part took.

Runs in-process (one Python process, the in-process executor): this is a demo, not the way to run production, where
the daemon's backfills and the multiprocess or Celery executor apply.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

DEFAULT_END = dt.date(2026, 1, 28)
FEATURES = ["pseudonymous_events", "track_features", "user_features", "user_track_features"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spotify_ai_assets.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=28, help="days of history (at least 8 for trends)")
    parser.add_argument("--end", type=dt.date.fromisoformat, default=DEFAULT_END, help="last day, YYYY-MM-DD")
    args = parser.parse_args(argv)
    if args.days < 8:
        parser.error("--days must be at least 8: trends label nothing before 7 days of history")
    if not os.environ.get("DAGSTER_HOME"):
        print("set DAGSTER_HOME (the README uses DAGSTER_HOME=$PWD)", file=sys.stderr)
        return 2
    if os.environ.get("SPOTIFY_AI_ENV", "local") != "local":
        print("the demo runs on the sandbox only (SPOTIFY_AI_ENV=local)", file=sys.stderr)
        return 2

    import dagster as dg

    from spotify_ai_assets.definitions import build_defs
    from spotify_ai_assets.instance import migrate

    migrate(echo=False)
    defs = build_defs()
    days = [args.end - dt.timedelta(days=k) for k in range(args.days - 1, -1, -1)]
    timings: dict[str, float] = {}
    with dg.DagsterInstance.get() as instance:
        daily = defs.resolve_job_def("daily_refresh_job")
        recommendations = defs.resolve_job_def("daily_recommendations_job")
        for n, day in enumerate(days, 1):
            key = day.isoformat()
            started = time.perf_counter()
            refreshed = daily.execute_in_process(partition_key=key, instance=instance, raise_on_error=False)
            featured = recommendations.execute_in_process(
                partition_key=key, instance=instance, raise_on_error=False,
                asset_selection=[dg.AssetKey(a) for a in FEATURES])
            took = time.perf_counter() - started
            timings["history"] = timings.get("history", 0.0) + took
            ok = refreshed.success and featured.success
            print(f"[{n}/{len(days)}] {key}: {'ok' if ok else 'FAILED'} in {took:.1f} s", flush=True)
            if not ok:
                print(f"run {refreshed.run_id if not refreshed.success else featured.run_id} failed: see `dg dev`",
                      file=sys.stderr)
                return 1
        started = time.perf_counter()
        # A model whose challenger does not beat its baseline is blocked by its gate (a blocking check): the run
        # then fails by design and the other model is still promoted, so the gates are reported, not the run.
        trained = defs.resolve_job_def("model_retraining_job").execute_in_process(instance=instance,
                                                                                   raise_on_error=False)
        gates = {e.asset_key.to_user_string(): e for e in trained.get_asset_check_evaluations()
                 if e.check_name.endswith("_gate")}
        timings["training"] = time.perf_counter() - started
        started = time.perf_counter()
        served = recommendations.execute_in_process(partition_key=days[-1].isoformat(), instance=instance,
                                                    raise_on_error=False)
        timings["recommendations"] = time.perf_counter() - started
    models = [f"{key.removesuffix('_evaluation')} {'promoted' if e.passed else 'blocked by its gate'}: "
              f"{e.description}" for key, e in sorted(gates.items())]
    print(summary(days[-1], models, served.success, timings))
    return 0 if served.success else 1


def summary(day: dt.date, models: list[str], served: bool, timings: dict[str, float]) -> str:
    """What the month found, by name, and where to look next."""
    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.core.kernel.query import sql_to_arrow
    from spotify_ai_assets.settings import Settings

    lake = Lake(Settings.from_environ().lake_root)
    key = day.isoformat()
    lines = [f"\nThe sandbox on {key}:"]
    for entity, names in (("track", "spotify_tracks"), ("artist", "spotify_artists")):
        table = f"{entity}_trends"
        if not lake.exists(table, key):
            continue
        # The catalog holds the watched artists and their tracks; spotify_track_names the day's other top and
        # trending tracks; anything else is named by its Spotify link.
        known = lake.scan(names, [key]) if lake.exists(names, key) else None
        if entity == "track" and lake.exists("spotify_track_names", key):
            looked_up = "SELECT track_id, track_name AS name FROM l"
            catalog = " UNION ALL SELECT track_id, name FROM c" if known is not None else ""
            known = sql_to_arrow(looked_up + catalog, {"l": lake.scan("spotify_track_names", [key]),
                                                       **({"c": known} if known is not None else {})})
        rows = sql_to_arrow(
            f"SELECT t.trend, coalesce(n.name, 'open.spotify.com/{entity}/' || t.entity_id) AS name, t.plays, "
            "t.expected, t.z FROM t "
            + (f"LEFT JOIN n ON n.{entity}_id = t.entity_id " if known is not None else
               f"LEFT JOIN (SELECT NULL::VARCHAR AS {entity}_id, NULL::VARCHAR AS name) n ON FALSE ")
            + "WHERE t.trend IN ('rising', 'release', 'emerging') "
            "ORDER BY array_position(['rising', 'release', 'emerging'], t.trend), t.z DESC LIMIT 8",
            {"t": lake.scan(table, [key]), **({"n": known} if known is not None else {})}).to_pylist()
        lines.append(f"  {entity}s flagged: {len(rows) if rows else 'none'}")
        lines += [f"    {r['trend']:8} {r['name']}: {r['plays']} listeners, {r['expected']:.1f} expected, "
                  f"z {r['z']:.1f}" for r in rows]
    recs = lake.row_count("recommendations", key) if lake.exists("recommendations", key) else 0
    lines += [f"  {m}" for m in models]
    lines.append(f"  recommendations served for {key}: {recs} rows" + ("" if served else " (the run FAILED)"))
    report = Path(lake.root) / "reports" / "platform_daily" / f"date={key}" / "report.html"
    lines.append(f"  the day's report: {report}")
    lines.append("  then: DAGSTER_HOME=$PWD dg dev, and open http://127.0.0.1:3000 to see every run, check and report")
    lines.append("  time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
                 + f", total {sum(timings.values()):.0f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
