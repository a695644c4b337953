"""Trend detection on an independent, overdispersed listening world: planted breakouts found, and false alarms.

    python benchmarks/trend_detection.py                          # r in 1000 100 25 10, seeds 0-5
    python benchmarks/trend_detection.py --r 10 --seeds 0 1 2     # one dispersion, the tuning seeds
    python benchmarks/trend_detection.py --methods new new+genre  # only some detectors
    python benchmarks/trend_detection.py --world b                # world b (benchmarks/trend_world_b.py)

The world is generated here, not by the sandbox (spotify_ai_assets/sandbox), so the detector is not judged on the
world it was written against. Daily unique listeners of ~2000 tracks over 90 days:

- a long-tailed base audience per track (median ~15 listeners a day, a head in the thousands);
- a platform weekly pattern, and each track's own weekly lean (weekend or weekday heavy);
- platform growth (~0.3% a day), an outage day (day 52: 45% of the usual listening), a holiday week (days 63-69:
  more listening, every day like a weekend, the head gaining share);
- one genre (of 10) rising seasonally for three weeks (days 38-59, to 1.8x) and holding;
- correlated day effects: a platform-wide and a per-genre random factor every day;
- overdispersion: each track-day draws listeners from a negative binomial, variance = mu + mu^2 / r (a gamma
  random day effect per track, then Poisson); `r` is the knob, 1000 is about Poisson;
- new releases (60 tracks appearing during the window with a launch bump that fades);
- 16 planted breakouts, 4 of each shape, starting between day 36 and 82 on tracks of 5 to 150 listeners a day:
  `ramp` (linear to 2.5-5x over 7-14 days), `viral` (a 3-8x jump that decays toward 1.5x, half-life 3-8 days),
  `step` (a playlist add: 2.5-4x and stays) and `burn` (exponential growth at 10-18% a day, capped at 8x).

Every day from day 28 on (a full baseline window) is scored by each method. Per (method, r, seed): planted breakouts
found within 5 days of their start (a planted track in the day's top 20 rising), the delay by shape, viral and step
found within 2 days, and false alarms as a share of all flags in the daily top 20 (rising): a flag is true when it
names a planted track on or after its start. Methods:

- `poisson`: the project's detector before issue 21 (commit cb0e4b2), frozen here as it was;
- `mad`: a robust peer, z of log(1 + listeners) against the trailing 28-day median and MAD (x1.4826), rising when
  z >= 5, listeners >= 6 and >= 2x the median (ranked by z);
- `new`: spotify_ai_assets.core.analytics.trends.score_day as the track_trends asset runs it (no genre known);
- `new+genre`: the same with each track's genre passed as its group (`groups`), as with the day's catalog snapshot;
- `new+artist`: the catalog without genres (the Web API marks artists' `genres` deprecated): no groups.

On a world with artists (world b) the two catalog methods also pass each track's artist to `score_day` (`artists`),
as track_trends does from the day's stats rows: a track rising less far than another of its artist, on no more
evidence, is `lifted`, not `rising`. World a has no artists, so `new+artist` is `new` there.

World b (`--world b`, benchmarks/trend_world_b.py) is a second world built from the issue's specification alone,
written blind to `make_world` here and to the detector's thresholds, for held-out evaluation: a power-law audience,
per-genre weekly harmonics, artists moving together, another holiday and outage, fading tracks, growers, releases.

Targets (issue 21), for every r on >= 3 seeds: false alarms <= 10% of flags, >= 12 of 16 found within 5 days, viral
and step within 2. Parameters were chosen on seeds 0-2; seeds 3-5 are held out. Figures are printed; exit status 1
when `new` misses a target on any (r, seed) run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import harness  # noqa: E402

START = dt.date(2025, 1, 6)  # a Monday
N_TRACKS, N_DAYS, N_GENRES, N_NEW = 2000, 90, 10, 60
FIRST_SCORED = 28
TOP = 20
FOUND_WITHIN, FAST_WITHIN = 5, 2
SHAPES = ("ramp", "viral", "step", "burn")
TUNING_SEEDS = (0, 1, 2)
TARGET_FALSE, TARGET_FOUND = 0.10, 12


@dataclass(frozen=True)
class Planted:
    track: int
    shape: str
    start: int  # day index


@dataclass
class EvalWorld:
    listeners: np.ndarray  # [track, day] int64
    genre: np.ndarray  # [track]
    planted: list[Planted]
    r: float
    seed: int
    artist: np.ndarray | None = None  # [track]: each track's artist, where the world has artists (world b)


def _boost(shape: str, k: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A breakout's multiplier on days k = 0, 1, ... after its start."""
    if shape == "ramp":
        peak, days = rng.uniform(2.5, 5), rng.integers(7, 15)
        return 1 + (peak - 1) * np.minimum((k + 1) / days, 1)
    if shape == "viral":
        peak, half_life = rng.uniform(3, 8), rng.uniform(3, 8)
        return 1.5 + (peak - 1.5) * 0.5 ** (k / half_life)
    if shape == "step":
        return np.full(k.shape, rng.uniform(2.5, 4))
    rate = rng.uniform(0.10, 0.18)
    return np.minimum(np.exp(rate * (k + 1)), 8.0)


