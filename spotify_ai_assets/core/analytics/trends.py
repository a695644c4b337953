"""Rising, falling and emerging tracks and artists: each day's count against the entity's own trailing baseline.

The count (`plays` below) should be daily unique listeners rather than plays: one fan on repeat can put a long-tail
track at 8 plays after months at 1, but not at 8 listeners.

Method (all DuckDB SQL over daily counts per entity; issue 21). Real daily listeners are overdispersed: listeners
move together (playlists, shares, algorithmic surfaces), so the variance is well above the mean and differs from one
entity to the next. A Poisson z calls that noise news (on a negative-binomial world at r = 10, 9 in 10 of its flags
were false; benchmarks/trend_detection.py). So:

- **Baseline share.** Over the baseline days (from `BASELINE_DAYS` days before the scored day to `BASE_GAP` days
  before it, fewer at the start of history), the entity's share of the platform's listeners. Quiet days count as
  zeros. The baseline ends a week before the scored day so that a rise that began within the week (the windows
  below) is not already in it.
- **Day factor.** Each day, the median log ratio of entities' listeners to their plain share x the platform total
  (over entities expected at least `FACTOR_MIN_EXPECTED`) says how a typical entity moved; with `groups` (an
  entity's genre, say) the same per group, leaning on the platform's when the group has few such entities
  (`GROUP_PRIOR`), and the platform's on none when the day has few (`PLATFORM_PRIOR`). A holiday that lifts the
  head, or a genre's seasonal rise when the genre is known, is then expected rather than alerted.
- **Learned groups.** The catalog often knows no genre (the Web API marks artists' `genres` deprecated), so the
  entities that move together are also learned from the window's listeners (`core/analytics/co_movement.py`:
  k-means over each entity's smoothed log-ratio trajectory). A learned cluster's factor is computed as a group's;
  a known group leans on its members' cluster instead of the platform, and an entity without a known group takes its
  cluster's factor. A seasonal genre whose genre nobody passed is then expected too (on benchmarks/trend_detection.py
  without genres, world b at r = 100: 17-21% of flags false instead of 29-38%). Smaller entities (3-10 listeners a
  day) join a cluster on evidence and take its factor, but not the grouped window rule (below): with them, world b
  without genres keeps 5-13% of flags false at r = 1000 to 25 (worst of seeds 0-2 and of 3-5). `learn_groups=False`
  turns it off.
- **Groups in the pipeline.** The trend assets pass the scored day's catalog snapshot as `groups`: a track's group
  is its primary artist's first genre (`track_groups`), an artist's its first genre (`artist_groups`), none without a
  genre. A seasonal genre (Christmas music in December) then lifts its tracks' expectation instead of flagging each
  of them (on benchmarks/trend_detection.py at r = 25 and 10, seeds 0-5, the worst false-alarm share falls from 13%
  and 16% of flags without the genre to 8% and 10% with it, and more breakouts are found), while one track
  outgrowing its genre still rises. Entities without a genre (the Web API marks artists' `genres` deprecated), those
  the catalog does not hold (outside the watchlist), and every entity on a day without a snapshot get their learned
  cluster's factor (above), or the platform's. An artist is not a group: the median of its few tracks says little,
  yet as a known group it would outrank the learned cluster that does see their genre move (on world b without
  genres, the artist as each track's group made 36-57% of the flags false at r = 25 and 10, against 14-23% without).
  An artist's catalogue moving with one breakout is `lifted` instead (below).
- **Expected listeners** = the share (re-estimated against the factor-adjusted totals) x the platform's listeners on
  the scored day x its factor: the day's weekday and any platform-wide swing are carried into the expectation.
- **Dispersion.** Each entity's 1/r (variance = mu + mu^2 / r) by the method of moments over its baseline residuals,
  leaving out days more than `TRIM_Z` sd off (a viral day in the baseline must not make the entity look noisy for
  four weeks); shrunk toward the pooled estimate (the median over entities of at least `POOL_MIN_MEAN` listeners a
  day) by precision, the pool worth 1 / (`TAU_SCALE` x pooled + `TAU_MIN`)^2, so a sparse entity borrows the
  platform's dispersion and a well-measured one keeps its own. The baseline's own uncertainty (its listeners and its
  days) is added.
- **Scores**: the signed negative-binomial deviance residual of the day's listeners (`z_day`), and of each window of
  the last k days, k = 2..`MAX_WINDOW` (the windows: a ramp or a slow burn that stays inside one day's noise adds up
  over several). A window leaves out its most extreme day in the direction scored (its highest for a rise, its
  lowest for a fall), scoring the other k - 1 days' sum (1/r divided by k - 1): one noisy day then cannot carry a
  week, and on a negative-binomial world at r = 10 plain window sums flagged the days after every noise spike (a
  quarter of the flags false at the same recall; benchmarks/trend_detection.py seeds 0-2), while a rise that lasts
  still shows on its other days. Unlike a Pearson z the deviance stays close to a standard normal in the skewed
  right tail. On a day with at least `NULL_MIN_ENTITIES` established entities every score (the day's, and each
  window length's, each direction) is divided by the spread (1.4826 x MAD, at least 1) of that day's scores, the
  empirical null: whatever the model missed that day widens every score alike. `z` is the day's, or the strongest
  window passing its rule when that is stronger (ranking is by |z|).
- **Rising** when listeners >= `MIN_PLAYS` and either the day's z >= `Z_ALERT` with listeners >= `MIN_RATIO` x
  expected, or some window's z >= `Z_WINDOW` with the window's listeners (all its days) at least
  `MIN_RATIO_WINDOW` x expected and the day at least `MIN_RATIO_DAY` x expected; **falling** the mirror image
  (expected >= `MIN_PLAYS`). An entity without a group (no `groups`, or none known for it) needs its window at
  `Z_WINDOW_UNGROUPED` and `MIN_RATIO_WINDOW_UNGROUPED` instead: a genre's seasonal rise (to 1.8x over three weeks
  on the benchmark) lifts each of its tracks about 1.5x against a week-old baseline, which only the genre's factor
  explains (with the grouped rule, 28-52% of the flags without genres were false on seeds 0-2, nearly all of them
  that genre's tracks). An entity counts as grouped when it took part in a learned cluster's k-means (not a smaller
  entity joined to one), or when its known group's own factor outweighs its prior on the day (at least
  `GROUP_PRIOR` of the group's entities expected `FACTOR_MIN_EXPECTED` listeners): a genre of three tracks explains
  no genre's rise. Several window lengths are
  tried at one threshold: `Z_WINDOW` was chosen on the benchmark's false-alarm share, which already pays for the
  multiple tests. An entity is scored against a baseline once it was first played at least `MIN_HISTORY_DAYS` days
  before (sparse long-tail tracks included).
- **Emerging**: an entity with less history than that (new releases, first plays) but already `MIN_EMERGING_PLAYS`
  plays on the day. Ranked by plays.
- **Too little history**: while the data itself holds fewer than `MIN_HISTORY_DAYS` days before the scored day (the
  first days of a deployment or a backfill), nothing is labelled: every entity would be "new", and the most played
  would be called emerging. Scores are still computed; `history_shortfall` says why nothing is flagged.
- **Lifted** (tracks, when `artists` are passed: `explain_spillover`): a rising track is labelled `lifted` when
  another rising track of its primary artist rose further on the day (a higher ratio to expected) on at least as much
  evidence (z; a small track's noisy day must not demote the artist's real breakout). A breakout lifts
  the artist's other tracks a little (listeners who find the hit play the rest), and the noisiest of them then pass
  the rising rule too: with genres known, half to four fifths of the false alarms on world b at r = 25 (seeds 0-2).
  One alert per artist and day names its strongest rise (two tracks rising equally far both stay `rising`); the
  others stay in the table as `lifted`, and the artist's own rise is `artist_trends`'.
- **Release** (artists only): a rising artist whose established tracks are not rising is rising on its new releases.
  Established tracks are all but the fresh ones: first played within the last `FRESH_DAYS` days (absent on the
  first day of the data window) by at least `MIN_PLAYS` listeners on that first day, as a release is; an old
  long-tail track that merely had no listener for a while starts with one or two. The established tracks' summed
  listeners are scored against their own baseline share with a Poisson-style rule, (count - expected) /
  sqrt(expected + 1) >= `Z_RISING` and count >= `MIN_RATIO` x expected; if they do not rise, the artist is labelled
  `release` instead of `rising`: an expected effect, already alerted as a release, not a breakout. A real breakout
  lifts the old catalogue too, so it stays `rising`. Noise in the old catalogue errs toward `rising` (the lenient
  Poisson rule is kept on purpose: a breakout is never hidden as a release on noise).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from spotify_ai_assets.core.kernel.query import Relation, sql_to_arrow

if TYPE_CHECKING:  # pyarrow is imported where a table is built: loading the definitions does not need it
    import pyarrow as pa

BASELINE_DAYS = 28
MIN_HISTORY_DAYS = 7
Z_RISING = 5.0  # the Poisson-style rule that tells a release from a breakout (explain_releases)
MIN_RATIO = 2.0
MIN_PLAYS = 6
MIN_EMERGING_PLAYS = 50
FRESH_DAYS = 21
# Issue 21's detector; Z_ALERT, Z_WINDOW and the window ratios chosen on benchmarks/trend_detection.py seeds 0-2
# (3-5 held out).
Z_ALERT = 4.5  # deviance z, after the empirical null
BASE_GAP = 7  # the baseline ends this many days before the scored day: a week-old rise is not in its own baseline
MAX_WINDOW = 7  # window scores over the last 2..MAX_WINDOW days (at most BASE_GAP: windows never reach the baseline)
WINDOWS = range(2, MAX_WINDOW + 1)
Z_WINDOW = 3.75  # a window's deviance z, its top day left out, after the empirical null
MIN_RATIO_WINDOW = 1.5  # a window's listeners (all its days) against expected
MIN_RATIO_DAY = 1.3  # and the scored day's, for a window's rise (its mirror for a fall)
# Without a group a genre's slow seasonal rise is the entity's own: a window needs more (see the module's method).
Z_WINDOW_UNGROUPED = 4.0
MIN_RATIO_WINDOW_UNGROUPED = 2.2
FACTOR_MIN_EXPECTED = 5
GROUP_PRIOR = 10
PLATFORM_PRIOR = 50
POOL_MIN_MEAN = 10
TAU_SCALE = 0.5
TAU_MIN = 0.005
TRIM_Z = 4.0
NULL_MIN_ENTITIES = 100


def _rises(count: str, expected: str) -> str:
    """The rising rule as SQL over a count and its expectation (one rule for every score that uses it)."""
    return (f"(({count}) - ({expected})) / sqrt(({expected}) + 1) >= {Z_RISING} AND ({count}) >= {MIN_PLAYS} "
            f"AND ({count}) >= {MIN_RATIO} * ({expected})")


def _deviance_z(y: str, mu: str, a: str) -> str:
    """The signed deviance residual of count `y` under a negative binomial of mean `mu` and 1/r = `a` (variance
    mu + a mu^2), as SQL. Unlike (y - mu) / sd it is close to a standard normal in the right tail too: a gamma-like
    day effect is skewed, so a Pearson z of 5 is far less rare than 5 sigma when listeners move together."""
    mu, a = f"greatest({mu}, 0.01)", f"greatest({a}, 1e-9)"
    return (f"(sign(({y}) - {mu}) * sqrt(greatest(2 * ((CASE WHEN ({y}) > 0 THEN ({y}) * ln(({y}) / {mu}) ELSE 0 END)"
            f" - (({y}) + 1 / {a}) * ln((1 + {a} * ({y})) / (1 + {a} * {mu}))), 0)))")


# The window scores (SQL fragments, one column per window length k in WINDOWS). Each window leaves out its most
# extreme day in the direction scored (its highest for a rise, its lowest for a fall): one noisy day then cannot carry
# a week, while a rise that lasts still shows on the other days. `wmax`/`wmin` hold that day's [listeners, expected].
_WINDOW_SUMS = ", ".join(
    f"coalesce(sum(y) FILTER (lag < {k}), 0) AS wy{k}, coalesce(sum(e) FILTER (lag < {k}), 0) AS we{k}, "
    f"coalesce(arg_max([y, e], y - e) FILTER (lag < {k}), [0, 0]) AS wmax{k}, "
    f"coalesce(arg_min([y, e], y - e) FILTER (lag < {k}), [0, 0]) AS wmin{k}" for k in WINDOWS)
_WINDOW_COLS = ", ".join(f"r.wy{k}, r.we{k}, r.wmax{k}, r.wmin{k}" for k in WINDOWS)
_WINDOW_COLS_D = ", ".join(f"d.wy{k}, d.we{k}, d.wy{k} - d.wmax{k}[1] AS uy{k}, d.we{k} - d.wmax{k}[2] AS ue{k}, "
                           f"d.wy{k} - d.wmin{k}[1] AS dy{k}, d.we{k} - d.wmin{k}[2] AS de{k}" for k in WINDOWS)
_WINDOW_A = ", ".join(f"d.alpha / {k - 1} + 1 / (d.b_plays + 1) + d.alpha / greatest(d.b_days, 1) AS wa{k}"
                      for k in WINDOWS)
_WINDOW_Z0 = ", ".join(
    f"CASE WHEN a1 IS NULL THEN 0 ELSE {_deviance_z(f'{u}y{k}', f'{u}e{k}', f'wa{k}')} END AS {u}z{k}_0"
    for k in WINDOWS for u in "ud")
_WINDOW_S = ", ".join(f"CASE WHEN count(*) >= {NULL_MIN_ENTITIES} THEN greatest(1, 1.4826 * mad({u}z{k}_0)) ELSE 1 END"
                      f" AS {u}s{k}" for k in WINDOWS for u in "ud")
_WINDOW_ZN = ", ".join(f"{u}z{k}_0 / {u}s{k} AS {u}z{k}" for k in WINDOWS for u in "ud")
# The strongest window that passes its rule, rising (greatest) and falling (least); NULL when none does.
# `zw` and `rw` are the entity's window threshold and ratio (stricter without a group).
_RISE_WIN = "greatest(" + ", ".join(
    f"CASE WHEN uz{k} >= zw AND wy{k} >= rw * we{k} THEN uz{k} END" for k in WINDOWS) + ")"
_FALL_WIN = "least(" + ", ".join(
    f"CASE WHEN dz{k} <= -zw AND wy{k} * rw <= we{k} THEN dz{k} END" for k in WINDOWS) + ")"

# `daily` has one row per (date, entity_id) with plays, `groups` one per entity_id with its group_id (a genre, say;
# a single group when unknown); the scored day is $1.
TRENDS_SQL = f"""
WITH win AS (
  SELECT date, entity_id, sum(plays)::DOUBLE AS plays FROM daily
  WHERE date BETWEEN $1::DATE - {BASELINE_DAYS} AND $1::DATE GROUP BY ALL
),
days AS (SELECT date, sum(plays) AS total FROM win GROUP BY date),
ents AS (
  SELECT w.entity_id, min(w.date) AS first_seen, coalesce(any_value(g.group_id), '') AS group_id,
         coalesce(any_value(c.cluster_id), '') AS cluster_id, coalesce(any_value(c.member), FALSE) AS member
  FROM win w LEFT JOIN groups g ON g.entity_id = w.entity_id LEFT JOIN clusters c ON c.entity_id = w.entity_id
  WHERE w.date < $1::DATE GROUP BY w.entity_id
),
-- Every entity on every day since its first listener, quiet days as zeros: the residuals need them. Baseline days end
-- {BASE_GAP} days before the scored day, so a rise that started in the last week is not yet in its own baseline.
grid AS MATERIALIZED (
  SELECT e.entity_id, e.group_id, e.cluster_id, d.date, d.total, coalesce(w.plays, 0) AS plays,
         d.date <= $1::DATE - {BASE_GAP} AS base, $1::DATE - d.date AS lag
  FROM ents e JOIN days d ON d.date >= e.first_seen
  LEFT JOIN win w ON w.entity_id = e.entity_id AND w.date = d.date
),
raw AS (
  SELECT entity_id, sum(plays) FILTER (base) / nullif(sum(total) FILTER (base), 0) AS share
  FROM grid GROUP BY entity_id
),
-- The day's movement of a typical entity of each group (and of the platform) against its plain share: the median log
-- ratio over entities expected at least {FACTOR_MIN_EXPECTED} listeners. A group with few such entities leans on
-- the platform's factor, and a platform with few of them on its plain total (a median of two is their mean).
lr AS (
  SELECT g.date, g.group_id, g.cluster_id, ln((g.plays + 0.5) / (r.share * g.total + 0.5)) AS lr
  FROM grid g JOIN raw r USING (entity_id) WHERE r.share * g.total >= {FACTOR_MIN_EXPECTED}
),
plat AS (SELECT date, median(lr) * count(*) / (count(*) + {PLATFORM_PRIOR}) AS m FROM lr GROUP BY date),
per_group AS (SELECT date, group_id, median(lr) AS m, count(*) AS n FROM lr WHERE group_id <> '' GROUP BY ALL),
per_cluster AS (SELECT date, cluster_id, median(lr) AS m, count(*) AS n FROM lr WHERE cluster_id <> '' GROUP BY ALL),
-- A group leans on its members' learned cluster (core/analytics/co_movement.py) when they have one, a cluster on the
-- platform: the platform, then what the data shows moving together, then what the catalog knows.
parent AS (
  SELECT g.*, (coalesce(c.n, 0) * coalesce(c.m, 0) + {GROUP_PRIOR} * coalesce(p.m, 0))
              / (coalesce(c.n, 0) + {GROUP_PRIOR}) AS pm
  FROM grid g LEFT JOIN per_cluster c USING (date, cluster_id) LEFT JOIN plat p USING (date)
),
adj AS (
  SELECT g.* EXCLUDE (pm), g.total * exp((coalesce(f.n, 0) * coalesce(f.m, 0) + {GROUP_PRIOR} * g.pm)
                                         / (coalesce(f.n, 0) + {GROUP_PRIOR})) AS ftotal
  FROM parent g LEFT JOIN per_group f USING (date, group_id)
),
fit AS (
  SELECT entity_id, sum(plays) FILTER (base) AS b_plays, count(*) FILTER (base) AS b_days,
         sum(plays) FILTER (base) / nullif(sum(ftotal) FILTER (base), 0) AS share
  FROM adj GROUP BY entity_id
),
fitted AS MATERIALIZED (
  SELECT a.entity_id, a.date, a.base, a.lag, a.plays AS y, f.share * a.ftotal AS e, f.b_plays, f.b_days
  FROM adj a JOIN fit f USING (entity_id)
),
resid AS (
  SELECT entity_id, b_plays, b_days, sum((y - e) ^ 2 - y) FILTER (base) AS num, sum(e * e) FILTER (base) AS e2,
         1.4826 * mad(y - e) FILTER (base) AS spread,
         coalesce(sum(e) FILTER (date = $1::DATE), 0) AS expected,
         {_WINDOW_SUMS}
  FROM fitted GROUP BY ALL
),
-- Pooled dispersion: the median moment estimate over entities with at least {POOL_MIN_MEAN} listeners a day.
pool AS (
  SELECT coalesce(median(greatest(num / e2, 0)) FILTER (b_plays >= {POOL_MIN_MEAN} * b_days AND e2 > 0),
                  greatest(sum(num) / nullif(sum(e2), 0), 0), 0) AS a0
  FROM resid
),
-- An entity's own moments leave out baseline days more than {TRIM_Z} sd from their expectation, the sd being the
-- larger of the pooled model's and the entity's own robust spread (MAD) of residuals: one viral day in the baseline
-- would otherwise make the entity look noisy for four weeks, while an entity noisy every day keeps its noise.
trimmed AS (
  SELECT entity_id, sum((y - e) ^ 2 - y) AS num, sum(e ^ 2) AS e2, sum(e ^ 3) AS e3, sum(e ^ 4) AS e4
  FROM fitted JOIN resid r USING (entity_id), pool
  WHERE base AND abs(y - e) <= {TRIM_Z} * greatest(sqrt(e + a0 * e * e + 1), coalesce(r.spread, 0))
  GROUP BY entity_id
),
-- Each entity's moment estimate of 1/r, weighted by its precision (about e2^2 / (2 sum v^2), v = e + a0 e^2),
-- against the pool's, worth 1 / ({TAU_SCALE} a0 + {TAU_MIN})^2.
disp AS (
  SELECT r.entity_id, r.b_plays, r.b_days, r.expected, {_WINDOW_COLS},
         (w * greatest(coalesce(t.num / nullif(t.e2, 0), 0), 0) + p.a0 * p.prior) / (w + p.prior) AS alpha
  FROM resid r LEFT JOIN trimmed t USING (entity_id),
       (SELECT a0, 1 / ({TAU_SCALE} * a0 + {TAU_MIN}) ^ 2 AS prior FROM pool) p,
       LATERAL (SELECT coalesce(t.e2 * t.e2 / nullif(2 * (t.e2 + 2 * p.a0 * t.e3 + p.a0 ^ 2 * t.e4), 0), 0) AS w)
),
today AS (SELECT entity_id, sum(plays) AS plays FROM win WHERE date = $1::DATE GROUP BY entity_id),
scored AS (
  SELECT coalesce(t.entity_id, e.entity_id) AS entity_id, coalesce(e.group_id, '') AS group_id,
         coalesce(e.cluster_id, '') AS cluster_id,
         coalesce(t.plays, 0) AS plays,
         coalesce($1::DATE - e.first_seen, 0) AS history_days, coalesce(d.expected, 0) AS expected,
         {_WINDOW_COLS_D}, d.b_days,
         -- the baseline's own uncertainty (its listeners and its days) adds to the day's noise
         d.alpha + 1 / (d.b_plays + 1) + d.alpha / greatest(d.b_days, 1) AS a1,
         {_WINDOW_A},
         -- grouped: a member of a learned cluster (not a small entity assigned to one: its trajectory is too noisy
         -- to vouch for it), or in a known group whose own factor outweighs its prior today (a genre, not three tracks)
         (coalesce(e.member, FALSE) OR coalesce(gn.n, 0) >= {GROUP_PRIOR}) AS grouped
  FROM today t FULL OUTER JOIN ents e ON t.entity_id = e.entity_id LEFT JOIN disp d ON d.entity_id = e.entity_id
  LEFT JOIN (SELECT group_id, n FROM per_group WHERE date = $1::DATE) gn ON gn.group_id = e.group_id
),
raw_z AS (
  -- no baseline (first listeners in the last few days), no score: such an entity can only be emerging
  SELECT *, CASE WHEN a1 IS NULL THEN 0 ELSE {_deviance_z("plays", "expected", "a1")} END AS z_day0,
         {_WINDOW_Z0}
  FROM scored
),
-- The empirical null: on a day with enough established entities, most of them have no news, so the spread of their
-- scores is what noise looks like today. When it is wider than a standard normal (dispersion underestimated, a
-- shock the factors missed) every score is divided by it; it never sharpens them.
spread AS (
  SELECT CASE WHEN count(*) >= {NULL_MIN_ENTITIES} THEN greatest(1, 1.4826 * mad(z_day0)) ELSE 1 END AS s_day,
         {_WINDOW_S}
  FROM raw_z WHERE history_days >= {MIN_HISTORY_DAYS} AND expected >= 1
),
z AS (SELECT raw_z.*, z_day0 / s_day AS z_day, {_WINDOW_ZN} FROM raw_z, spread),
ev AS (
  SELECT *, CASE WHEN rise_win IS NOT NULL THEN greatest(z_day, rise_win)
                 WHEN fall_win IS NOT NULL THEN least(z_day, fall_win) ELSE z_day END AS z
  FROM (SELECT *, {_RISE_WIN} AS rise_win, {_FALL_WIN} AS fall_win
        FROM (SELECT *, CASE WHEN grouped THEN {Z_WINDOW} ELSE {Z_WINDOW_UNGROUPED} END AS zw,
                     CASE WHEN grouped THEN {MIN_RATIO_WINDOW} ELSE {MIN_RATIO_WINDOW_UNGROUPED} END AS rw
              FROM z))
)
SELECT $1::DATE AS date, entity_id, plays::BIGINT AS plays, round(expected, 3)::DOUBLE AS expected,
       round(z, 3)::DOUBLE AS z, round((plays + 1) / (expected + 1), 3)::DOUBLE AS ratio,
       history_days::BIGINT AS history_days,
       CASE
         WHEN (SELECT count(*) FROM days WHERE date < $1::DATE) < {MIN_HISTORY_DAYS} THEN NULL
         WHEN history_days < {MIN_HISTORY_DAYS}
           THEN CASE WHEN plays >= {MIN_EMERGING_PLAYS} THEN 'emerging' END
         WHEN plays >= {MIN_PLAYS} AND ((z_day >= {Z_ALERT} AND plays >= {MIN_RATIO} * expected)
              OR (rise_win IS NOT NULL AND plays >= {MIN_RATIO_DAY} * expected)) THEN 'rising'
         WHEN expected >= {MIN_PLAYS} AND ((z_day <= -{Z_ALERT} AND plays * {MIN_RATIO} <= expected)
              OR (fall_win IS NOT NULL AND plays * {MIN_RATIO_DAY} <= expected)) THEN 'falling'
       END AS trend
