"""How much can any detector find on benchmarks/trend_detection.py's world? Reference detectors that know more than
`score_day` can, scored by the same rules (found within 5 days, viral and step within 2, false share of flags).

    python benchmarks/trend_bounds.py                    # r = 10, seeds 0-5
    python benchmarks/trend_bounds.py --r 25 --seeds 0 1 2
    python benchmarks/trend_bounds.py --world b          # world b: the oracle and the scans

- `oracle`: knows each planted track's shape, start and noise-free daily means. Per planted track, the Neyman-Pearson
  test of its days start..start+d (a negative binomial of size r; the statistic sum_k w_k y_k with
  w_k = log(m_k (mu_k + r) / (m_k mu_k + r)), m_k the breakout's multiplier), as a z (against its null mean and sd),
  simulated (Monte Carlo) on fresh noise: the expected number found (z >= the threshold on some day d <= 5), the
  expected viral + step found within 2 days, and P(found >= 12). No false alarms are counted: it tests only the
  planted tracks, on the right days, so the threshold is the only price it pays for the other ~1,900 tracks.
- `scan(...)`: does not know shapes or starts. On the world's actual listeners, every track and scored day gets the
  largest over k = 1..7 of the NB deviance z of its last k days' listeners against their expectation (variance
  M + sum mu^2 / r, plus the baseline's own when the level is estimated), flagged when listeners >= 6, >= 1.3x
  expected and within the day's top 20, as the benchmark counts them:
  - `scan(known mu)`: the expectation is the true noise-free mean (weekly pattern, lean, growth, outage, holiday,
    genre effects and the track's level all known);
  - `scan(level 21d)`: the true day pattern, but the track's level estimated from its listeners over the 21 days
    ending 7 days before (what `score_day` has: a 28-day read, a 7-day gap);
  - `scan(level 21d, no lean)`: the same without each track's own weekly lean (as `score_day`, which models the
    platform's and the genre's days but not a track's);
  - `scan(level 21d, lean estimated)`: the same as `no lean`, with each track's weekday profile estimated from the
    21 days and shrunk by empirical Bayes (`weekday_profile`): what modelling a track's own week could recover;
  - `scan(level 49d)`: the level from 49 days (a 56-day read).
  Each at thresholds 3.75-4.5: the false share shows which thresholds keep under 10% of flags.

On world b (`--world b`) the oracle and the same scans are run: its structure gives the means with and without
the breakouts and their artists' spillover, and each track's own weekly jitter over its genre's week (the lean that
`no lean` divides out). The scan's expectation leaves the spillover out, so a lifted
sibling counts as a false flag, as in the benchmark, unless another flagged track of its artist rose further on at
least as much evidence: the scan then drops it, as `score_day` labels it `lifted`. World b's breakouts sit on tracks
of 4-150 listeners a day (world a's on 5-150).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import trend_detection as td

THRESHOLDS = (3.75, 4.0, 4.25, 4.5)
GAP = 7


def deviance_z(y: np.ndarray, mu: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Signed NB deviance residual, as trends._deviance_z computes it."""
    mu, a = np.maximum(mu, 0.01), np.maximum(a, 1e-9)
    with np.errstate(all="ignore"):
        t1 = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0)
        d = 2 * (t1 - (y + 1 / a) * np.log((1 + a * y) / (1 + a * mu)))
    return np.sign(y - mu) * np.sqrt(np.maximum(d, 0))


def oracle(means: td.Means, r: float, rng: np.random.Generator, n_sim: int = 20_000) -> dict[float, tuple]:
    days_found = td.FOUND_WITHIN + 1
    probs: dict[float, list[float]] = {t: [] for t in THRESHOLDS}
    fast: dict[float, float] = dict.fromkeys(THRESHOLDS, 0.0)
    for p in means.planted:
        m0 = means.mu0[p.track, p.start:p.start + days_found]
        m = means.mu[p.track, p.start:p.start + days_found] / m0
        w = np.log(m * (m0 + r) / (m * m0 + r))
        y = rng.poisson((m * m0)[None, :] * rng.gamma(r, 1 / r, (n_sim, len(m0))))
        z = (np.cumsum(w * y, axis=1) - np.cumsum(w * m0)) / np.sqrt(np.cumsum(w ** 2 * (m0 + m0 ** 2 / r)))
        for thr in THRESHOLDS:
            probs[thr].append(float((z.max(axis=1) >= thr).mean()))
            if p.shape in ("viral", "step"):
                fast[thr] += float((z[:, :td.FAST_WITHIN + 1].max(axis=1) >= thr).mean())
    out = {}
    for thr in THRESHOLDS:
        dist = np.zeros(len(probs[thr]) + 1)
        dist[0] = 1.0
        for q in probs[thr]:  # the number found: a Poisson-binomial
            dist[1:] = dist[1:] * (1 - q) + dist[:-1] * q
            dist[0] *= 1 - q
        out[thr] = (sum(probs[thr]), fast[thr], dist[td.TARGET_FOUND:].sum())
    return out


