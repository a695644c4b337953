"""Why a planted breakout was found late or not at all: `score_day` against the known-pattern scan, day by day.

    python benchmarks/trend_breakouts.py --world b --r 25 --seed 2                 # the catalog without genres
    python benchmarks/trend_breakouts.py --world b --r 10 --seed 1 --catalog genre

For each of the 16 planted breakouts of one (world, r, seed), its first six days from its start: the listeners, the
noise-free mean without the breakout (`mu0`, what a detector should expect), the expectation of
benchmarks/trend_bounds.py's `scan(level 21d)` (the true day pattern, the track's level estimated from 21 days) and
`score_day`'s, each one's z, `score_day`'s trend and whether the track made the day's top 20 rising. An expectation
that climbs with the breakout (above `mu0`) says the track was taken for part of a group's rise; a `score_day` z far
under the scan's on the same expectation says the rule (a window's left-out top day, the ratios) held it back.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import trend_bounds as tb  # noqa: E402
import trend_detection as td  # noqa: E402

DAYS_SHOWN = td.FOUND_WITHIN + 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--world", choices=["a", "b"], default="b")
    p.add_argument("--r", type=float, default=25)
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--catalog", choices=["none", "artist", "genre"], default="artist",
                   help="as trend_detection's methods: none = `new`, artist = `new+artist`, genre = `new+genre`")
    args = p.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    import pyarrow as pa

    from spotify_ai_assets.core.analytics import trends

    if args.world == "b":
        import trend_world_b

        structure = trend_world_b.structure_b(args.seed)
        world, mu0 = trend_world_b.make_world_b(args.r, args.seed), structure.mu / structure.lift
    else:
        world, mu0 = td.make_world(args.r, args.seed), td.world_means(args.seed).mu0
    y = world.listeners.astype(float)
    scan_z, scan_expected = tb.scan_scores(world, mu0, args.r, 21)  # scan(level 21d), every track and scored day
    ids = td._ids(td.N_TRACKS)
    groups = (pa.table({"entity_id": ids, "group_id": [f"g{g}" for g in world.genre]})
              if args.catalog == "genre" else None)
    artists = (pa.table({"entity_id": ids, "artist_id": [f"a{a}" for a in world.artist]})
               if args.catalog != "none" and world.artist is not None else None)
    days: dict[int, tuple[dict[str, tuple], set[str]]] = {}
    print(f"world {args.world}, r = {args.r:g}, seed {args.seed}, catalog {args.catalog}\n")
    print("| breakout | day | listeners | mu0 | scan expected | scan z | ours expected | ours z | trend | top 20 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for planted in world.planted:
        entity = ids[planted.track]
        for t in range(planted.start, min(planted.start + DAYS_SHOWN, td.N_DAYS)):
            if t not in days:
                scores = trends.score_day(td.daily_table(world, t), td.START + dt.timedelta(days=t), groups,
                                          artists=artists)
                rows = zip(scores["entity_id"].to_pylist(), scores["expected"].to_pylist(),
                           scores["z"].to_pylist(), scores["trend"].to_pylist(), strict=True)
                days[t] = ({e: (x, z, tr) for e, x, z, tr in rows}, set(trends.flagged(scores, "rising", top=td.TOP)))
            ours, top = days[t]
            expected, z, trend = ours.get(entity, (0.0, 0.0, None))
            j = t - td.FIRST_SCORED  # breakouts start after the first scored day
            print(f"| {planted.shape} {entity} (from day {planted.start}) | {t - planted.start} | "
                  f"{int(y[planted.track, t])} | {mu0[planted.track, t]:.1f} | {scan_expected[planted.track, j]:.1f} | "
                  f"{scan_z[planted.track, j]:.2f} | "
                  f"{expected:.1f} | {z:.2f} | {trend or ''} | {'yes' if entity in top else ''} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