FROM ev
WHERE plays > 0 OR expected >= {MIN_PLAYS}
"""


def trends_schema() -> pa.Schema:
    """The columns of a day's scores (and of the stored trends tables)."""
    import pyarrow as pa

    return pa.schema([
        ("date", pa.date32()), ("entity_id", pa.string()), ("plays", pa.int64()), ("expected", pa.float64()),
        ("z", pa.float64()), ("ratio", pa.float64()), ("history_days", pa.int64()), ("trend", pa.string()),
    ])


def history_shortfall(history_days: int) -> str | None:
    """Why nothing is labelled on a day with `history_days` days of data before it, or None when there are enough."""
    if history_days >= MIN_HISTORY_DAYS:
        return None
    return (f"history: {history_days} of {MIN_HISTORY_DAYS} days needed before the scored day; trends not labelled "
            f"until then (backfill at least {MIN_HISTORY_DAYS - history_days} more earlier days)")


def score_day(daily: Relation, day: dt.date, groups: Relation | None = None, learn_groups: bool = True,
              clusters: pa.Table | None = None, artists: Relation | None = None) -> pa.Table:
    """Every entity seen on `day` or in its baseline window, with its score and trend (or null). `groups`, when
    known, has one row per entity_id with its group_id (a genre): a whole group's movement is then expected. With
    `learn_groups` the entities that move together are also learned from `daily` itself (core/analytics/
    co_movement.py), so a group's movement is expected when no group is known too; `clusters`, when given, are
    those already learned (`learned_clusters(daily, day, BASELINE_DAYS)`, which the caller also reports). `artists`
    (tracks only), when known, maps entity_id to its primary artist_id: a track rising less far than another of its
    artist is then `lifted` (`explain_spillover`)."""
    import pyarrow as pa

    from spotify_ai_assets.core.analytics.co_movement import clusters_schema, learned_clusters

    if groups is None:
        groups = pa.table({"entity_id": pa.array([], pa.string()), "group_id": pa.array([], pa.string())})
    if not learn_groups:
        clusters = clusters_schema().empty_table()
    elif clusters is None:
        clusters = learned_clusters(daily, day, BASELINE_DAYS)
    scores = sql_to_arrow(TRENDS_SQL, {"daily": daily, "groups": groups, "clusters": clusters},
                          [day]).cast(trends_schema())
    return scores if artists is None else explain_spillover(scores, artists)


