"""Entities that move together, learned from their own daily listeners: groups for trend scoring when none are known.

Why (issue 21): a whole genre rising (Christmas music in December) lifts each of its tracks 1.5-2x against a week-old
baseline, and no per-track rule can tell that from a track breaking out alone. `core/analytics/trends.py` expects a
group's movement when it knows the group, but the catalog's genres are often missing: the Spotify Web API marks an
artist's `genres` deprecated (2026 spec), and entities outside the catalog have none. The entities themselves show
which of them move together, so the groups are learned:

- **Trajectory.** Over the scoring window (`BASELINE_DAYS` days before the scored day and the day itself), each
  entity's daily log ratio of listeners to its plain share of the platform's listeners, ln((y + 0.5) / (share x total
  + 0.5)), centred on the entity's own mean and smoothed over `SMOOTH_DAYS` days (a day's noise at 10 listeners is
  +-40% at r = 10; a genre's rise lasts weeks). Only entities with at least `MIN_MEAN` listeners a day over the
  window, and listened to on its first day (a release's zeros before its launch are no movement), take part: below
  that the trajectory is mostly noise.
- **Clusters.** k-means (k-means++ seeding, then Lloyd's iterations, the best of `RESTARTS` by inertia; k =
  `CLUSTERS`, fewer when there are fewer than `MIN_PER_CLUSTER` entities a cluster, none below two clusters; a fixed
  seed, so a day is scored the same on every run) over the trajectories. It is a few lines of NumPy here rather
  than scikit-learn's, whose import alone (2.5 s) would cost the daily job more than the clustering.
  A genre's members share a shape (a ramp, a weekly wave) and fall together; an entity breaking out alone has no
  such company, so its cluster's median movement (which `score_day` uses) does not follow it.
- **Smaller entities** (`ASSIGN_MIN_MEAN` to `MIN_MEAN` listeners a day) are too noisy to shape the clusters, yet a
  seasonal genre's small tracks were most of the false alarms left without genres (benchmarks/trend_detection.py,
  world b). Each joins the nearest centre of the members' unsmoothed log ratios when its own log ratios are at
  least e^`ASSIGN_LLR` times likelier around that centre than flat (Gaussian, a day's variance 1 / its mean plus the
  members' dispersion around their centres): it then takes the cluster's factor, but `score_day` keeps the stricter
  window rule of an ungrouped entity for it (`member` is false). The two values are the first tried, not tuned.
- **Use.** `score_day` expects each cluster's day movement for its members as it does a known group's; a known
  group (a genre) leans on its members' cluster, a small one (a genre of a few tracks) mostly on the cluster. Measured
  on benchmarks/trend_detection.py without genres (the README, Trends; seeds 0-2, worst seed): false alarms halved
  or better on world b at every dispersion and down on world a to r = 25, with about as many breakouts found; at
  r = 10 on world a, 13% of flags false against 11% without the clusters.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from spotify_ai_assets.core.kernel.query import Relation, sql_to_arrow

if TYPE_CHECKING:
    import pyarrow as pa

CLUSTERS = 10
MIN_PER_CLUSTER = 50
MIN_MEAN = 10.0
# Smaller entities join the nearest cluster on evidence (assign_small); the values are the first tried, not tuned.
ASSIGN_MIN_MEAN = 3.0
ASSIGN_LLR = 3.0
ASSIGN_FIRST_DAYS = 3  # a small entity's first day in the window is often a quiet one, not its release
SMOOTH_DAYS = 3
MIN_DAYS = 14  # fewer days in the window (the first weeks of the data) learn nothing
SEED = 0
RESTARTS = 4
MAX_ITERATIONS = 100
CLUSTER_PREFIX = "learned:"

# The window score_day reads ($2 days before the scored day $1, and the day), one row per (entity, day listened).
_WINDOW_SQL = """
SELECT entity_id, ($1::DATE - date)::INTEGER AS lag, sum(plays)::DOUBLE AS plays FROM daily
WHERE date BETWEEN $1::DATE - $2::INTEGER AND $1::DATE AND entity_id IS NOT NULL GROUP BY ALL
"""


def clusters_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([("entity_id", pa.string()), ("cluster_id", pa.string()), ("member", pa.bool_())])


def _log_ratios(daily: Relation, day: dt.date, window_days: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Every entity of the window with its listeners and its centred log ratios to its plain share of the platform
    ([entity, window day], from the data's first day in the window); no rows when the window holds fewer than
    `MIN_DAYS` days with listeners."""
    import pyarrow.compute as pc

    rows = sql_to_arrow(_WINDOW_SQL, {"daily": daily}, [day, window_days])
    encoded = pc.dictionary_encode(rows["entity_id"]).combine_chunks()
    # Entities in id order, not in the order the rows came (a scan of several files has none): the k-means++ seeding
    # draws rows by position, so the same listeners must give the same rows for a day to score the same every run.
    ids = encoded.dictionary.to_pylist()
    order = np.argsort(np.array(ids, dtype=object))
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    ids = [ids[i] for i in order]
    y = np.zeros((len(ids), window_days + 1))
    lag = rows["lag"].to_numpy()
    y[rank[encoded.indices.to_numpy()], window_days - lag] = rows["plays"].to_numpy()  # oldest day first
    total = y.sum(axis=0)
    listened = total > 0
    if int(listened.sum()) < MIN_DAYS:
        return [], np.zeros((0, 0)), np.zeros((0, 0))
    first = int(np.argmax(listened))  # from the data's first day in the window
    y, total = y[:, first:], total[first:]
    share = y.sum(axis=1) / total.sum()
    lr = np.log((y + 0.5) / (share[:, None] * total[None, :] + 0.5))
    return ids, y, lr - lr.mean(axis=1, keepdims=True)


