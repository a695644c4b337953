"""The stream forecaster: LightGBM regression of each track's plays over the `HORIZON_DAYS` after a cutoff.

Rows are the tracks played in the history window of a cutoff (a track with no play in 28 days has no evidence and
is not forecast). Training cutoffs are the days whose whole target week ends on or before the evaluation cutoff; the
naive forecast to beat is "same as last week" (`plays_7d`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from spotify_ai_assets.core.kernel.query import sql_to_arrow
from spotify_ai_assets.core.models.features import HORIZON_DAYS
from spotify_ai_assets.core.models.metrics import forecast_metrics
from spotify_ai_assets.core.models.ranker import THREADS, TrainingDataError

if TYPE_CHECKING:
    import lightgbm as lgb

# Scale-free inputs: the model learns next week's plays as a multiple of this week's (plus one), so what it learns
# from a track with 20 plays applies to one with 2000; the multiple is fitted with weight = base, which makes the
# Huber loss on the multiple a loss on plays. Level (log plays) and age are inputs too (launch bumps fade).
FEATURES = ("ratio_1d", "ratio_3d", "ratio_prev_7d", "ratio_w3", "ratio_w4", "artist_ratio_1d", "artist_ratio_3d",
            "artist_trend_7d", "days_since_first_play", "log_plays_7d", "skip_rate", "listeners_per_play")
PARAMS: dict[str, object] = {
    "objective": "huber", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 20, "seed": 7,
    "deterministic": True, "force_row_wise": True, "num_threads": THREADS, "verbosity": -1,
}
ROUNDS = 200
MIN_TRAIN_ROWS = 50
TRAIN_CUTOFFS = 7


def with_targets(tracks: pa.Table, targets: pa.Table) -> pa.Table:
    """Track feature rows with `plays_next_7d` (0 for a track not played in the horizon)."""
    return sql_to_arrow("SELECT t.*, coalesce(y.plays_next_7d, 0)::BIGINT AS plays_next_7d FROM t "
                        "LEFT JOIN y USING (track_id) ORDER BY t.cutoff, t.track_id", {"t": tracks, "y": targets})


def base(rows: pa.Table) -> np.ndarray:
    return rows["plays_7d"].to_numpy().astype(np.float64) + 1.0


def derived(rows: pa.Table) -> dict[str, np.ndarray]:
    """The model's inputs, computed from a track feature table."""
    def g(c: str) -> np.ndarray:
        return rows[c].to_numpy(zero_copy_only=False).astype(np.float64)

    b, a7 = base(rows), g("artist_plays_7d") + 1.0
    return {"ratio_1d": g("plays_1d") * 7 / b, "ratio_3d": g("plays_3d") * 7 / 3 / b,
            "ratio_prev_7d": g("plays_prev_7d") / b, "ratio_w3": g("plays_w3") / b, "ratio_w4": g("plays_w4") / b,
            "artist_ratio_1d": g("artist_plays_1d") * 7 / a7, "artist_ratio_3d": g("artist_plays_3d") * 7 / 3 / a7,
            "artist_trend_7d": g("artist_trend_7d"), "days_since_first_play": g("days_since_first_play"),
            "log_plays_7d": np.log(b), "skip_rate": g("skip_rate"), "listeners_per_play": g("listeners_7d") / b}


def matrix(rows: pa.Table, features: tuple[str, ...] = FEATURES) -> np.ndarray:
    d = derived(rows)
    unknown = [f for f in features if f not in d]
    if unknown:
        raise TrainingDataError(f"unknown forecast feature(s) {unknown}; known: {sorted(d)}")
    return np.column_stack([d[f] for f in features]).astype(np.float32)


def train(rows: pa.Table, features: tuple[str, ...] = FEATURES, rounds: int = ROUNDS,
          params: dict[str, object] | None = None) -> lgb.Booster:
    if rows.num_rows < MIN_TRAIN_ROWS:
        raise TrainingDataError(f"empty or tiny training window: {rows.num_rows} track rows (need {MIN_TRAIN_ROWS})")
    import lightgbm as lgb

    y = rows["plays_next_7d"].to_numpy().astype(np.float64)
    if not y.any():
        raise TrainingDataError("no track was played in any training target week: nothing to learn")
    b = base(rows)
    data = lgb.Dataset(matrix(rows, features), label=y / b, weight=b, feature_name=list(features),
                       params={"verbosity": -1})
    return lgb.train({**PARAMS, **(params or {})}, data, num_boost_round=rounds)


def predict(booster: lgb.Booster, rows: pa.Table) -> np.ndarray:
    """Plays over the next week per row (the model's multiple times this week's plays + 1)."""
    return booster.predict(matrix(rows, tuple(booster.feature_name())), num_threads=THREADS) * base(rows)


def evaluate(booster: lgb.Booster, rows: pa.Table) -> dict[str, dict[str, float]]:
    """MAE, RMSE and MAPE of the model and of the naive forecast on the evaluation cutoff's rows."""
    actual = rows["plays_next_7d"].to_numpy().astype(float)
    return {"model": forecast_metrics(predict(booster, rows), actual),
            "naive": forecast_metrics(rows["plays_7d"].to_numpy().astype(float), actual)}


def default_cutoffs(as_of: dt.date, n: int = TRAIN_CUTOFFS) -> tuple[list[dt.date], dt.date]:
    """Training cutoffs (each target week ends on or before the evaluation cutoff) and the evaluation cutoff."""
    eval_cutoff = as_of - dt.timedelta(days=HORIZON_DAYS)
    last = eval_cutoff - dt.timedelta(days=HORIZON_DAYS)
    return [last - dt.timedelta(days=k) for k in range(n - 1, -1, -1)], eval_cutoff