# Groups from a catalog snapshot (spotify_artists / spotify_tracks, core/ingestion/catalog.py). A track's group is
# its primary artist's first genre (the artist snapshot's, else the one the track was crawled with); a track without
# one has none (its learned cluster's factor: see the module on why an artist is no group). An artist's group is its
# first genre; an artist without one has none. The `genre:` prefix keeps group ids apart from any other kind.
_ARTIST_GENRE = "SELECT artist_id, nullif(arg_max(genres, snapshot_date)[1], '') AS genre FROM artists GROUP BY ALL"
TRACK_GROUPS_SQL = f"""
WITH a AS ({_ARTIST_GENRE}),
t AS (
  SELECT track_id, arg_max(artist_id, snapshot_date) AS artist_id, nullif(arg_max(genre, snapshot_date), '') AS genre
  FROM tracks GROUP BY track_id
)
SELECT t.track_id AS entity_id, 'genre:' || coalesce(a.genre, t.genre) AS group_id
FROM t LEFT JOIN a USING (artist_id)
WHERE t.track_id IS NOT NULL AND coalesce(a.genre, t.genre) IS NOT NULL
ORDER BY entity_id
"""
ARTIST_GROUPS_SQL = f"""
SELECT artist_id AS entity_id, 'genre:' || genre AS group_id FROM ({_ARTIST_GENRE})
WHERE artist_id IS NOT NULL AND genre IS NOT NULL ORDER BY entity_id
"""


