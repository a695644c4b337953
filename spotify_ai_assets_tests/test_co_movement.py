"""Groups learned from entities' daily listeners (core/analytics/co_movement.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from spotify_ai_assets.core.analytics import co_movement

EPOCH = dt.date(2026, 1, 1)
DAYS = 40


def _world(n: int = 300, days: int = DAYS, r: float = 10.0, seed: int = 3) -> tuple[pa.Table, np.ndarray]:
    """Daily listeners of `n` entities (20 to 400 a day, negative-binomial noise at `r`) in three sets: flat, a set
    rising 2x over the last three weeks, and a set with a weekly wave of its own; the table and each entity's set."""
    rng = np.random.default_rng(seed)
    kind = np.arange(n) % 3
    t = np.arange(days)
    mu = np.geomspace(20, 400, n)[:, None] * np.ones(days)[None, :]
    mu[kind == 1] *= (1 + np.clip((t - (days - 21)) / 21, 0, 1))[None, :]
    mu[kind == 2] *= (1 + 0.35 * np.sin(2 * np.pi * t / 7))[None, :]
    counts = rng.poisson(mu * rng.gamma(r, 1 / r, mu.shape))
    e, d = np.nonzero(counts)
    dates = pa.array([EPOCH + dt.timedelta(days=int(k)) for k in range(days)], pa.date32())
    table = pa.table({"date": dates.take(pa.array(d)), "entity_id": pa.array([f"e{i:03d}" for i in e]),
                      "plays": pa.array(counts[e, d], pa.int64())})
    return table, kind


def _purity(clusters: pa.Table, kind: np.ndarray) -> float:
    """The share of entities whose cluster's majority set is their own set."""
    label = clusters["cluster_id"].to_pylist()
    own = np.array([kind[int(e[1:])] for e in clusters["entity_id"].to_pylist()])
    hits = 0
    for c in set(label):
        members = own[[x == c for x in label]]
        hits += np.bincount(members).max()
    return hits / len(label)


def test_entities_that_move_together_share_clusters() -> None:
    daily, kind = _world()
    day = EPOCH + dt.timedelta(days=DAYS - 1)
    clusters = co_movement.learned_clusters(daily, day, 28)
    assert clusters.num_rows == 300  # every entity has >= MIN_MEAN listeners a day
    assert len(set(clusters["cluster_id"].to_pylist())) == 300 // co_movement.MIN_PER_CLUSTER
    assert all(c.startswith(co_movement.CLUSTER_PREFIX) for c in clusters["cluster_id"].to_pylist())
    assert _purity(clusters, kind) >= 0.9
    # The same data gives the same clusters (a fixed seed), whatever the order of its rows (a scan of several files
    # has none): a day is scored the same on every run.
    assert co_movement.learned_clusters(daily, day, 28).equals(clusters)
    shuffled = daily.take(np.random.default_rng(0).permutation(daily.num_rows))
    assert co_movement.learned_clusters(shuffled, day, 28).equals(clusters)


def test_noise_alone_learns_clusters_that_do_not_follow_one_entity() -> None:
    # A world without co-movement still gets clusters, but a cluster's median is many entities': one entity's own
    # rise does not move it (trends.py uses the median movement of a cluster's members).
    daily, _ = _world(r=10.0)
    day = EPOCH + dt.timedelta(days=DAYS - 1)
    sizes = np.unique(co_movement.learned_clusters(daily, day, 28)["cluster_id"].to_numpy(zero_copy_only=False),
                      return_counts=True)[1]
    assert sizes.min() >= 10


@pytest.mark.parametrize(("n", "days", "why"), [(60, DAYS, "too few entities for two clusters"),
                                                (300, 10, "too few days in the window")])
def test_too_little_data_learns_nothing(n: int, days: int, why: str) -> None:
    daily, _ = _world(n=n, days=days)
    clusters = co_movement.learned_clusters(daily, EPOCH + dt.timedelta(days=days - 1), 28)
    assert clusters.num_rows == 0, why
    assert clusters.schema == co_movement.clusters_schema()


def test_small_and_new_entities_take_no_part() -> None:
    daily, _ = _world()
    rows = daily.to_pylist()
    day = EPOCH + dt.timedelta(days=DAYS - 1)
    # A quiet entity (2 a day) and a release first listened to a week ago (500 a day since).
    rows += [{"date": EPOCH + dt.timedelta(days=k), "entity_id": "quiet", "plays": 2} for k in range(DAYS)]
    rows += [{"date": EPOCH + dt.timedelta(days=k), "entity_id": "release", "plays": 500}
             for k in range(DAYS - 7, DAYS)]
    ids = co_movement.learned_clusters(pa.Table.from_pylist(rows, schema=daily.schema), day, 28)["entity_id"]
    assert "quiet" not in ids.to_pylist() and "release" not in ids.to_pylist()
    assert len(ids) == 300


