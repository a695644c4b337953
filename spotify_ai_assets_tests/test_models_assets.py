"""The models group through Dagster on a tiny sandbox lake: feature partitions, challenger -> evaluation (blocking
gate) -> champion for both models, recommendations from the champion; a worse challenger is blocked and leaves the
champion and recommendations untouched."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.privacy import pseudonym
from spotify_ai_assets.core.models import features as F
from spotify_ai_assets.core.models import registry
from spotify_ai_assets.core.models.training import RANKER
from spotify_ai_assets.defs.models import features, pseudonymous_events, serving, training
from spotify_ai_assets.lib.environments import build_resources
from spotify_ai_assets.sandbox.world import EPOCH, World
from spotify_ai_assets.settings import Settings

from .sandbox_lake import day_events

LAST_DAY = EPOCH + dt.timedelta(days=20)  # events Jan 1..21: evaluation on Jan 15..21
ASSETS = [pseudonymous_events.pseudonymous_events,
          features.track_features, features.user_features, features.user_track_features, training.ranker_challenger,
          training.ranker_evaluation, training.ranker_champion, training.forecaster_challenger,
          training.forecaster_evaluation, training.forecaster_champion, serving.recommendations]
FEATURES = ["track_features", "user_features", "user_track_features"]
NEWCOMER = "usernewcomer01"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dg.DagsterInstance, dict, Lake]]:
    home = tmp_path_factory.mktemp("models")
    settings = Settings.from_environ({"SPOTIFY_AI_ENV": "local", "SPOTIFY_AI_HOME": str(home / "home"),
                                      "SPOTIFY_AI_SANDBOX_SCALE": "tiny"})
    resources = build_resources(settings)
    lake = Lake(settings.lake_root)
    world = World(seed=settings.sandbox_seed, scale="tiny")
    for k in range(21):
        day = EPOCH + dt.timedelta(days=k)
        events = day_events(world, day)
        if day == LAST_DAY:  # a newcomer with two plays: too little data for personal candidates
            newcomer = events.slice(0, 2).to_pylist()
            for n, row in enumerate(newcomer):
                row.update(event_id=f"newcomer-{n}", user_id=NEWCOMER)
            events = pa.concat_tables([events, pa.Table.from_pylist(newcomer, schema=events.schema)])
        lake.write("listening_events", events, day.isoformat())
    (home / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(home / "dagster")) as instance:
        for k in range(21):
            assert dg.materialize(ASSETS, selection=["pseudonymous_events"], instance=instance, resources=resources,
                                  partition_key=(EPOCH + dt.timedelta(days=k)).isoformat()).success
        for day, selection in (("2026-01-06", ["track_features"]), ("2026-01-07", FEATURES),
                               ("2026-01-14", FEATURES), ("2026-01-21", FEATURES)):
            result = dg.materialize(ASSETS, selection=selection, partition_key=day, instance=instance,
                                    resources=resources)
            assert result.success
        yield instance, resources, lake


def _train(instance: dg.DagsterInstance, resources: dict, kind: str, **config: object) -> dg.ExecuteInProcessResult:
    names = [f"{kind}_challenger", f"{kind}_evaluation", f"{kind}_champion"]
    cutoffs = 1 if kind == "ranker" else 2
    run_config = {"ops": {f"{kind}_challenger": {"config": {"train_cutoffs": cutoffs, "rounds": 30, **config}}}}
    return dg.materialize(ASSETS, selection=names, instance=instance, resources=resources, run_config=run_config,
                          raise_on_error=False)


def _gate(result: dg.ExecuteInProcessResult, kind: str) -> dg.AssetCheckEvaluation:
    evaluations = [e for e in result.get_asset_check_evaluations() if e.check_name == f"{kind}_gate"]
    assert len(evaluations) == 1
    return evaluations[0]


def test_feature_tables_report_their_table_metadata(env: tuple[dg.DagsterInstance, dict, Lake]) -> None:
    instance, _, lake = env
    for name in FEATURES:
        event = instance.get_latest_materialization_event(dg.AssetKey(name))
        assert event is not None
        meta = event.asset_materialization.metadata  # type: ignore[union-attr]
        assert meta["dagster/row_count"].value == lake.row_count(name, "2026-01-21") > 0
        assert meta["dagster/table_name"].value == f"lake.{name}"
        assert "dagster/column_schema" in meta and "dagster/uri" in meta
        assert all(c.description for c in meta["dagster/column_schema"].schema.columns), name


def test_gate_promotes_a_good_challenger_and_blocks_a_worse_one(env: tuple[dg.DagsterInstance, dict, Lake]) -> None:
    instance, resources, lake = env
    first = _train(instance, resources, "ranker")
    assert first.success
    assert _gate(first, "ranker").passed
    champion = registry.champion(lake, "ranker")
    challenger_event = instance.get_latest_materialization_event(dg.AssetKey("ranker_challenger"))
    sha = challenger_event.asset_materialization.metadata["sha256"].value  # type: ignore[union-attr]
    assert champion is not None and champion["sha256"] == sha
    assert champion["metrics"]["challenger"]["ndcg_at_10"] > champion["metrics"]["popularity"]["ndcg_at_10"]
    assert "oracle" in champion["metrics"]  # the sandbox is the source: its hidden tastes are the ceiling
    assert champion["code_version"] == training.CODE_VERSION["ranker"] and champion["training_range"]["cutoffs"]

    recs = dg.materialize(ASSETS, selection=["recommendations"], partition_key="2026-01-21", instance=instance,
                          resources=resources, run_config={"ops": {"recommendations": {"config": {"top_n": 5}}}})
    assert recs.success
    table = lake.read("recommendations", "2026-01-21")
    assert set(table["model_sha256"].to_pylist()) == {sha}
    assert max(table["rank"].to_pylist()) == 5
    played = F.played(lake.scan("pseudonymous_events"), dt.date(2026, 1, 22))
    pairs = set(zip(played["user_key"].to_pylist(), played["track_id"].to_pylist(), strict=True))
    assert not pairs & set(zip(table["user_key"].to_pylist(), table["track_id"].to_pylist(), strict=True))
    newcomer = [r for r in table.to_pylist() if r["user_key"] == pseudonym(resources["compliance"].salt, NEWCOMER)]
    assert len(newcomer) == 5 and {r["source"] for r in newcomer} == {"popularity_fallback"}
    model_rows = [r for r in table.to_pylist() if r["source"] == "model"]
    assert model_rows and all(r["why"].count(",") == 2 for r in model_rows)
    recs_before = lake.read_file("recommendations", "part-0.parquet", "2026-01-21")

    # A model that only sees the user's skip rate cannot rank one user's candidates: worse than popularity.
    worse = _train(instance, resources, "ranker", features=["user_skip_rate"], rounds=5)
    assert not worse.success
    gate = _gate(worse, "ranker")
    assert not gate.passed and "does not beat" in (gate.description or "")
    assert registry.champion(lake, "ranker")["sha256"] == sha  # type: ignore[index]
    champion_event = instance.get_latest_materialization_event(dg.AssetKey("ranker_champion"))
    assert champion_event is not None and champion_event.run_id == first.run_id
    assert lake.read_file("recommendations", "part-0.parquet", "2026-01-21") == recs_before

    # The same good training again is within tolerance of the champion (equal): promoted, same content hash.
    again = _train(instance, resources, "ranker")
    assert again.success and _gate(again, "ranker").passed
    retrained = instance.get_latest_materialization_event(dg.AssetKey("ranker_challenger"))
    assert retrained.asset_materialization.metadata["sha256"].value == sha  # type: ignore[union-attr]  # deterministic
    manifest = json.loads(lake.read_file("model_registry/ranker", "manifest.json", partition=sha))
    assert manifest["sha256"] == sha and "champion" in manifest["metrics"]


def test_model_tables_hold_pseudonyms_never_raw_user_ids(env: tuple[dg.DagsterInstance, dict, Lake]) -> None:
    instance, resources, lake = env
    assert dg.materialize(ASSETS, selection=["ranker_challenger", "ranker_evaluation", "ranker_champion"],
                          instance=instance, resources=resources, run_config={"ops": {"ranker_challenger": {
                              "config": {"train_cutoffs": 1, "rounds": 30}}}}).success
    assert dg.materialize(ASSETS, selection=["recommendations"], partition_key="2026-01-21", instance=instance,
                          resources=resources).success
    raw = set(lake.read("listening_events", "2026-01-21")["user_id"].to_pylist())
    keys = {pseudonym(resources["compliance"].salt, u) for u in raw}
    assert NEWCOMER in raw
    for table in ("pseudonymous_events", "user_features", "user_track_features", "recommendations"):
        data = lake.read(table, "2026-01-21")
        assert "user_id" not in data.column_names and "event_id" not in data.column_names, table
        assert set(data["user_key"].to_pylist()) <= keys, table
        text = {v for c in data.columns if c.type == pa.string() for v in c.to_pylist()}
        assert not text & raw, f"{table} holds a raw user id"
    assert set(lake.read("pseudonymous_events", "2026-01-21")["user_key"].to_pylist()) == keys


def test_forecaster_chain_beats_naive_or_is_blocked_and_says_why(env: tuple[dg.DagsterInstance, dict, Lake]) -> None:
    instance, resources, lake = env
    result = _train(instance, resources, "forecaster")
    gate = _gate(result, "forecaster")
    meta = gate.metadata
    assert meta["metric"].value == "mae" and meta["baseline"].value > 0
    assert result.success == gate.passed
    if gate.passed:
        assert registry.champion(lake, "forecaster") is not None


def test_missing_feature_partition_is_named(env: tuple[dg.DagsterInstance, dict, Lake], tmp_path: Path) -> None:
    instance, resources, _ = env
    run_config = {"ops": {"ranker_challenger": {"config": {"train_cutoffs": 2, "rounds": 5}}}}
    result = dg.materialize(ASSETS, selection=["ranker_challenger"], instance=instance, resources=resources,
                            run_config=run_config, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "2025-12-31" in str(failure.event_specific_data.error) or "2025-12-31" in str(  # type: ignore[union-attr]
        failure.event_specific_data)


def test_challengers_retrain_on_a_feature_backfill_and_a_code_change(env: tuple[dg.DagsterInstance, dict, Lake],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    instance, resources, _ = env
    now = dt.datetime(2026, 1, 22, 1, 0, tzinfo=dt.UTC)  # the latest daily partition is 2026-01-21
    targets = dg.AssetSelection.assets("ranker_challenger", "forecaster_challenger")
    challenger = dg.AssetKey("ranker_challenger")

    def tick(assets: list, cursor: object) -> object:
        return dg.evaluate_automation_conditions(dg.Definitions(assets=assets, resources=resources), instance,
                                                 asset_selection=targets, evaluation_time=now,
                                                 cursor=cursor)  # type: ignore[arg-type]

    first = tick(ASSETS, None)
    assert dg.materialize(ASSETS, selection=["track_features"], partition_key="2026-01-21", instance=instance,
                          resources=resources).success
    latest = tick(ASSETS, first.cursor)  # type: ignore[attr-defined]
    assert latest.get_num_requested(challenger) == 0  # today's features: the weekly schedule retrains, not this
    assert dg.materialize(ASSETS, selection=["track_features"], partition_key="2026-01-07", instance=instance,
                          resources=resources).success
    backfill = tick(ASSETS, latest.cursor)  # type: ignore[attr-defined]
    assert backfill.get_num_requested(challenger) == 1
    assert backfill.get_num_requested(dg.AssetKey("forecaster_challenger")) == 1
    quiet = tick(ASSETS, backfill.cursor)  # type: ignore[attr-defined]
    assert quiet.get_num_requested(challenger) == 0

    monkeypatch.setitem(training.CODE_VERSION, "ranker", "ranker-test-v2")
    changed = [a for a in ASSETS if a.key != challenger] + [training.model_assets(RANKER)[0]]
    code = tick(changed, quiet.cursor)  # type: ignore[attr-defined]
    assert code.get_num_requested(challenger) == 1
    assert code.get_num_requested(dg.AssetKey("forecaster_challenger")) == 0