def _groups_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([("entity_id", pa.string()), ("group_id", pa.string())])


def track_groups(tracks: Relation, artists: Relation | None = None) -> pa.Table:
    """entity_id (track_id) -> group_id for `score_day`, from a `spotify_tracks` snapshot and, when there is one,
    the `spotify_artists` snapshot of the same day: `genre:<first genre of the primary artist>`; tracks without a
    genre are left out (no group)."""
    import pyarrow as pa

    if artists is None:
        artists = pa.table({"snapshot_date": pa.array([], pa.date32()), "artist_id": pa.array([], pa.string()),
                            "genres": pa.array([], pa.list_(pa.string()))})
    return sql_to_arrow(TRACK_GROUPS_SQL, {"tracks": tracks, "artists": artists}).cast(_groups_schema())


def track_artists(stats: Relation) -> pa.Table:
    """entity_id (track_id) -> artist_id (its primary artist) for `score_day`'s `artists`, from daily per-track rows
    that carry it (`daily_track_country_stats`: every track listened to, catalog or not, on any day)."""
    import pyarrow as pa

    return sql_to_arrow("SELECT track_id AS entity_id, min(artist_id) AS artist_id FROM stats "
                        "WHERE track_id IS NOT NULL AND artist_id IS NOT NULL GROUP BY track_id ORDER BY entity_id",
                        {"stats": stats}).cast(pa.schema([("entity_id", pa.string()), ("artist_id", pa.string())]))