def test_kmeans_matches_scikit_learn() -> None:
    # scikit-learn (installed with librosa) as the reference: the same partition of well-separated blobs, and on the
    # trajectories of a noisy world an inertia within 2% of its best of 4 restarts.
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(1)
    centres = rng.normal(0, 5, (6, 12))
    truth = rng.integers(0, 6, 600)
    blobs = centres[truth] + rng.normal(0, 1, (600, 12))
    assert adjusted_rand_score(truth, co_movement.kmeans(blobs, 6)) == 1.0

    daily, _ = _world()
    _, x = co_movement.trajectories(daily, EPOCH + dt.timedelta(days=DAYS - 1), 28)

    def inertia(labels: np.ndarray) -> float:
        return sum(((x[labels == c] - x[labels == c].mean(axis=0)) ** 2).sum() for c in np.unique(labels))

    ours = inertia(co_movement.kmeans(x, 6))
    reference = inertia(KMeans(n_clusters=6, n_init=4, random_state=0).fit_predict(x))
    assert ours <= 1.02 * reference, (ours, reference)


def test_cluster_means_add_the_rows_as_numpy_add_at_does() -> None:
    # The means are summed with weighted bincounts for speed; they must be np.add.at's sums to the bit, in either
    # memory order, or a day's clusters (so its scores) would change with the implementation.
    rng = np.random.default_rng(7)
    for n, d, k in ((1, 1, 1), (50, 0, 3), (997, 27, 10), (4000, 30, 7)):
        x = rng.normal(size=(n, d)) * 10.0 ** rng.uniform(-3, 3, size=(n, 1))
        labels = rng.integers(0, k, n)
        sums = np.zeros((k, d))
        np.add.at(sums, labels, x)
        expected = sums / np.maximum(np.bincount(labels, minlength=k), 1)[:, None]
        for layout in (x, np.asfortranarray(x)):
            means, counts = co_movement._cluster_means(layout, labels, k)
            assert np.array_equal(means, expected) and np.array_equal(counts, np.bincount(labels, minlength=k))


def test_smaller_entities_join_the_cluster_they_move_with_on_evidence() -> None:
    daily, kind = _world()
    day = EPOCH + dt.timedelta(days=DAYS - 1)
    rng = np.random.default_rng(8)
    t = np.arange(DAYS)
    # 60 small entities (5 listeners a day) rising 2x over the last three weeks with the `kind == 1` set, and 60 flat.
    rise = 1 + np.clip((t - (DAYS - 21)) / 21, 0, 1)
    mu = np.vstack([np.outer(np.full(60, 5.0), rise), np.full((60, DAYS), 5.0)])
    counts = rng.poisson(mu * rng.gamma(10.0, 1 / 10.0, mu.shape))
    rows = daily.to_pylist() + [
        {"date": EPOCH + dt.timedelta(days=int(d)), "entity_id": f"{'up' if i < 60 else 'flat'}{i % 60:02d}",
         "plays": int(counts[i, d])} for i, d in zip(*np.nonzero(counts), strict=True)]
    clusters = co_movement.learned_clusters(pa.Table.from_pylist(rows, schema=daily.schema), day, 28).to_pylist()
    members = [c for c in clusters if c["member"]]
    assert len(members) == 300 and {c["entity_id"][0] for c in members} == {"e"}  # the k-means is the large ones'
    # Each cluster's set: the majority of its members.
    sets: dict[str, list[int]] = {}
    for c in members:
        sets.setdefault(c["cluster_id"], []).append(int(kind[int(c["entity_id"][1:])]))
    rising = {c for c, k in sets.items() if np.bincount(k).argmax() == 1}
    joined = {c["entity_id"]: c["cluster_id"] for c in clusters if not c["member"]}
    up = [e for e in joined if e.startswith("up")]
    flat_in_rising = [e for e in joined if e.startswith("flat") and joined[e] in rising]
    # At 5 listeners a day a day's noise is +-55%: a quarter of the small risers carry the evidence (15 of 60 here),
    # and each joins a rising cluster; a flat small entity seldom does (1 here), most stay out or join a flat one.
    assert len(up) >= 10 and all(joined[e] in rising for e in up), joined
    assert len(flat_in_rising) <= 3, flat_in_rising


def test_a_cluster_left_empty_by_the_k_means_does_not_stop_others_from_being_joined() -> None:
    rng = np.random.default_rng(4)
    shape = np.sin(np.arange(28) / 4)  # the members' movement, and a small entity's
    lr = np.vstack([shape + rng.normal(0, 0.05, (60, 28)), -shape + rng.normal(0, 0.05, (60, 28)),
                    shape + rng.normal(0, 0.3, (5, 28))])
    y = np.vstack([np.full((120, 28), 50.0), np.full((5, 28), 5.0)])
    members, labels = np.arange(120), np.repeat([0, 1], 60)
    # k = 3 with no member in cluster 2 (k-means can leave a cluster empty): its centre is no centre at all.
    rows, joined = co_movement.assign_small(y, lr, members, labels, 3)
    assert rows.tolist() == [120, 121, 122, 123, 124] and joined.tolist() == [0] * 5