@dataclass
class Means:
    """A seed's noise-free daily means (the same for every r): with the breakouts (`mu`) and without (`mu0`)."""
    mu: np.ndarray  # [track, day]
    mu0: np.ndarray
    genre: np.ndarray
    planted: list[Planted]
    lean: np.ndarray  # [track]: each track's own weekly lean (what a detector does not know)


def world_means(seed: int, lean_scale: float = 1.0) -> Means:
    """The structure of `make_world` for `seed`: its daily means before the noise. `lean_scale` = 0 gives the means a
    detector knowing the platform's, the genres' and every event's effect but not each track's weekly lean would
    expect (benchmarks/trend_bounds.py); the generator's draws are the same either way."""
    rng = np.random.default_rng([seed, 21])
    n, d = N_TRACKS, N_DAYS
    days = np.arange(d)
    weekday = (days + START.weekday()) % 7
    base = np.clip(rng.lognormal(np.log(15), 1.4, n), 0.3, 20_000)
    genre = rng.integers(0, N_GENRES, n)

    platform = np.exp(0.003 * days) * np.array([0.9, 0.92, 0.95, 1.0, 1.08, 1.12, 1.03])[weekday]
    platform *= np.exp(rng.normal(0, 0.02, d))  # the platform's own day effect
    weekend = np.where(weekday >= 5, 1.0, -0.4)
    lean = rng.normal(0, 0.12, n) * lean_scale
    holiday = (days >= 63) & (days <= 69)
    weekend[holiday] = 1.0  # every holiday day is listened like a weekend day
    platform[holiday] *= 1.15
    platform[52] *= 0.45  # an outage
    mu = base[:, None] * platform[None, :] * np.exp(lean[:, None] * weekend[None, :])
    head = base >= np.quantile(base, 0.9)
    mu[np.ix_(head, holiday)] *= 1.1
    # Correlated listening: every genre has its own random day, and one genre rises for three weeks and holds.
    mu *= np.exp(rng.normal(0, 0.04, (N_GENRES, d)))[genre]
    seasonal = rng.integers(0, N_GENRES)
    season = 1 + 0.8 / (1 + np.exp(-(days - 48.5) / 3.0))  # a smooth rise over days ~38-59 to 1.8x
    mu[genre == seasonal] *= season[None, :]
    # New releases: absent before their release day, a launch bump fading over about two weeks.
    new = rng.choice(n, N_NEW, replace=False)
    release = rng.integers(5, d - 3, N_NEW)
    for t, day0 in zip(new, release, strict=True):
        k = days - day0
        mu[t] *= np.where(k < 0, 0.0, 1 + 2.0 * np.exp(-np.maximum(k, 0) / 7))
    # Planted breakouts on established tracks of 5 to 150 listeners a day, away from the seasonal genre's tracks and
    # the new releases, so each planted rise has a single cause.
    eligible = np.flatnonzero((base >= 5) & (base <= 150) & (genre != seasonal) & ~np.isin(np.arange(n), new))
    chosen = rng.choice(eligible, 16, replace=False)
    starts = rng.integers(36, 83, 16)
    planted = []
    mu0 = mu.copy()
    for i, (t, s) in enumerate(zip(chosen, starts, strict=True)):
        shape = SHAPES[i % 4]
        k = days[s:] - s
        mu[t, s:] *= _boost(shape, k, rng)
        planted.append(Planted(int(t), shape, int(s)))
    return Means(mu, mu0, genre, planted, lean)


def make_world(r: float, seed: int) -> EvalWorld:
    """The evaluation world for dispersion `r` and `seed`. Everything but the noise level is the same across r for a
    seed (the structure's generator does not depend on r), so the r grid compares like with like."""
    means = world_means(seed)
    # The noise alone depends on r: a gamma day effect per track-day (mean 1, variance 1/r), then Poisson.
    noise = np.random.default_rng([seed, 21, int(r)])
    lam = means.mu * noise.gamma(r, 1 / r, means.mu.shape)
    return EvalWorld(noise.poisson(lam).astype(np.int64), means.genre, means.planted, r, seed)


def _ids(n: int) -> list[str]:
    return [f"trk{i:05d}" for i in range(n)]