def artist_groups(artists: Relation) -> pa.Table:
    """entity_id (artist_id) -> group_id for `score_day`, from a `spotify_artists` snapshot: `genre:<first genre>`;
    artists without a genre are left out (no group)."""
    return sql_to_arrow(ARTIST_GROUPS_SQL, {"artists": artists}).cast(_groups_schema())


# `scores` are an artist's rows from TRENDS_SQL; `tracks` the daily per-track (per-country) listeners with artist_id
# over the same window; the scored day is $1.
RELEASE_SQL = f"""
WITH per_track AS (SELECT date, track_id, sum(listeners) AS listeners FROM tracks GROUP BY ALL),
fresh AS (
  SELECT track_id FROM per_track GROUP BY track_id
  HAVING min(date) > (SELECT min(date) FROM tracks) AND min(date) >= $1::DATE - {FRESH_DAYS}
     AND arg_min(listeners, date) >= {MIN_PLAYS}
),
totals AS (SELECT date, sum(listeners) AS total FROM tracks GROUP BY date),
established AS (
  SELECT artist_id,
         coalesce(sum(listeners) FILTER (WHERE date = $1::DATE), 0) AS today,
         coalesce(sum(listeners) FILTER (WHERE date < $1::DATE), 0)
           / nullif((SELECT sum(total) FROM totals WHERE date < $1::DATE), 0)
           * (SELECT sum(total) FROM totals WHERE date = $1::DATE) AS expected
  FROM tracks WHERE track_id NOT IN (SELECT track_id FROM fresh) GROUP BY artist_id
)
SELECT s.* EXCLUDE (trend),
       CASE WHEN s.trend = 'rising'
                 AND NOT coalesce({_rises("e.today", "e.expected")}, FALSE)
            THEN 'release' ELSE s.trend END AS trend
FROM scores s LEFT JOIN established e ON e.artist_id = s.entity_id
"""


