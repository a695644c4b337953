"""World b: a second daily-listeners world for trend detection, written blind to world a and to the detector.

It was written from the issue's specification only (not from `trend_detection.make_world`, and not from the
detector's thresholds), so the detector can be judged on data it was not tuned to (held-out evaluation):

    python benchmarks/trend_detection.py --world b --r 100 25 10 --seeds 0 1 2

Daily unique listeners of N_TRACKS tracks over N_DAYS days (day 0 is a Monday). The expected level of a track-day
is a product of deterministic, seeded structure (the same for every r):

- base audience from a power law: rank-based Zipf (exponent 0.8) over the catalogue plus a floor of 2 listeners and
  a log-normal jitter, so the median is ~15 a day and the head a few thousand;
- 10 genres of uneven size (Dirichlet shares); ~700 artists, with artists owning Zipf-many tracks;
- weekly patterns drawn per genre as a single harmonic with its own phase and amplitude (some genres peak on
  Saturday, some midweek), times a per-track Dirichlet jitter over the 7 weekdays, renormalised to mean 1;
- platform growth: smooth logistic, +20% over the window (fastest around day 45);
- an outage on day 44 (a Wednesday): each genre loses 45-70% that day (the outage hit some clients harder), and the
  next day is +8% (catch-up);
- a holiday week on days 74-80: listening falls 12% overall, the weekly pattern flattens (every day a Sunday-like
  average day), one "festive" genre rises to 1.6x (eased in over days 71-73, out over 81-83), the others shift by
  a genre factor (log-normal, sigma 0.1);
- a seasonal genre rising for three weeks (days 33-54, smooth S-curve to 2.1x), then easing back to ~1.6x; every
  genre also drifts slowly (two low-frequency sinusoids, +-3-8%);
- correlated day effects: a platform-wide, an AR(1) per-genre and an AR(1) per-artist random factor every day;
- fading tracks (~9%): exponential decline from a random day, half-life 10-60 days, down to 20% at most;
- organic growers (~5%): +0.5-1.5% a day from a random day, capped at 1.6x (not breakouts; nothing is planted there);
- new releases (45 tracks): no listeners before their release day (days 3-86), then a launch bump of 2-6x the
  settled level decaying with a time constant of 1.5-5 days;
- 16 planted breakouts, 4 of each shape, starting on days 36-82 on tracks whose settled expected audience in the
  week before the start is 4-150 listeners a day (levels drawn log-uniformly; never a new release, a fading or a
  growing track, nor a track of the seasonal or festive genre):
  `ramp` (smoothstep from 1x to 2.5-5x over 7-14 days, then holding), `viral` (a 3-9x jump on the start day,
  decaying to a 1.3-2x plateau with a half-life of 2-6 days), `step` (a playlist add: 2.5-4.5x from the start day,
  the lift losing up to 20% of itself by the window's end as the playlist rotates) and `burn` (exponential growth
  at 10-20% a day from the start, capped at 6-12x); an artist's other tracks get 8% of the breakout's lift.

Noise: the expected level mu of every track-day is turned into listeners by a gamma-Poisson draw, a gamma(r, mu/r)
random day effect per track, then Poisson: a negative binomial with variance mu + mu^2 / r exactly. The noise uses
its own random stream, so one seed gives the same structure (and the same planted truth) at every r.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trend_detection as td

# Fixed calendar of platform-wide events (day indices; day 0 is a Monday, so day % 7 == 0 is a Monday).
OUTAGE_DAY = 44  # a Wednesday
HOLIDAY = (74, 80)  # inclusive: a Monday to a Sunday
SEASON = (33, 54)  # the seasonal genre's three-week rise
N_NEW_B = 45
N_ARTISTS = 700
BREAKOUT_FIRST, BREAKOUT_LAST = 36, 82
BREAKOUT_LEVEL = (4.0, 150.0)  # settled expected listeners a day before the start


@dataclass
class StructureB:
    """The seeded structure of world b, kept for diagnosis (why a track moved on a day)."""

    mu: np.ndarray  # [track, day] expected listeners, breakouts included
    base: np.ndarray  # [track] settled base level (power law), before any multiplier
    genre: np.ndarray  # [track]
    artist: np.ndarray  # [track]
    release: np.ndarray  # [track] release day, -1 for catalogue present from day 0
    fading: np.ndarray  # [track] day the decline starts, -1 if not fading
    growing: np.ndarray  # [track] day organic growth starts, -1 if not growing
    seasonal_genre: int
    festive_genre: int
    planted: list[td.Planted]
    lift: np.ndarray  # [track, day] breakout multiplier (1 where nothing is planted), spillover included
    lean: np.ndarray  # [track, day] each track's own weekly jitter over its genre's week (1 in the holiday week)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _ar1(rng: np.random.Generator, rows: int, days: int, phi: float, sigma: float) -> np.ndarray:
    """Log day factors that persist a little (a genre or an artist has good and bad stretches, not i.i.d. days)."""
    eps = rng.normal(0.0, sigma * np.sqrt(1.0 - phi * phi), size=(rows, days))
    out = np.empty((rows, days))
    out[:, 0] = rng.normal(0.0, sigma, size=rows)
    for t in range(1, days):
        out[:, t] = phi * out[:, t - 1] + eps[:, t]
    return out


def _breakout_curve(shape: str, start: int, rng: np.random.Generator) -> np.ndarray:
    """Multiplier over the days for one planted breakout (1 before its start)."""
    days = np.arange(td.N_DAYS, dtype=float)
    k = days - start  # days since the start
    m = np.ones(td.N_DAYS)
    after = k >= 0
    if shape == "ramp":
        peak, length = rng.uniform(2.5, 5.0), int(rng.integers(7, 15))
        # (k + 1) / length: the first day already shows a little of the climb, full height on day length - 1.
        m[after] = 1.0 + (peak - 1.0) * _smoothstep((k[after] + 1.0) / length)
    elif shape == "viral":
        peak, plateau, half_life = np.exp(rng.uniform(np.log(3.0), np.log(9.0))), rng.uniform(1.3, 2.0), \
            rng.uniform(2.0, 6.0)
        m[after] = plateau + (peak - plateau) * 0.5 ** (k[after] / half_life)
    elif shape == "step":
        level, keep = rng.uniform(2.5, 4.5), rng.uniform(0.8, 1.0)
        # The lift decays linearly toward `keep` of itself by the window's end: a playlist slot slowly rotates.
        frac = 1.0 - (1.0 - keep) * k[after] / max(1, td.N_DAYS - 1 - start)
        m[after] = 1.0 + (level - 1.0) * frac
    elif shape == "burn":
        rate, cap = rng.uniform(0.10, 0.20), rng.uniform(6.0, 12.0)
        m[after] = np.minimum(np.exp(rate * (k[after] + 1.0)), cap)
    else:
        raise ValueError(shape)
    return m


def structure_b(seed: int) -> StructureB:
    """Everything but the count noise: depends on the seed only, never on r."""
    rng = np.random.default_rng([seed, 0xB0B])
    n, days = td.N_TRACKS, td.N_DAYS
    t = np.arange(days)

    # Base audience: Zipf by a random rank, a floor (every catalogue track has a few loyal listeners) and jitter.
    rank = rng.permutation(n) + 1.0
    base = 2.0 + 3000.0 * rank ** -0.8
    base *= np.exp(rng.normal(0.0, 0.3, size=n))

    # Genres of uneven size; artists own Zipf-many tracks (a few prolific artists, many with one or two).
    genre = rng.choice(td.N_GENRES, size=n, p=rng.dirichlet(np.full(td.N_GENRES, 3.0)))
    artist_p = 1.0 / np.arange(1, N_ARTISTS + 1) ** 0.7
    artist = rng.choice(N_ARTISTS, size=n, p=artist_p / artist_p.sum())
    seasonal_genre, festive_genre = (int(g) for g in rng.choice(td.N_GENRES, size=2, replace=False))

    # Weekly pattern: one harmonic per genre (own phase and amplitude), per-track jitter over weekdays.
    wd = np.arange(7)
    amp = rng.uniform(0.05, 0.22, size=td.N_GENRES)
    phase = rng.uniform(0.0, 7.0, size=td.N_GENRES)
    genre_week = 1.0 + amp[:, None] * np.cos(2.0 * np.pi * (wd[None, :] - phase[:, None]) / 7.0)
    conc = rng.uniform(60.0, 400.0, size=n)  # some tracks keep their genre's week closely, some less
    track_jitter = rng.gamma(conc[:, None], 1.0, size=(n, 7))
    week = genre_week[genre] * track_jitter / track_jitter.mean(axis=1, keepdims=True)
    week /= week.mean(axis=1, keepdims=True)
    weekly = week[:, t % 7]  # [track, day]
    hol = (t >= HOLIDAY[0]) & (t <= HOLIDAY[1])
    weekly[:, hol] = 1.0  # the holiday week has no working days: a flat, average week
    genre_only = (genre_week / genre_week.mean(axis=1, keepdims=True))[genre][:, t % 7]
    genre_only[:, hol] = 1.0
    lean = weekly / genre_only  # kept for benchmarks/trend_bounds.py's `no lean` scan; draws nothing

    # Platform: logistic growth (+20% over the window), the outage and the holiday, a small random daily factor.
    log_platform = np.log(1.0 + 0.2 / (1.0 + np.exp(-(t - 45) / 12.0))) - np.log(1.0 + 0.2 / (1.0 + np.exp(45 / 12)))
    log_platform += rng.normal(0.0, 0.03, size=days)
    log_platform[hol] += np.log(0.88)
    log_platform[OUTAGE_DAY + 1] += np.log(1.08)

    # Genres: slow drift, the seasonal rise, the outage's uneven hit, the holiday's shifts, AR(1) day factors.
    g = np.arange(td.N_GENRES)[:, None]
    log_genre = np.zeros((td.N_GENRES, days))
    for _ in range(2):
        period = rng.uniform(40.0, 120.0, size=(td.N_GENRES, 1))
        log_genre += rng.uniform(0.03, 0.08, size=(td.N_GENRES, 1)) * np.sin(
            2.0 * np.pi * t[None, :] / period + rng.uniform(0.0, 2.0 * np.pi, size=(td.N_GENRES, 1)))
    rise = _smoothstep((t - SEASON[0]) / (SEASON[1] - SEASON[0]))
    ease = np.clip((t - SEASON[1]) / (days - 1 - SEASON[1]), 0.0, 1.0)
    season = 1.0 + 1.1 * rise - 0.5 * ease  # 2.1x at the end of the rise, ~1.6x at the window's end
    log_genre[seasonal_genre] += np.log(season)
    log_genre[:, OUTAGE_DAY] += np.log(rng.uniform(0.30, 0.55, size=td.N_GENRES))
    festive = np.interp(t, [70, 74, 80, 84], [0.0, 1.0, 1.0, 0.0])  # eased in and out around the holiday
    shift = np.where(g[:, 0] == festive_genre, np.log(1.6), rng.normal(0.0, 0.1, size=td.N_GENRES))
    log_genre += shift[:, None] * festive[None, :]
    log_genre += _ar1(rng, td.N_GENRES, days, phi=0.5, sigma=0.04)
    log_artist = _ar1(rng, N_ARTISTS, days, phi=0.6, sigma=0.05)

    # Life cycles: new releases (silent before release, launch bump), fading tracks, organic growers.
    release = np.full(n, -1)
    fading = np.full(n, -1)
    growing = np.full(n, -1)
    order = rng.permutation(n)
    new_ids, fade_ids, grow_ids = order[:N_NEW_B], order[N_NEW_B:N_NEW_B + 180], order[N_NEW_B + 180:N_NEW_B + 280]
    life = np.ones((n, days))
    release[new_ids] = rng.integers(3, 87, size=N_NEW_B)
    for i in new_ids:
        k = t - release[i]
        bump = rng.uniform(2.0, 6.0)
        tau = rng.uniform(1.5, 5.0)
        life[i] = np.where(k < 0, 0.0, 1.0 + (bump - 1.0) * np.exp(-np.maximum(k, 0) / tau))
    fading[fade_ids] = rng.integers(0, 80, size=fade_ids.size)
    for i in fade_ids:
        half_life = rng.uniform(10.0, 60.0)
        life[i] = np.maximum(0.5 ** (np.maximum(t - fading[i], 0) / half_life), 0.2)
    growing[grow_ids] = rng.integers(0, 70, size=grow_ids.size)
    for i in grow_ids:
        rate = rng.uniform(0.005, 0.015)
        life[i] = np.minimum(np.exp(rate * np.maximum(t - growing[i], 0)), 1.6)

    mu = (base[:, None] * weekly * life * np.exp(log_platform[None, :] + log_genre[genre] + log_artist[artist]))

    # Planted breakouts: a level drawn log-uniformly, the closest eligible track by its settled week before start.
    eligible = ((release < 0) & (fading < 0) & (growing < 0) & (genre != seasonal_genre) & (genre != festive_genre))
    shapes = [s for s in td.SHAPES for _ in range(4)]
    rng.shuffle(shapes)
    lift = np.ones((n, days))
    planted: list[td.Planted] = []
    used_artists: set[int] = set()
    for shape in shapes:
        start = int(rng.integers(BREAKOUT_FIRST, BREAKOUT_LAST + 1))
        settled = mu[:, start - 7:start].mean(axis=1)
        target = np.exp(rng.uniform(*np.log(BREAKOUT_LEVEL)))
        ok = eligible & (settled >= BREAKOUT_LEVEL[0]) & (settled <= BREAKOUT_LEVEL[1])
        ok &= ~np.isin(artist, list(used_artists))  # one breakout per artist: spillovers stay separate
        candidates = np.flatnonzero(ok)
        i = int(candidates[np.argmin(np.abs(np.log(settled[candidates] / target)))])
        eligible[i] = False
        used_artists.add(int(artist[i]))
        curve = _breakout_curve(shape, start, rng)
        lift[i] *= curve
        siblings = np.flatnonzero((artist == artist[i]) & (np.arange(n) != i))
        lift[siblings] *= 1.0 + 0.08 * (curve - 1.0)  # an artist's breakout lifts their catalogue a little
        planted.append(td.Planted(track=i, shape=shape, start=start))
    planted.sort(key=lambda p: (p.start, p.track))

    return StructureB(mu=mu * lift, base=base, genre=genre, artist=artist, release=release, fading=fading,
                      growing=growing, seasonal_genre=seasonal_genre, festive_genre=festive_genre,
                      planted=planted, lift=lift, lean=lean)


def make_world_b(r: float, seed: int) -> td.EvalWorld:
    """World b at dispersion r: the seed's structure, then gamma-Poisson noise with variance mu + mu^2 / r."""
    s = structure_b(seed)
    # A separate stream for the noise, keyed by the seed only, so the structure above never depends on r.
    rng = np.random.default_rng([seed, 0xB0B, 1])
    lam = rng.gamma(shape=r, scale=s.mu / r)  # mean mu, variance mu^2 / r: the per-track-day random effect
    listeners = rng.poisson(lam).astype(np.int64)
    return td.EvalWorld(listeners=listeners, genre=s.genre.copy(), planted=list(s.planted), r=r, seed=seed,
                        artist=s.artist.copy())
