"""Per model kind (ranker, forecaster): `<kind>_challenger` trains and stores a model in the registry;
`<kind>_evaluation` takes that model as its input (lineage, never "the latest file") and scores it, the current
champion and the baselines on the same held-out days, with the BLOCKING `<kind>_gate` check; `<kind>_champion`
promotes it only when the gate passed. A failed gate stops the run before the champion: the champion, and the
recommendations served from it, stay as they were."""


import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

import dagster as dg
from pydantic import Field

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.models import explain, forecast, ranker, registry, training
from spotify_ai_assets.core.models import features as F
from spotify_ai_assets.defs.models.features import (
    CANDIDATES,
    EVENTS,
    GROUP,
    OWNERS,
    TRACKS,
    USERS,
    events_scan,
    partition_of,
)
from spotify_ai_assets.lib.executors import queue_op_tags
from spotify_ai_assets.lib.resources.ground_truth import GroundTruthResource
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.maintenance import ComplianceResource

AutomationCondition = dg.AutomationCondition
POOL = "lightgbm"
# Bump when the training code changes: the challenger's code version, which retrains it through automation.
CODE_VERSION = {"ranker": "ranker-v1", "forecaster": "forecaster-v1"}


class TrainConfig(dg.Config):
    """Which data a challenger trains on. Empty `as_of`: the day after the last listening_events partition."""

    as_of: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$",
                              description="YYYY-MM-DD; evaluation on the 7 days before it")
    train_cutoffs: int = Field(default=0, ge=0, le=28, description="0: the model's default (ranker 2, forecaster 7)")
    rounds: int = Field(default=0, ge=0, le=2000, description="boosting rounds; 0: the model's default")
    features: list[str] | None = Field(default=None, description="a subset of features (ablation); None: all")
    threads: int = Field(default=1, ge=1, le=64, description="LightGBM threads (the model records it)")


class GateConfig(dg.Config):
    tolerance: float = Field(default=registry.GATE_TOLERANCE, ge=0.0, le=0.5,
                             description="how much worse than the champion a challenger may be (relative)")


@dataclass(frozen=True)
class Evaluated:
    ref: registry.ModelRef
    metrics: dict[str, Any]
    passed: bool
    reasons: list[str]


def as_of_day(store: Lake, config: TrainConfig) -> dt.date:
    if config.as_of:
        return dt.date.fromisoformat(config.as_of)
    days = store.partitions(EVENTS)
    if not days:
        raise dg.Failure(f"{EVENTS} has no partition: nothing to train on")
    return dt.date.fromisoformat(days[-1]) + dt.timedelta(days=1)


def cutoffs(spec: training.ModelSpec, as_of: dt.date, n: int) -> tuple[list[dt.date], dt.date]:
    return spec.cutoffs(as_of, n or spec.default_train_cutoffs)


def lake_features(store: Lake, spec: training.ModelSpec) -> training.FeaturesAt:
    """Feature tables of a cutoff, read from the feature assets' partitions (a missing one is an error that says
    which partitions to materialize)."""
    tables = spec.feature_tables

    @cache
    def at(cutoff: dt.date) -> F.CutoffFeatures:
        key = partition_of(cutoff)
        missing = [t for t in tables if not store.exists(t, key)]
        if missing:
            raise dg.Failure(f"feature partition {key} (cutoff {cutoff}) missing in {missing}: materialize it first "
                             "(backfill the models group for that day)")
        read = {t: store.read(t, key) for t in tables}
        empty = read[TRACKS].schema.empty_table()
        return F.CutoffFeatures(cutoff, read[TRACKS], read.get(USERS, empty), read.get(CANDIDATES, empty))

    return at


def _events_for(store: Lake, train: list[dt.date], evaluate: dt.date) -> Any:
    first = min(train) - dt.timedelta(days=F.HISTORY_DAYS)
    days = [first + dt.timedelta(days=k) for k in range((evaluate - first).days + F.HORIZON_DAYS)]
    return events_scan(store, days)