def explain_releases(scores: pa.Table, tracks: Relation, day: dt.date) -> pa.Table:
    """Artist scores with rises carried by fresh tracks relabelled `release` (see the module's method)."""
    return sql_to_arrow(RELEASE_SQL, {"scores": scores, "tracks": tracks}, [day]).cast(trends_schema())


# `scores` are TRENDS_SQL's rows of tracks, `artists` one row per track (entity_id) with its primary artist_id. A
# rising track is `lifted` when another rising track of its artist rose further today (a higher ratio; ties both stay
# rising) on at least as much evidence (z): a noisy day of a small track must not demote the artist's real breakout.
SPILLOVER_SQL = """
-- one artist per track (the least id, should a caller pass several)
WITH a AS (SELECT entity_id, min(artist_id) AS artist_id FROM artists GROUP BY entity_id),
s AS (SELECT s.*, a.artist_id FROM scores s LEFT JOIN a USING (entity_id)),
rising AS (
  SELECT a.entity_id, bool_or(b.ratio > a.ratio AND b.z >= a.z) AS lifted
  FROM s a JOIN s b ON a.artist_id = b.artist_id AND a.entity_id <> b.entity_id AND b.trend = 'rising'
  WHERE a.trend = 'rising' GROUP BY a.entity_id
)
SELECT s.* EXCLUDE (artist_id, trend),
       CASE WHEN s.trend = 'rising' AND coalesce(r.lifted, FALSE) THEN 'lifted' ELSE s.trend END AS trend
FROM s LEFT JOIN rising r USING (entity_id)
"""


def explain_spillover(scores: pa.Table, artists: Relation) -> pa.Table:
    """Track scores with rises that ride on another track of the same artist relabelled `lifted` (see the module's
    method). `artists` maps entity_id (track_id) to its primary artist_id."""
    return sql_to_arrow(SPILLOVER_SQL, {"scores": scores, "artists": artists}).cast(trends_schema())


def flagged(scores: pa.Table, trend: str, top: int = 20) -> list[str]:
    """The entity ids with `trend`, strongest first (|z| for rising/falling, plays for emerging), at most `top`."""
    key = "plays" if trend == "emerging" else "abs(z)"
    rows = sql_to_arrow(f"SELECT entity_id FROM s WHERE trend = $1 ORDER BY {key} DESC, entity_id LIMIT $2",
                        {"s": scores}, [trend, top])
    return rows["entity_id"].to_pylist()
