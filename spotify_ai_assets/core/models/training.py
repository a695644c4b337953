"""Training and evaluation runs over feature tables: what the Dagster assets and the quality script both call.

`features_at(cutoff)` supplies the feature tables of a cutoff (from the lake's feature partitions in Dagster,
computed on the fly in scripts); `events` is a relation over listening events covering the label days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from spotify_ai_assets.core.kernel.query import Relation
from spotify_ai_assets.core.models import features as F
from spotify_ai_assets.core.models import forecast, ranker, registry

if TYPE_CHECKING:
    import lightgbm as lgb

FeaturesAt = Callable[[dt.date], F.CutoffFeatures]


@dataclass(frozen=True)
class Trained:
    booster: lgb.Booster
    manifest: dict[str, Any]  # training range, params, rows: stored with the model


def train_ranker(features_at: FeaturesAt, events: Relation, train_cutoffs: list[dt.date],
                 features: tuple[str, ...] = F.RANKER_FEATURES, rounds: int = ranker.ROUNDS) -> Trained:
    parts = [ranker.with_labels(features_at(c).candidates, F.labels(events, c)) for c in train_cutoffs]
    rows = pa.concat_tables(parts) if parts else pa.table({})
    booster = ranker.train(rows, features, rounds)
    return Trained(booster, {
        "training_range": {"history_from": str(min(train_cutoffs) - dt.timedelta(days=F.HISTORY_DAYS)),
                           "cutoffs": [str(c) for c in train_cutoffs],
                           "labels_until": str(max(train_cutoffs) + dt.timedelta(days=F.HORIZON_DAYS - 1))},
        "rows": rows.num_rows, "params": ranker.PARAMS, "rounds": rounds, "features": list(features)})


def evaluate_ranker(boosters: dict[str, lgb.Booster], features_at: FeaturesAt, events: Relation,
                    eval_cutoff: dt.date, oracle: Callable[[list[str], pa.Table], pa.Table] | None = None,
                    ) -> dict[str, Any]:
    """Metrics of each named booster (the challenger, the champion) and of the baselines on the held-out days
    from `eval_cutoff` on. `oracle(users, played)` gives the sandbox's truth-based lists."""
    feats = features_at(eval_cutoff)
    played = F.played(events, eval_cutoff)
    labels = F.labels(events, eval_cutoff)
    out: dict[str, Any] = {"eval_cutoff": str(eval_cutoff),
                           "held_out": [str(eval_cutoff), str(eval_cutoff + dt.timedelta(days=F.HORIZON_DAYS - 1))]}
    for name, booster in boosters.items():
        result = ranker.evaluate(booster, feats.candidates, feats.tracks, played, labels,
                                 oracle(sorted(set(feats.candidates["user_key"].to_pylist())), played)
                                 if oracle and "oracle" not in out else None)
        out[name] = result["model"]
        out.setdefault("popularity", result["popularity"])
        if "oracle" in result:
            out["oracle"] = result["oracle"]
    return out


def train_forecaster(features_at: FeaturesAt, events: Relation, train_cutoffs: list[dt.date],
                     rounds: int = forecast.ROUNDS) -> Trained:
    parts = [forecast.with_targets(features_at(c).tracks, F.targets(events, c)) for c in train_cutoffs]
    rows = pa.concat_tables(parts) if parts else pa.table({})
    booster = forecast.train(rows, rounds=rounds) if rows.num_rows else forecast.train(rows)
    return Trained(booster, {
        "training_range": {"history_from": str(min(train_cutoffs) - dt.timedelta(days=F.HISTORY_DAYS)),
                           "cutoffs": [str(c) for c in train_cutoffs],
                           "labels_until": str(max(train_cutoffs) + dt.timedelta(days=F.HORIZON_DAYS - 1))},
        "rows": rows.num_rows, "params": forecast.PARAMS, "rounds": rounds, "features": list(forecast.FEATURES)})


def evaluate_forecaster(boosters: dict[str, lgb.Booster], features_at: FeaturesAt, events: Relation,
                        eval_cutoff: dt.date) -> dict[str, Any]:
    rows = forecast.with_targets(features_at(eval_cutoff).tracks, F.targets(events, eval_cutoff))
    out: dict[str, Any] = {"eval_cutoff": str(eval_cutoff),
                           "held_out": [str(eval_cutoff), str(eval_cutoff + dt.timedelta(days=F.HORIZON_DAYS - 1))]}
    for name, booster in boosters.items():
        result = forecast.evaluate(booster, rows)
        out[name] = result["model"]
        out.setdefault("naive", result["naive"])
    return out


@dataclass(frozen=True)
class ModelSpec:
    """What differs between the models the platform trains, gates and serves: the Dagster factory reads it, never
    the model's name."""

    kind: str  # names the assets (`<kind>_challenger`, ...) and the registry folder
    feature_tables: tuple[str, ...]  # the feature assets a cutoff's features come from
    features: tuple[str, ...]  # default feature columns
    params: dict[str, Any]
    rounds: int
    default_train_cutoffs: int
    cutoffs: Callable[[dt.date, int], tuple[list[dt.date], dt.date]]  # (as_of, n) -> (train cutoffs, eval cutoff)
    rows: Callable[[F.CutoffFeatures, Relation, dt.date], pa.Table]  # labelled training rows of one cutoff
    fit: Callable[[pa.Table, tuple[str, ...], int, dict[str, Any]], lgb.Booster]
    # (boosters, features_at, events, eval_cutoff, oracle) -> metrics of each booster and the baseline(s)
    evaluate: Callable[..., dict[str, Any]]
    uses_oracle: bool = False  # evaluated against the sandbox's truth-based lists when there is one

    @property
    def primary_metric(self) -> str:
        """The metric the gate compares (the registry's rule for this kind)."""
        return registry.PRIMARY[self.kind][0]

    @property
    def baseline(self) -> str:
        return registry.BASELINE[self.kind]

    def training_rows(self, features_at: FeaturesAt, events: Relation, cutoffs: list[dt.date]) -> pa.Table:
        return pa.concat_tables([self.rows(features_at(c), events, c) for c in cutoffs])


RANKER = ModelSpec(
    kind="ranker", feature_tables=("track_features", "user_features", "user_track_features"),
    features=F.RANKER_FEATURES, params=ranker.PARAMS, rounds=ranker.ROUNDS, default_train_cutoffs=2,
    cutoffs=ranker.default_cutoffs,
    rows=lambda feats, events, c: ranker.with_labels(feats.candidates, F.labels(events, c)),
    fit=ranker.train, evaluate=evaluate_ranker, uses_oracle=True,
)
FORECASTER = ModelSpec(
    kind="forecaster", feature_tables=("track_features",), features=forecast.FEATURES, params=forecast.PARAMS,
    rounds=forecast.ROUNDS, default_train_cutoffs=forecast.TRAIN_CUTOFFS,
    cutoffs=forecast.default_cutoffs,
    rows=lambda feats, events, c: forecast.with_targets(feats.tracks, F.targets(events, c)),
    fit=forecast.train,
    evaluate=lambda boosters, features_at, events, eval_cutoff, oracle: evaluate_forecaster(
        boosters, features_at, events, eval_cutoff),
)
MODELS = (RANKER, FORECASTER)