def _metrics_markdown(metrics: dict[str, Any], names: list[str]) -> str:
    rows = [n for n in names if n in metrics]
    cols = [c for c in next(iter(metrics[r] for r in rows)) if c not in ("users", "tracks")]
    lines = ["| model | " + " | ".join(cols) + " |", "| --- |" + " ---: |" * len(cols)]
    lines += [f"| {r} | " + " | ".join(f"{metrics[r][c]:.4f}" for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _importance_md(booster: Any, kind: str) -> str:
    gains = explain.importance(booster)
    chart = explain.data_uri(explain.importance_chart(gains, f"{kind}: feature importance (gain)"))
    return explain.importance_markdown(gains) + f"\n\n![importance]({chart})"


def model_assets(spec: training.ModelSpec) -> list[dg.AssetsDefinition]:
    kind = spec.kind
    challenger_name, evaluation_name, champion_name = f"{kind}_challenger", f"{kind}_evaluation", f"{kind}_champion"
    gate_name = f"{kind}_gate"
    feature_deps = list(spec.feature_tables)
    metric, baseline = spec.primary_metric, spec.baseline

    @dg.asset(
        name=challenger_name, group_name=GROUP, owners=OWNERS, kinds={"lightgbm"}, pool=POOL,
        op_tags=queue_op_tags(POOL),
        deps=[*feature_deps, EVENTS], code_version=CODE_VERSION[kind],
        # Retrain when the training code changes, or when a feature partition outside the latest days is
        # rematerialized (a backfill rewrote history); the weekly schedule covers the regular retrain.
        automation_condition=(
            (AutomationCondition.code_version_changed()
             | AutomationCondition.any_deps_match(
                 AutomationCondition.newly_updated()
                 & ~AutomationCondition.in_latest_time_window(dt.timedelta(days=2)))
             .allow(dg.AssetSelection.assets(*feature_deps)).with_label("feature_backfill"))
            & ~AutomationCondition.in_progress()
        ),
        description=f"Trains a {kind} challenger (LightGBM) on the feature partitions before the evaluation days and "
                    "stores it in the lake's model registry under its SHA-256 (its data version) with a manifest.",
    )
    def challenger(context: dg.AssetExecutionContext, config: TrainConfig, lake: LakeResource) -> dg.Output:
        store = lake.lake()
        as_of = as_of_day(store, config)
        train_cutoffs, eval_cutoff = cutoffs(spec, as_of, config.train_cutoffs)
        events = _events_for(store, train_cutoffs, eval_cutoff)
        feats = lake_features(store, spec)
        params = {"num_threads": config.threads}
        chosen, rounds = tuple(config.features or spec.features), config.rounds or spec.rounds
        try:
            rows = spec.training_rows(feats, events, train_cutoffs)
            booster = spec.fit(rows, chosen, rounds, params)
        except (ranker.TrainingDataError, forecast.TrainingDataError) as exc:
            raise dg.Failure(f"{challenger_name}: {exc}") from exc
        ref = registry.save(
            store, kind, booster, code_version=CODE_VERSION[kind], params={**spec.params, **params}, rounds=rounds,
            rows=rows.num_rows, as_of=str(as_of), eval_cutoff=str(eval_cutoff),
            training_range={"history_from": str(min(train_cutoffs) - dt.timedelta(days=F.HISTORY_DAYS)),
                            "cutoffs": [str(c) for c in train_cutoffs],
                            "labels_until": str(max(train_cutoffs) + dt.timedelta(days=F.HORIZON_DAYS - 1))},
        )
        return dg.Output(ref, data_version=dg.DataVersion(ref.sha256), metadata={
            "sha256": ref.sha256, "model_uri": dg.MetadataValue.url(ref.uri), "rows": rows.num_rows,
            "training_range": dg.MetadataValue.json(ref.manifest["training_range"]),
            "params": dg.MetadataValue.json(ref.manifest["params"]),
            "library_versions": dg.MetadataValue.json(ref.manifest["library_versions"]),
            "importance": dg.MetadataValue.md(_importance_md(booster, kind)),
        })

    @dg.asset(
        name=evaluation_name, group_name=GROUP, owners=OWNERS, kinds={"lightgbm"},
        ins={"model": dg.AssetIn(challenger_name)}, code_version=f"{kind}-evaluation-v1",
        check_specs=[dg.AssetCheckSpec(gate_name, asset=evaluation_name, blocking=True, description=(
            f"Champion gate: the challenger's {metric} beats the {baseline} baseline and is no worse than the current "
            f"champion's beyond the tolerance, all on the same held-out days. Blocks promotion."))],
        automation_condition=AutomationCondition.eager(),
        description=f"Held-out metrics of the {kind} challenger given as input, of the current champion and of the "
                    f"{baseline} baseline" + (" and the sandbox oracle" if spec.uses_oracle else "") + ".",
    )
    def evaluation(context: dg.AssetExecutionContext, config: GateConfig, model: registry.ModelRef,
                   lake: LakeResource, ground_truth: GroundTruthResource, compliance: ComplianceResource):
        store = lake.lake()
        eval_cutoff = dt.date.fromisoformat(model.manifest["eval_cutoff"])
        train_cutoffs = [dt.date.fromisoformat(c) for c in model.manifest["training_range"]["cutoffs"]]
        events = _events_for(store, train_cutoffs, eval_cutoff)
        boosters = {"challenger": registry.load(store, kind, model.sha256)}
        current = registry.champion(store, kind)
        note = "no champion yet"
        if current is not None:
            champ = registry.load(store, kind, current["sha256"])
            if champ.feature_name() and set(champ.feature_name()) <= set(spec.features):
                boosters["champion"] = champ
                note = f"champion {current['sha256'][:12]} re-scored on the same days"
            else:
                note = (f"champion {current['sha256'][:12]} uses features no longer computed: compared with the "
                        "baseline only")
        feats = lake_features(store, spec)
        oracle = ground_truth.ranker_oracle(compliance.salt, eval_cutoff) if spec.uses_oracle else None
        try:
            metrics = spec.evaluate(boosters, feats, events, eval_cutoff, oracle)
        except ranker.TrainingDataError as exc:
            raise dg.Failure(f"{evaluation_name}: {exc}") from exc
        decision = registry.gate(kind, metrics["challenger"][metric], metrics[baseline][metric],
                                 metrics["champion"][metric] if "champion" in metrics else None, config.tolerance)
        ref = registry.with_manifest(store, model, metrics=metrics, gate={"passed": decision.passed,
                                                                          "reasons": decision.reasons})
        names = ["challenger", "champion", baseline, "oracle"]
        yield dg.Output(Evaluated(ref, metrics, decision.passed, decision.reasons),
                        data_version=dg.DataVersion(ref.sha256), metadata={
                            "sha256": ref.sha256, "held_out": dg.MetadataValue.json(metrics["held_out"]),
                            "metrics": dg.MetadataValue.md(_metrics_markdown(metrics, names)),
                            "metrics_json": dg.MetadataValue.json(metrics), "champion": note,
                            metric: metrics["challenger"][metric], f"{baseline}_{metric}": metrics[baseline][metric]})
        yield dg.AssetCheckResult(check_name=gate_name, passed=decision.passed,
                                  description="; ".join(decision.reasons),
                                  metadata={k: v for k, v in decision.metadata.items() if v is not None})

    @dg.asset(
        name=champion_name, group_name=GROUP, owners=OWNERS, kinds={"lightgbm"},
        ins={"evaluated": dg.AssetIn(evaluation_name)}, code_version=f"{kind}-champion-v1",
        automation_condition=AutomationCondition.eager() & AutomationCondition.all_deps_blocking_checks_passed(),
        description=f"The {kind} served to users: the evaluated challenger, promoted only when {gate_name} passed.",
    )
    def champion(context: dg.AssetExecutionContext, evaluated: Evaluated, lake: LakeResource) -> dg.Output:
        if not evaluated.passed:
            # The blocking check already stops a run that evaluates; this covers a champion materialized alone.
            raise dg.Failure(f"{evaluated.ref.sha256[:12]} did not pass {gate_name}: " + "; ".join(evaluated.reasons))
        store = lake.lake()
        pointer = registry.promote(store, evaluated.ref)
        booster = registry.load(store, kind, evaluated.ref.sha256)
        return dg.Output(evaluated.ref, data_version=dg.DataVersion(evaluated.ref.sha256), metadata={
            "sha256": evaluated.ref.sha256, "champion_uri": dg.MetadataValue.url(pointer),
            metric: evaluated.metrics["challenger"][metric], "gate": "; ".join(evaluated.reasons),
            "importance": dg.MetadataValue.md(_importance_md(booster, kind)),
        })

    return [challenger, evaluation, champion]


ranker_challenger, ranker_evaluation, ranker_champion = model_assets(training.RANKER)
forecaster_challenger, forecaster_evaluation, forecaster_champion = model_assets(training.FORECASTER)