def daily_table(world: EvalWorld, upto: int) -> object:
    """The window the trends asset reads for day index `upto`: (date, entity_id, plays) rows with plays > 0."""
    import pyarrow as pa

    lo = max(0, upto - 28)
    block = world.listeners[:, lo:upto + 1]
    t_idx, d_idx = np.nonzero(block)
    ids = np.array(_ids(N_TRACKS), dtype=object)
    cols = {"date": pa.array([START + dt.timedelta(days=int(lo + k)) for k in range(block.shape[1])],
                             pa.date32()).take(pa.array(d_idx)),
            "entity_id": pa.array(ids[t_idx], pa.string()), "plays": pa.array(block[t_idx, d_idx], pa.int64())}
    return pa.table(cols)


# The project's detector before issue 21 (spotify_ai_assets/core/analytics/trends.py at cb0e4b2), rising rule only.
POISSON_SQL = """
WITH days AS (SELECT date, sum(plays) AS total FROM daily WHERE date BETWEEN $1::DATE - 28 AND $1::DATE GROUP BY date),
since AS (SELECT date, sum(total) OVER (ORDER BY date DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS total
          FROM days WHERE date < $1::DATE),
history AS (SELECT entity_id, sum(plays) AS plays, min(date) AS first_seen FROM daily
            WHERE date >= $1::DATE - 28 AND date < $1::DATE GROUP BY entity_id),
today AS (SELECT entity_id, sum(plays) AS plays FROM daily WHERE date = $1::DATE GROUP BY entity_id),
scored AS (
  SELECT coalesce(t.entity_id, h.entity_id) AS entity_id, coalesce(t.plays, 0) AS plays,
         coalesce($1::DATE - h.first_seen, 0) AS history_days,
         coalesce(h.plays / nullif(s.total, 0) * (SELECT total FROM days WHERE date = $1::DATE), 0) AS expected
  FROM today t FULL OUTER JOIN history h ON t.entity_id = h.entity_id LEFT JOIN since s ON s.date = h.first_seen
)
SELECT entity_id FROM scored
WHERE history_days >= 7 AND (plays - expected) / sqrt(expected + 1) >= 5.0 AND plays >= 6 AND plays >= 2 * expected
ORDER BY (plays - expected) / sqrt(expected + 1) DESC, entity_id LIMIT 20
"""


def top_poisson(world: EvalWorld, t: int) -> list[int]:
    from spotify_ai_assets.core.kernel.query import sql_to_arrow

    rows = sql_to_arrow(POISSON_SQL, {"daily": daily_table(world, t)}, [START + dt.timedelta(days=t)])
    return [int(e[3:]) for e in rows["entity_id"].to_pylist()]


def top_mad(world: EvalWorld, t: int) -> list[int]:
    """Log-count z against the trailing 28-day median and MAD (days before a track's first listener excluded)."""
    window = world.listeners[:, t - 28:t].astype(float)
    seen = np.cumsum(window > 0, axis=1) > 0
    logs = np.where(seen, np.log1p(window), np.nan)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # tracks never played in the window: all-NaN rows
        med = np.nanmedian(logs, axis=1)
        mad = 1.4826 * np.nanmedian(np.abs(logs - med[:, None]), axis=1)
        today = world.listeners[:, t]
        z = (np.log1p(today) - med) / np.maximum(mad, 0.1)
        history = 28 - np.argmax(seen, axis=1)
        ok = (seen.any(axis=1) & (history >= 7) & (z >= 5) & (today >= 6) & (today >= 2 * np.expm1(med)))
    idx = np.flatnonzero(ok)
    order = np.lexsort((idx, -z[idx]))
    return [int(i) for i in idx[order][:TOP]]


def top_new(world: EvalWorld, t: int, catalog: str | None = None) -> list[int]:
    """`score_day` as track_trends runs it. `catalog`: None, no catalog snapshot (no groups, no artists); "genre",
    each track's genre as its group; "artist", a catalog without genres (no groups). With a catalog, a world with
    artists (world b) also has its tracks' artists (`score_day`'s `artists`)."""
    import pyarrow as pa

    from spotify_ai_assets.core.analytics import trends

    groups = None
    if catalog == "genre":
        groups = pa.table({"entity_id": _ids(N_TRACKS), "group_id": [f"g{g}" for g in world.genre]})
    artists = None
    if catalog is not None and world.artist is not None:
        artists = pa.table({"entity_id": _ids(N_TRACKS), "artist_id": [f"a{a}" for a in world.artist]})
    scores = trends.score_day(daily_table(world, t), START + dt.timedelta(days=t), groups, artists=artists)
    return [int(e[3:]) for e in trends.flagged(scores, "rising", top=TOP)]


METHODS: dict[str, Callable[[EvalWorld, int], list[int]]] = {
    "poisson": top_poisson, "mad": top_mad, "new": top_new,
    "new+genre": lambda w, t: top_new(w, t, catalog="genre"),
    "new+artist": lambda w, t: top_new(w, t, catalog="artist"),
}


