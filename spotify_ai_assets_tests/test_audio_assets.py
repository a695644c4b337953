"""The audio assets end to end on sandbox clips: a batch run per partition range, quarantine, accuracy check."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.defs.audio.features import audio_accuracy, audio_features, audio_features_all
from spotify_ai_assets.lib.partitions import audio_tracks
from spotify_ai_assets.lib.resources.audio_landing import SandboxAudioLandingResource
from spotify_ai_assets.lib.resources.ground_truth import SandboxGroundTruthResource
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.sandbox_world import SandboxWorldResource
from spotify_ai_assets.sandbox import audio
from spotify_ai_assets.sandbox.world import World


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=7, scale="tiny")


def test_a_batch_analyses_good_files_and_quarantines_a_broken_one(world: World, tmp_path: Path) -> None:
    landing = tmp_path / "audio"
    good = {world.track_ids[i]: audio.write_clip(world, i, landing, fmt=fmt) for i, fmt in ((0, "wav"), (5, "flac"))}
    broken_id = world.track_ids[9]
    (landing / f"{broken_id}.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    (landing / "liner notes.txt").write_text("not audio")
    keys = [*good, broken_id]
    sandbox = SandboxWorldResource(seed=7, scale="tiny")
    resources = {"lake": LakeResource(root=str(tmp_path / "lake")),
                 "audio_landing": SandboxAudioLandingResource(root=str(landing), world=sandbox),
                 "ground_truth": SandboxGroundTruthResource(world=sandbox)}

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(audio_tracks.name, keys)
        job = dg.Definitions(assets=[audio_features], resources=resources).resolve_implicit_global_asset_job_def()
        # One run over the whole range, as the backfill policy batches it.
        run = job.execute_in_process(instance=instance, tags={
            "dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]})
        assert run.success
        meta = run.asset_materializations_for_node("audio_features")[0].metadata
        assert (meta["tracks"].value, meta["analysed"].value, meta["quarantined"].value) == (3, 2, 1)
        assert meta["dagster/row_count"].value == 2
        assert meta["dagster/uri"].value == f"file://{tmp_path / 'lake' / 'audio_features'}/"
        columns = meta["dagster/column_schema"].schema.columns
        assert all(c.description for c in columns)  # from the feature table in core/audio/features.py
        assert next(c for c in columns if c.name == "loudness_lufs").description.startswith("integrated loudness")

        combined = dg.materialize([audio_features_all, audio_accuracy], resources=resources, instance=instance)
        assert combined.success

    lake = Lake(str(tmp_path / "lake"))
    table = lake.read("audio_features_all")
    assert sorted(table["track_id"].to_pylist()) == sorted(good)
    quarantine = lake.read("quarantine/audio_features_all").to_pylist()
    assert {q["record_ref"] for q in quarantine} == {str(landing / f"{broken_id}.wav"), "liner notes.txt"}
    assert (landing / f"{broken_id}.wav").exists()  # the original is kept

    checks = {c.check_name: c for c in combined.get_asset_check_evaluations()}
    assert checks["contract"].passed
    assert not checks["quarantine"].passed
    assert checks["quarantine"].metadata["quarantined"].value == 2
    # The broken file's track has a truth but no row: it counts as a miss, so the check fails below its target.
    accuracy = checks["audio_accuracy"]
    assert accuracy.metadata["evaluated"].value == 3
    assert accuracy.metadata["tempo_correct_pct"].value == round(100 * 2 / 3, 1)
    assert accuracy.metadata["key_correct_pct"].value == round(100 * 2 / 3, 1)
    assert not accuracy.passed
    assert broken_id in [m["track_id"] for m in accuracy.metadata["misses"].value]


def test_re_materializing_a_track_replaces_its_row(world: World, tmp_path: Path) -> None:
    landing = tmp_path / "audio"
    track = world.track_ids[3]
    audio.write_clip(world, 3, landing, fmt="ogg")
    resources = {"lake": LakeResource(root=str(tmp_path / "lake")),
                 "audio_landing": SandboxAudioLandingResource(root=str(landing),
                                                               world=SandboxWorldResource(seed=7, scale="tiny"))}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(audio_tracks.name, [track])
        for _ in range(2):
            assert dg.materialize([audio_features], partition_key=track, resources=resources,
                                  instance=instance).success
    lake = Lake(str(tmp_path / "lake"))
    assert lake.row_count("audio_features", track) == 1
    assert lake.row_count("quarantine/audio_features", track) == 0


def test_a_symlink_out_of_the_landing_folder_is_quarantined_not_read(world: World, tmp_path: Path) -> None:
    landing = tmp_path / "audio"
    outside = audio.write_clip(world, 4, tmp_path / "elsewhere", fmt="wav", seconds=4.0)
    track = world.track_ids[4]
    landing.mkdir()
    (landing / f"{track}.wav").symlink_to(outside)
    resources = {"lake": LakeResource(root=str(tmp_path / "lake")),
                 "audio_landing": SandboxAudioLandingResource(root=str(landing),
                                                              world=SandboxWorldResource(seed=7, scale="tiny"))}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(audio_tracks.name, [track])  # as if added by hand: the sensor refuses it
        run = dg.materialize([audio_features], partition_key=track, resources=resources, instance=instance)
        assert run.success
    lake = Lake(str(tmp_path / "lake"))
    assert lake.row_count("audio_features", track) == 0
    (row,) = lake.read("quarantine/audio_features", partition=track).to_pylist()
    assert row["field"] == "<file>" and "points outside the landing folder" in row["reason"]