def weekday_profile(y: np.ndarray, mu: np.ndarray, weekday: np.ndarray, r: float) -> np.ndarray:
    """Each track's log weekday effects [track, 7] estimated from baseline listeners `y` against their expectation
    `mu` (days on the columns, `weekday` each column's), shrunk toward none by empirical Bayes: the spread of the true
    effects (tau^2) is the mean squared raw effect less its sampling variance over tracks of >= 10 listeners a day,
    and each raw effect keeps tau^2 / (tau^2 + its variance) of itself."""
    raw, var = np.zeros((y.shape[0], 7)), np.zeros((y.shape[0], 7))
    for d in range(7):
        on = weekday == d
        ys, ms = y[:, on].sum(1), mu[:, on].sum(1)
        raw[:, d] = np.log((ys + 0.5) / (ms + 0.5))
        var[:, d] = 1 / (ms + 0.5) + (1 / r) / max(int(on.sum()), 1)
    big = mu.mean(1) >= 10
    tau2 = max(float(np.mean(raw[big] ** 2 - var[big])), 1e-6) if big.any() else 1e-6
    return raw * tau2 / (tau2 + var)


def scan_scores(world: td.EvalWorld, pattern: np.ndarray, r: float, base_days: int | None,
                estimate_lean: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Every track's best window z and expected listeners on each scored day ([track, day - FIRST_SCORED]).
    `pattern`: noise-free means without breakouts; `base_days`: None when the level is known, else the number of
    baseline days (ending GAP days before the scored day) it is estimated from; `estimate_lean`: each track's weekday
    profile is estimated from the same baseline days (`weekday_profile`) and applied to `pattern`."""
    y = world.listeners.astype(float)
    scored = np.arange(td.FIRST_SCORED, td.N_DAYS)
    weekday = (np.arange(td.N_DAYS) + td.START.weekday()) % 7
    best = np.full((y.shape[0], len(scored)), -np.inf)
    expected = np.zeros_like(best)
    for j, t in enumerate(scored):
        pat, level, extra = pattern, np.ones(y.shape[0]), np.zeros(y.shape[0])
        if base_days is not None:
            lo, hi = max(0, t - GAP - base_days + 1), t - GAP + 1
            b = y[:, lo:hi].sum(1)
            if estimate_lean:
                level = b / np.maximum(pattern[:, lo:hi].sum(1), 1e-9)
                profile = weekday_profile(y[:, lo:hi], pattern[:, lo:hi] * level[:, None], weekday[lo:hi], r)
                pat = pattern * np.exp(profile[:, weekday])
            with np.errstate(all="ignore"):
                level = b / np.maximum(pat[:, lo:hi].sum(1), 1e-9)
            extra = 1 / (b + 1) + (1 / r) / (hi - lo)  # the baseline's own uncertainty, as score_day adds
        for k in range(1, 8):
            days = slice(t - k + 1, t + 1)
            mk = pat[:, days].sum(1) * level
            with np.errstate(all="ignore"):
                a = (pat[:, days] ** 2).sum(1) * level ** 2 / np.maximum(mk, 1e-9) ** 2 / r + extra
            best[:, j] = np.maximum(best[:, j], deviance_z(y[:, days].sum(1), mk, a))
        expected[:, j] = pat[:, t] * level
    return best, expected


def scan(world: td.EvalWorld, pattern: np.ndarray, r: float, base_days: int | None,
         estimate_lean: bool = False) -> dict[float, tuple]:
    """Found, fast and false share at each threshold for `scan_scores`' flags, as the benchmark counts them."""
    best, expected = scan_scores(world, pattern, r, base_days, estimate_lean)
    scored = np.arange(td.FIRST_SCORED, td.N_DAYS)
    today = world.listeners[:, scored].astype(float)
    ratio = (today + 1) / (expected + 1)
    established = pattern[:, scored - GAP] > 0
    start = {p.track: p.start for p in world.planted}
    shape = {p.track: p.shape for p in world.planted}
    out = {}
    for thr in THRESHOLDS:
        ok = established & (today >= 6) & (today >= 1.3 * expected) & (best >= thr)
        first: dict[int, int] = {}
        flags = false = 0
        for j, t in enumerate(scored):
            idx = np.flatnonzero(ok[:, j])
            if world.artist is not None:  # score_day's `lifted`: one flag per artist, its strongest rise
                idx = _strongest_per_artist(idx, world.artist, ratio[:, j], best[:, j])
            for i in idx[np.argsort(-best[idx, j])][:td.TOP]:
                flags += 1
                if i in start and t >= start[i]:
                    first.setdefault(int(i), int(t))
                else:
                    false += 1
        delay = {i: first[i] - start[i] for i in first}
        found = sum(d <= td.FOUND_WITHIN for d in delay.values())
        fast = sum(d <= td.FAST_WITHIN for i, d in delay.items() if shape[i] in ("viral", "step"))
        out[thr] = (found, fast, false / max(flags, 1))
    return out


def _strongest_per_artist(idx: np.ndarray, artist: np.ndarray, ratio: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The flagged tracks `idx` less those another flagged track of their artist out-rose (a higher ratio on at least
    as much evidence), as trends.explain_spillover labels them `lifted`."""
    keep = [i for i in idx if not any(artist[j] == artist[i] and j != i and ratio[j] > ratio[i] and z[j] >= z[i]
                                      for j in idx)]
    return np.array(keep, dtype=np.int64)


def world_b_means(seed: int) -> td.Means:
    """World b's noise-free means for `seed` (benchmarks/trend_world_b.py): `mu` with the breakouts (and their artists'
    spillover), `mu0` without either."""
    import trend_world_b

    s = trend_world_b.structure_b(seed)
    return td.Means(mu=s.mu, mu0=s.mu / s.lift, genre=s.genre, planted=list(s.planted), lean=np.zeros(len(s.genre)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--r", type=float, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    p.add_argument("--world", choices=["a", "b"], default="a")
    args = p.parse_args()
    r = args.r
    warnings.simplefilter("ignore", RuntimeWarning)
    heads = " | ".join(f"z >= {t}" for t in THRESHOLDS)
    print(f"r = {r:g}. oracle cells: expected found /16, expected viral+step within 2 /8, P(found >= 12). scan cells: "
          f"found /16, viral+step within 2 /8, false share of flags.\n")
    print(f"| detector | seed | {heads} |\n| --- | ---: |" + " --- |" * len(THRESHOLDS))
    rng = np.random.default_rng(21)
    for seed in args.seeds:
        if args.world == "b":
            import trend_world_b

            means, world = world_b_means(seed), trend_world_b.make_world_b(r, seed)
            no_lean = means.mu0 / trend_world_b.structure_b(seed).lean
            rows = {"oracle": oracle(means, r, rng), "scan(known mu)": scan(world, means.mu0, r, None),
                    "scan(level 21d)": scan(world, means.mu0, r, 21),
                    "scan(level 21d, no lean)": scan(world, no_lean, r, 21),
                    "scan(level 21d, lean estimated)": scan(world, no_lean, r, 21, estimate_lean=True),
                    "scan(level 49d)": scan(world, means.mu0, r, 49)}
            _print_rows(rows, seed)
            continue
        means, world = td.world_means(seed), td.make_world(r, seed)
        no_lean = td.world_means(seed, lean_scale=0.0).mu0
        rows = {"oracle": oracle(means, r, rng),
                "scan(known mu)": scan(world, means.mu0, r, None),
                "scan(level 21d)": scan(world, means.mu0, r, 21),
                "scan(level 21d, no lean)": scan(world, no_lean, r, 21),
                "scan(level 21d, lean estimated)": scan(world, no_lean, r, 21, estimate_lean=True),
                "scan(level 49d)": scan(world, means.mu0, r, 49)}
        _print_rows(rows, seed)
    return 0


def _print_rows(rows: dict[str, dict[float, tuple]], seed: int) -> None:
    for name, res in rows.items():
        if name == "oracle":
            cells = [f"{f:.1f}, {v:.2f}, P {q:.2f}" for f, v, q in (res[t] for t in THRESHOLDS)]
        else:
            cells = [f"{f}, {v}/8, {100 * s:.0f}%" for f, v, s in (res[t] for t in THRESHOLDS)]
        print(f"| {name} | {seed} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
