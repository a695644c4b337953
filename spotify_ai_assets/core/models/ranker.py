"""The recommendations ranker: LightGBM lambdarank (the model `LGBMRanker` wraps) over candidate rows.

Time split: training rows are the candidates of cutoffs before the evaluation cutoff, labelled by what each user
played in the `HORIZON_DAYS` after their cutoff (which ends on or before the evaluation cutoff); evaluation is on the
candidates of the evaluation cutoff against the plays of the held-out days after it.

Deterministic: fixed seed, `deterministic`, row-wise histograms and a fixed thread count give the same model bytes
for the same rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spotify_ai_assets.core.kernel.query import sql_to_arrow
from spotify_ai_assets.core.models.features import RANKER_FEATURES
from spotify_ai_assets.core.models.metrics import K, ranking_metrics

if TYPE_CHECKING:  # LightGBM is imported where a model is built, not when the definitions load
    import lightgbm as lgb

# One thread by default: on a shared 2-core machine (tests run two workers) two OpenMP threads per fit thrash;
# the benchmark and the training config raise it.
THREADS = 1
PARAMS: dict[str, object] = {
    "objective": "lambdarank", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 50,
    "lambdarank_truncation_level": 20, "feature_fraction": 1.0, "seed": 7, "deterministic": True,
    "force_row_wise": True, "num_threads": THREADS, "verbosity": -1,
}
ROUNDS = 100
MIN_TRAIN_GROUPS = 10  # users with at least one positive; fewer is no training set, whatever the row count


class TrainingDataError(ValueError):
    """The training window cannot train a model (empty, no positives, too few users): named in the message."""


@dataclass(frozen=True)
class Matrix:
    x: np.ndarray           # float32, rows x features, NaN = missing
    y: np.ndarray | None    # 0/1 relevance
    groups: np.ndarray      # rows per user, in row order
    users: np.ndarray       # user id per group


def with_labels(candidates: pa.Table, labels: pa.Table) -> pa.Table:
    """The candidate rows with `label` = 1 when the user played the track in the horizon after the cutoff."""
    return sql_to_arrow(
        "SELECT c.*, (l.user_key IS NOT NULL)::INT AS label FROM c "
        "LEFT JOIN (SELECT DISTINCT user_key, track_id FROM l) l USING (user_key, track_id) "
        "ORDER BY c.cutoff, c.user_key, c.track_id", {"c": candidates, "l": labels})


def matrix(rows: pa.Table, features: tuple[str, ...] = RANKER_FEATURES) -> Matrix:
    """Rows must be sorted by (cutoff, user): each (cutoff, user) is one query group."""
    missing = [f for f in features if f not in rows.column_names]
    if missing:
        raise TrainingDataError(f"candidate rows lack feature column(s) {missing}")
    x = np.empty((rows.num_rows, len(features)), dtype=np.float32)
    for j, f in enumerate(features):
        x[:, j] = rows[f].to_numpy(zero_copy_only=False).astype(np.float32)  # nulls become NaN
    key = rows["user_key"]
    if "cutoff" in rows.column_names:
        key = pc.binary_join_element_wise(rows["cutoff"].cast(pa.string()), rows["user_key"], "|")
    codes = key.to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.array([], dtype=np.int64)
    groups = np.diff(np.r_[starts, len(codes)])
    y = rows["label"].to_numpy().astype(np.float32) if "label" in rows.column_names else None
    return Matrix(x, y, groups, rows["user_key"].to_numpy(zero_copy_only=False)[starts])


def train(rows: pa.Table, features: tuple[str, ...] = RANKER_FEATURES, rounds: int = ROUNDS,
          params: dict[str, object] | None = None) -> lgb.Booster:
    """Train on labelled candidate rows. Groups without a positive teach lambdarank nothing and are dropped."""
    if rows.num_rows == 0:
        raise TrainingDataError("empty training window: no candidate rows")
    if "label" not in rows.column_names:
        raise TrainingDataError("training rows have no label column (see with_labels)")
    m = matrix(rows, features)
    assert m.y is not None
    ends = np.cumsum(m.groups)
    positives = np.add.reduceat(m.y, ends - m.groups) if len(m.groups) else np.array([])
    keep_groups = positives > 0
    if int(keep_groups.sum()) < MIN_TRAIN_GROUPS:
        raise TrainingDataError(f"only {int(keep_groups.sum())} users played any candidate in the label window "
                                f"(need {MIN_TRAIN_GROUPS}): too little data to train a ranker")
    keep_rows = np.repeat(keep_groups, m.groups)
    return fit(m.x[keep_rows], m.y[keep_rows], m.groups[keep_groups], features, rounds, params)


def fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray, features: tuple[str, ...], rounds: int = ROUNDS,
        params: dict[str, object] | None = None) -> lgb.Booster:
    """The training path: a float32 matrix straight into a LightGBM Dataset (no pandas, no copies)."""
    import lightgbm as lgb

    p = {**PARAMS, **(params or {})}
    data = lgb.Dataset(np.ascontiguousarray(x, dtype=np.float32), label=y, group=groups,
                       feature_name=list(features), params={"verbosity": -1}, free_raw_data=True)
    return lgb.train(p, data, num_boost_round=rounds)


def score(booster: lgb.Booster, rows: pa.Table) -> np.ndarray:
    m = matrix(rows, tuple(booster.feature_name()))
    return booster.predict(m.x, num_threads=THREADS)


def top_n(rows: pa.Table, scores: np.ndarray, n: int) -> pa.Table:
    """Per user, the `n` best rows by score (ties by track id): user_key, track_id, rank, score."""
    scored = pa.table({"user_key": rows["user_key"], "track_id": rows["track_id"], "score": pa.array(scores)})
    return sql_to_arrow(
        "SELECT user_key, track_id, rank::BIGINT AS rank, score FROM (SELECT *, row_number() OVER "
        "(PARTITION BY user_key ORDER BY score DESC, track_id) AS rank FROM s) WHERE rank <= $1 "
        "ORDER BY user_key, rank", {"s": scored}, [n])


def popularity(tracks: pa.Table, played: pa.Table, users: pa.Array | list[str], n: int) -> pa.Table:
    """The baseline: the most played tracks of the window that each user has not played, for every user given."""
    u = pa.table({"user_key": pa.array(users, pa.string())})
    # The top n + 2000 tracks are enough unless a user played more than 2000 of them (they then get fewer than n).
    return sql_to_arrow(
        "WITH top AS (SELECT track_id, plays_28d FROM t ORDER BY plays_28d DESC, track_id LIMIT $1) "
        "SELECT user_key, track_id, rank::BIGINT AS rank, plays_28d::DOUBLE AS score FROM ("
        "  SELECT u.user_key, top.track_id, top.plays_28d, row_number() OVER (PARTITION BY u.user_key "
        "  ORDER BY top.plays_28d DESC, top.track_id) AS rank FROM u CROSS JOIN top "
        "  ANTI JOIN p ON p.user_key = u.user_key AND p.track_id = top.track_id) WHERE rank <= $2 "
        "ORDER BY user_key, rank", {"t": tracks, "p": played, "u": u}, [n + 2000, n])


def relevant(labels: pa.Table, played: pa.Table, users: pa.Array | list[str]) -> pa.Table:
    """What counts as a hit on held-out days: tracks the user played then but not in the history window."""
    u = pa.table({"user_key": pa.array(users, pa.string())})
    return sql_to_arrow("SELECT l.user_key, l.track_id FROM l SEMI JOIN u ON u.user_key = l.user_key "
                        "ANTI JOIN p ON p.user_key = l.user_key AND p.track_id = l.track_id "
                        "ORDER BY l.user_key, l.track_id", {"l": labels, "p": played, "u": u})


def evaluate(booster: lgb.Booster, candidates: pa.Table, tracks: pa.Table, played: pa.Table, labels: pa.Table,
             oracle: pa.Table | None = None) -> dict[str, dict[str, float]]:
    """NDCG@10, recall@10 and MAP of the model, the popularity baseline and (when given) the oracle's lists, all on
    the same users: those with personal candidates and at least one new track played in the held-out days."""
    users = pc.unique(candidates["user_key"])
    rel = relevant(labels, played, users)
    if rel.num_rows == 0:
        raise TrainingDataError(f"no user with candidates played a new track in the held-out days after "
                                f"{candidates['cutoff'][0] if candidates.num_rows else '?'}: nothing to evaluate")
    out = {"model": ranking_metrics(top_n(candidates, score(booster, candidates), K), rel),
           "popularity": ranking_metrics(popularity(tracks, played, users, K), rel)}
    if oracle is not None:
        out["oracle"] = ranking_metrics(oracle, rel)
    return out


def default_cutoffs(as_of: dt.date, train_cutoffs: int = 2) -> tuple[list[dt.date], dt.date]:
    """Training cutoffs and the evaluation cutoff for data ending the day before `as_of`: evaluation on the last
    `HORIZON_DAYS` days, training on the weeks before, each labelled by the week after its cutoff."""
    from spotify_ai_assets.core.models.features import HORIZON_DAYS

    eval_cutoff = as_of - dt.timedelta(days=HORIZON_DAYS)
    return [eval_cutoff - dt.timedelta(days=HORIZON_DAYS * k) for k in range(train_cutoffs, 0, -1)], eval_cutoff