@dataclass
class Outcome:
    found: int
    fast: int  # viral and step found within FAST_WITHIN days
    fast_total: int
    by_shape: dict[str, list[int | None]]  # delays (None: not found within FOUND_WITHIN)
    flags: int
    false: int
    seconds: float

    @property
    def false_share(self) -> float:
        return self.false / self.flags if self.flags else 0.0

    def meets(self) -> bool:
        return (self.false_share <= TARGET_FALSE and self.found >= TARGET_FOUND and self.fast == self.fast_total)


def evaluate(world: EvalWorld, method: Callable[[EvalWorld, int], list[int]]) -> Outcome:
    start = {p.track: p.start for p in world.planted}
    first: dict[int, int] = {}
    flags = false = 0
    t0 = time.perf_counter()
    for t in range(FIRST_SCORED, N_DAYS):
        for track in method(world, t):
            flags += 1
            if track in start and t >= start[track]:
                first.setdefault(track, t)
            else:
                false += 1
    seconds = time.perf_counter() - t0
    by_shape: dict[str, list[int | None]] = {s: [] for s in SHAPES}
    found = fast = fast_total = 0
    for p in world.planted:
        delay = first[p.track] - p.start if p.track in first else None
        ok = delay is not None and delay <= FOUND_WITHIN
        by_shape[p.shape].append(delay if ok else None)
        found += ok
        if p.shape in ("viral", "step"):
            fast_total += 1
            fast += delay is not None and delay <= FAST_WITHIN
    return Outcome(found, fast, fast_total, by_shape, flags, false, seconds)


def _shape_cell(delays: list[int | None]) -> str:
    got = sorted(d for d in delays if d is not None)
    return f"{len(got)}/{len(delays)}" + (f" ({','.join(map(str, got))})" if got else "")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--r", type=float, nargs="+", default=[1000, 100, 25, 10])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--world", choices=["a", "b"], default="a",
                   help="a: the world above; b: benchmarks/trend_world_b.py, written blind to the detector")
    args = p.parse_args()
    if args.world == "b":
        import trend_world_b  # imported here: it imports this module for EvalWorld and the sizes

        build: Callable[[float, int], EvalWorld] = trend_world_b.make_world_b
    else:
        build = make_world
    print(harness.compile_ahead(REPO_ROOT / "spotify_ai_assets"), file=sys.stderr)
    for name, value in harness.machine_facts():
        print(f"{name:9} {value}")
    print(f"\n{N_TRACKS} tracks x {N_DAYS} days, scored days {FIRST_SCORED}-{N_DAYS - 1}; found = planted in the "
          f"day's top {TOP} rising within {FOUND_WITHIN} days of its start (delays in days); fast = viral + step "
          f"within {FAST_WITHIN}; false = flags not naming a planted track after its start\n")
    print("| method | r | seed | found /16 | fast /8 | ramp | viral | step | burn | flags | false | target | s |")
    print("| --- | ---: | ---: | ---: | ---: | --- | --- | --- | --- | ---: | ---: | --- | ---: |")
    results: dict[tuple[str, float, int], Outcome] = {}
    for r in args.r:
        for seed in args.seeds:
            world = build(r, seed)
            for m in args.methods:
                o = results[(m, r, seed)] = evaluate(world, METHODS[m])
                held = "" if seed in TUNING_SEEDS else "*"
                print(f"| {m} | {r:g} | {seed}{held} | {o.found} | {o.fast}/{o.fast_total} | "
                      + " | ".join(_shape_cell(o.by_shape[s]) for s in SHAPES)
                      + f" | {o.flags} | {100 * o.false_share:.0f}% | {'met' if o.meets() else 'missed'} "
                        f"| {o.seconds:.1f} |", flush=True)
    print("\nsummary (seeds 0-2 tuning / held-out seeds marked *): runs meeting every target, worst found, worst "
          "false-alarm share")
    print("| method | r | seeds | runs met | found min-max | false max | fast min |")
    print("| --- | ---: | --- | ---: | --- | ---: | ---: |")
    for m in args.methods:
        for r in args.r:
            for label, group in (("0-2", [s for s in args.seeds if s in TUNING_SEEDS]),
                                 ("held out", [s for s in args.seeds if s not in TUNING_SEEDS])):
                os_ = [results[(m, r, s)] for s in group]
                if not os_:
                    continue
                print(f"| {m} | {r:g} | {label} | {sum(o.meets() for o in os_)}/{len(os_)} | "
                      f"{min(o.found for o in os_)}-{max(o.found for o in os_)} | "
                      f"{100 * max(o.false_share for o in os_):.0f}% | {min(o.fast for o in os_)}/8 |")
    new = [o for (m, _, _), o in results.items() if m == "new"]
    return 0 if all(o.meets() for o in new) else 1


if __name__ == "__main__":
    sys.exit(main())
