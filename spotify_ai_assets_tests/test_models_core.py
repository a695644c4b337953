"""The pure model core on a tiny sandbox: time-correct features, candidates, ranker and forecaster, explanations,
determinism, registry and gate."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.privacy import pseudonymize
from spotify_ai_assets.core.models import explain, forecast, ranker, registry, training
from spotify_ai_assets.core.models import features as F
from spotify_ai_assets.sandbox.events import EVENT_SCHEMA
from spotify_ai_assets.sandbox.world import EPOCH, World

from .sandbox_lake import day_events

DAYS = 28
AS_OF = EPOCH + dt.timedelta(days=DAYS)
# The models read events keyed by pseudonym (defs/models/pseudonymous_events.py), never raw ids.
PLAIN = pa.schema([("user_key" if f.name == "user_id" else f.name, f.type) for f in EVENT_SCHEMA])
SALT = "models-test-salt"


@pytest.fixture(scope="module")
def events() -> pa.Table:
    world = World(seed=7, scale="tiny")
    days = pa.concat_tables([day_events(world, EPOCH + dt.timedelta(days=k)) for k in range(DAYS)])
    return pseudonymize(days, SALT).cast(PLAIN)


@pytest.fixture(scope="module")
def features_at(events: pa.Table) -> training.FeaturesAt:
    return lru_cache(maxsize=None)(lambda cutoff: F.build(events, cutoff))


def _planted(user: str, track: str, artist: str, at: dt.datetime) -> pa.Table:
    return pa.Table.from_pylist([{"event_id": "planted", "user_key": user, "track_id": track, "artist_id": artist,
                                  "played_at": at, "ms_played": 200_000, "skipped": False, "country": "US",
                                  "device": "car"}], schema=PLAIN)


def test_a_play_on_or_after_the_cutoff_is_never_seen_by_its_features(events: pa.Table) -> None:
    cutoff = EPOCH + dt.timedelta(days=14)
    user = events["user_key"][0].as_py()
    future = _planted(user, "FUTURETRACK0000000000A", "FUTUREARTIST0000000000", dt.datetime(2026, 1, 15, tzinfo=dt.UTC))
    with_future = pa.concat_tables([events.filter(pc.less(events["played_at"], pa.scalar(
        dt.datetime(2026, 1, 16, tzinfo=dt.UTC), pa.timestamp("ms", tz="UTC")))), future])
    seen = F.build(with_future, cutoff)
    assert "FUTURETRACK0000000000A" not in seen.tracks["track_id"].to_pylist()
    assert "FUTUREARTIST0000000000" not in seen.candidates["artist_id"].to_pylist()
    before = F.build(with_future.filter(pc.not_equal(with_future["event_id"], "planted")), cutoff)
    for name in ("tracks", "users", "candidates"):
        assert getattr(seen, name).equals(getattr(before, name)), name
    # The same play one day later is inside the window: the test could fail.
    later = F.track_features(with_future, cutoff + dt.timedelta(days=1))
    assert "FUTURETRACK0000000000A" in later["track_id"].to_pylist()


def test_training_labels_end_before_the_evaluation_days() -> None:
    train_cutoffs, eval_cutoff = ranker.default_cutoffs(AS_OF)
    assert max(train_cutoffs) + dt.timedelta(days=F.HORIZON_DAYS) <= eval_cutoff
    f_cutoffs, f_eval = forecast.default_cutoffs(AS_OF)
    assert max(f_cutoffs) + dt.timedelta(days=F.HORIZON_DAYS) <= f_eval == eval_cutoff
    assert eval_cutoff + dt.timedelta(days=F.HORIZON_DAYS) == AS_OF


def test_candidates_exclude_tracks_the_user_played(events: pa.Table, features_at: training.FeaturesAt) -> None:
    cutoff = EPOCH + dt.timedelta(days=21)
    cand = features_at(cutoff).candidates
    played = F.played(events, cutoff)
    pairs = set(zip(played["user_key"].to_pylist(), played["track_id"].to_pylist(), strict=True))
    assert cand.num_rows > 1000
    assert not any((u, t) in pairs for u, t in zip(cand["user_key"].to_pylist(), cand["track_id"].to_pylist(),
                                                    strict=True))
    allowed = F.candidates(events, features_at(cutoff).tracks, features_at(cutoff).users, cutoff,
                           exclude_played=False)
    assert any((u, t) in pairs for u, t in zip(allowed["user_key"].to_pylist(), allowed["track_id"].to_pylist(),
                                               strict=True))


def test_tracks_without_audio_get_missing_audio_features(events: pa.Table) -> None:
    cutoff = EPOCH + dt.timedelta(days=14)
    some = events["track_id"][0].as_py()
    audio = pa.table({"track_id": [some], "tempo_bpm": [120.0], "energy_score": [0.5], "danceability": [0.6],
                      "valence": [0.4], "loudness_dbfs": [-12.0]})
    tracks = F.track_features(events, cutoff, audio=audio)
    rows = {r["track_id"]: r for r in tracks.to_pylist()}
    assert rows[some]["has_audio"] and rows[some]["tempo_bpm"] == 120.0
    others = [r for t, r in rows.items() if t != some]
    assert all(not r["has_audio"] and r["tempo_bpm"] is None for r in others)


def test_an_empty_window_is_an_error_not_a_model(events: pa.Table) -> None:
    with pytest.raises(F.FeatureError, match="no plays in listening_events"):
        F.track_features(events, EPOCH - dt.timedelta(days=40))
    with pytest.raises(ranker.TrainingDataError, match="empty training window"):
        ranker.train(pa.table({"label": pa.array([], pa.int32())}))
    with pytest.raises(forecast.TrainingDataError, match="empty or tiny"):
        forecast.train(pa.table({"plays_next_7d": pa.array([], pa.int64())}))


def test_too_few_users_with_positives_is_refused(features_at: training.FeaturesAt, events: pa.Table) -> None:
    cutoff = EPOCH + dt.timedelta(days=14)
    rows = ranker.with_labels(features_at(cutoff).candidates, F.labels(events, cutoff))
    few = rows.filter(pc.is_in(rows["user_key"], pa.array(sorted(set(rows["user_key"].to_pylist()))[:5])))
    with pytest.raises(ranker.TrainingDataError, match="too little data"):
        ranker.train(few)


def test_explanations_sum_to_the_prediction(features_at: training.FeaturesAt, events: pa.Table) -> None:
    trained = training.train_ranker(features_at, events, [EPOCH + dt.timedelta(days=14)], rounds=20)
    cand = features_at(EPOCH + dt.timedelta(days=21)).candidates.slice(0, 300)
    x = ranker.matrix(cand).x
    contrib = explain.contributions(trained.booster, x)
    raw = trained.booster.predict(x, raw_score=True)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, rtol=1e-5, atol=1e-5)
    top = explain.top_features(trained.booster, x[:3], k=3)
    assert all(len(t) == 3 and t[0][0] in F.RANKER_FEATURES for t in top)
    gains = explain.importance(trained.booster)
    assert abs(sum(s for _, _, s in gains) - 1.0) < 1e-3 and gains[0][1] >= gains[-1][1]


def test_same_data_and_seed_give_the_same_model_and_metrics(tmp_path: Path, features_at: training.FeaturesAt,
                                                           events: pa.Table) -> None:
    train_cutoffs, eval_cutoff = ranker.default_cutoffs(AS_OF)
    lake = Lake(str(tmp_path / "lake"))
    refs, metrics = [], []
    for _ in range(2):
        trained = training.train_ranker(features_at, events, train_cutoffs, rounds=30)
        refs.append(registry.save(lake, "ranker", trained.booster, **trained.manifest))
        metrics.append(training.evaluate_ranker({"model": trained.booster}, features_at, events, eval_cutoff))
    assert refs[0].sha256 == refs[1].sha256
    assert metrics[0] == metrics[1]
    loaded = registry.load(lake, "ranker", refs[0].sha256)
    assert registry.model_bytes(loaded) == registry.model_bytes(trained.booster)
    f1 = training.train_forecaster(features_at, events, forecast.default_cutoffs(AS_OF)[0], rounds=30)
    f2 = training.train_forecaster(features_at, events, forecast.default_cutoffs(AS_OF)[0], rounds=30)
    assert registry.model_bytes(f1.booster) == registry.model_bytes(f2.booster)


def test_a_tampered_model_file_is_refused(tmp_path: Path, features_at: training.FeaturesAt,
                                          events: pa.Table) -> None:
    lake = Lake(str(tmp_path / "lake"))
    trained = training.train_ranker(features_at, events, [EPOCH + dt.timedelta(days=14)], rounds=5)
    ref = registry.save(lake, "ranker", trained.booster, code_version="test")
    lake.write_file("model_registry/ranker", "model.txt", b"tree\n", partition=ref.sha256)
    with pytest.raises(registry.RegistryError, match="content hash"):
        registry.load(lake, "ranker", ref.sha256)


def test_gate_needs_the_baseline_beaten_and_the_champion_kept() -> None:
    assert registry.gate("ranker", 0.30, 0.15, None).passed
    assert not registry.gate("ranker", 0.14, 0.15, None).passed
    assert registry.gate("ranker", 0.295, 0.15, 0.30).passed          # within 2% of the champion
    assert not registry.gate("ranker", 0.25, 0.15, 0.30).passed       # beats the baseline, loses to the champion
    assert registry.gate("forecaster", 7.0, 9.0, 7.1).passed
    assert not registry.gate("forecaster", 9.5, 9.0, None).passed


def test_ranker_beats_popularity_and_forecaster_is_scored(features_at: training.FeaturesAt,
                                                          events: pa.Table) -> None:
    train_cutoffs, eval_cutoff = ranker.default_cutoffs(AS_OF)
    trained = training.train_ranker(features_at, events, train_cutoffs, rounds=50)
    m = training.evaluate_ranker({"model": trained.booster}, features_at, events, eval_cutoff)
    assert m["model"]["users"] == m["popularity"]["users"] > 100
    assert m["model"]["ndcg_at_10"] > m["popularity"]["ndcg_at_10"]
    fc = training.train_forecaster(features_at, events, forecast.default_cutoffs(AS_OF)[0], rounds=50)
    fm = training.evaluate_forecaster({"model": fc.booster}, features_at, events, eval_cutoff)
    assert fm["model"]["tracks"] == fm["naive"]["tracks"] > 100 and fm["model"]["mae"] > 0


def test_core_needs_no_dagster_and_definitions_load_no_lightgbm() -> None:
    import subprocess
    import sys

    code = ("import sys\n"
            "import spotify_ai_assets.core.models.training, spotify_ai_assets.core.models.explain\n"
            "import spotify_ai_assets.core.models.oracle\n"
            "print('dagster' in sys.modules)\n"
            "import spotify_ai_assets.defs.models.training, spotify_ai_assets.defs.models.serving\n"
            "print('lightgbm' in sys.modules, 'matplotlib' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]


def test_user_features_carry_the_whole_genre_mix(events: pa.Table) -> None:
    world = World(seed=7, scale="tiny")
    cutoff = EPOCH + dt.timedelta(days=14)
    catalog = pa.table({"track_id": world.track_ids,
                        "genre": [f"g{int(world.track_genre[i])}" for i in range(len(world.track_ids))]})
    users = F.user_features(events, F.track_features(events, cutoff, catalog=catalog), cutoff)
    window = events.filter(pc.less(events["played_at"], pa.scalar(
        dt.datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=dt.UTC), events.schema.field("played_at").type)))
    some = users.to_pylist()[0]
    mine = window.filter(pc.equal(window["user_key"], some["user_key"]))
    plays = [f"g{int(world.track_genre[world.track_ids.index(t)])}" for t in mine["track_id"].to_pylist()]
    mix = dict(some["genre_mix"])
    assert mix == pytest.approx({g: plays.count(g) / len(plays) for g in set(plays)})
    assert some["top_genre"] == max(sorted(mix), key=lambda g: mix[g])
    assert some["top_genre_share"] == pytest.approx(max(mix.values()))