def _members(y: np.ndarray) -> np.ndarray:
    """The rows that take part in the k-means: at least `MIN_MEAN` listeners a day, listened to on the first day."""
    return np.flatnonzero((y.mean(axis=1) >= MIN_MEAN) & (y[:, 0] > 0))


def _smooth(lr: np.ndarray) -> np.ndarray:
    ends = np.cumsum(np.pad(lr, ((0, 0), (1, 0))), axis=1)
    return (ends[:, SMOOTH_DAYS:] - ends[:, :-SMOOTH_DAYS]) / SMOOTH_DAYS


def trajectories(daily: Relation, day: dt.date, window_days: int) -> tuple[list[str], np.ndarray]:
    """The entities that take part in the k-means (see the module) and their smoothed, centred log-ratio
    trajectories ([entity, window day]); no rows when the window holds fewer than `MIN_DAYS` days with listeners."""
    ids, y, lr = _log_ratios(daily, day, window_days)
    if not ids:
        return [], np.zeros((0, 0))
    take = _members(y)
    return [ids[i] for i in take], _smooth(lr[take])


def _cluster_means(x: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each cluster's mean row of `x` (zeros for an empty one) and its size."""
    counts = np.bincount(labels, minlength=k)
    # A weighted bincount per feature adds the rows in the same order as np.add.at (the same sums to the bit) but
    # about 30x faster: np.add.at was 40% of a day's clustering, called once per Lloyd iteration. x in Fortran order
    # (kmeans passes it so) makes each column a contiguous read.
    sums = np.zeros((k, x.shape[1]))
    for j, column in enumerate(x.T):
        sums[:, j] = np.bincount(labels, weights=column, minlength=k)
    return sums / np.maximum(counts, 1)[:, None], counts


def assign_small(y: np.ndarray, lr: np.ndarray, members: np.ndarray, labels: np.ndarray,
                 k: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows of smaller entities (`ASSIGN_MIN_MEAN` to `MIN_MEAN` listeners a day, listened to in the window's
    first `ASSIGN_FIRST_DAYS` days) that join a cluster, and the cluster each joins: the nearest centre of the members'
    unsmoothed log ratios, when the entity's log ratios are at least e^`ASSIGN_LLR` times likelier around that centre
    than flat (Gaussian, each day's variance 1 / mean + the members' dispersion around their centres)."""
    centres, counts = _cluster_means(lr[members], labels, k)  # a cluster k-means left empty joins nobody (below)
    resid = lr[members] - centres[labels]
    dispersion = max(float(np.median(resid.var(axis=1) - 1 / y[members].mean(axis=1))), 0.0)
    mean = y.mean(axis=1)
    small = np.flatnonzero((mean >= ASSIGN_MIN_MEAN) & (mean < MIN_MEAN)
                           & (y[:, :ASSIGN_FIRST_DAYS].sum(axis=1) > 0))
    if len(small) == 0:
        return small, small
    x = lr[small]
    gain = (x * x).sum(axis=1)[:, None] - ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    llr = np.where(counts[None, :] > 0, gain / (2 * (1 / mean[small] + dispersion))[:, None], -np.inf)
    best = llr.argmax(axis=1)
    joins = llr[np.arange(len(small)), best] >= ASSIGN_LLR
    return small[joins], best[joins]


def kmeans(x: np.ndarray, k: int, seed: int = SEED) -> np.ndarray:
    """The cluster (0..k-1) of each row of `x` ([n, features], n >= k): the best of `RESTARTS` k-means runs by
    inertia, each seeded by k-means++ (Arthur and Vassilvitskii 2007) and iterated until no centre moves."""
    rng = np.random.default_rng(seed)
    n = len(x)
    norms = (x * x).sum(axis=1)
    by_column = np.asfortranarray(x)  # for the cluster means; the distances keep x as it is (the same BLAS sums)
    best, best_inertia = np.zeros(n, dtype=np.int64), np.inf
    for _ in range(RESTARTS):
        centres = np.empty((k, x.shape[1]))
        centres[0] = x[rng.integers(n)]
        d2 = ((x - centres[0]) ** 2).sum(axis=1)
        for j in range(1, k):  # each next centre drawn with probability proportional to its squared distance
            total = d2.sum()
            centres[j] = x[rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)]
            d2 = np.minimum(d2, ((x - centres[j]) ** 2).sum(axis=1))
        for _ in range(MAX_ITERATIONS):
            dist = norms[:, None] - 2 * x @ centres.T + (centres * centres).sum(axis=1)[None, :]
            labels = dist.argmin(axis=1)
            means, counts = _cluster_means(by_column, labels, k)
            moved = np.where(counts[:, None] > 0, means, centres)  # an empty cluster's centre stays
            if np.allclose(moved, centres):
                break
            centres = moved
        inertia = float(dist[np.arange(n), labels].sum())
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return best


def learned_clusters(daily: Relation, day: dt.date, window_days: int) -> pa.Table:
    """entity_id -> cluster_id (`learned:<n>`) of the entities that move together in `daily`'s window ending on
    `day`, and whether each took part in the k-means (`member`) or, smaller, was assigned to its cluster (see the
    module); empty when too few entities or days take part."""
    import pyarrow as pa

    ids, y, lr = _log_ratios(daily, day, window_days)
    members = _members(y) if ids else np.zeros(0, dtype=np.int64)
    k = min(CLUSTERS, len(members) // MIN_PER_CLUSTER)
    if k < 2:
        return clusters_schema().empty_table()
    labels = kmeans(_smooth(lr[members]), k)
    small, joined = assign_small(y, lr, members, labels, k)
    rows, clusters = np.concatenate([members, small]), np.concatenate([labels, joined])
    return pa.table({"entity_id": pa.array([ids[i] for i in rows], pa.string()),
                     "cluster_id": pa.array([f"{CLUSTER_PREFIX}{c}" for c in clusters], pa.string()),
                     "member": pa.array(np.arange(len(rows)) < len(members), pa.bool_())})
