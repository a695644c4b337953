"""The audio landing folder and its sensor: new, unchanged, touched, changed, broken and badly named files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from spotify_ai_assets.core.audio.landing import LandingRefused, file_for, name_problem, plan, problems
from spotify_ai_assets.defs.audio.landing_sensor import audio_landing_sensor
from spotify_ai_assets.lib.partitions import audio_tracks
from spotify_ai_assets.lib.resources.audio_landing import (
    AudioLandingResource,
    LiveAudioLandingResource,
    SandboxAudioLandingResource,
)
from spotify_ai_assets.lib.resources.ground_truth import SandboxGroundTruthResource
from spotify_ai_assets.lib.resources.sandbox_world import SandboxWorldResource

TRACK_A = "4uLU6hMCjMI75M1A2tKUQC"
TRACK_B = "0OdUWJ0sBjDrqHygGUXeCF"


def test_names_must_be_a_track_id_with_an_audio_suffix() -> None:
    assert name_problem(f"{TRACK_A}.flac") is None
    assert name_problem(f"{TRACK_A}.MP3") is None
    assert "not one of" in (name_problem(f"{TRACK_A}.txt") or "")
    assert "not a 22-character base62 Spotify track id" in (name_problem("my song.wav") or "")
    assert "not a 22-character base62" in (name_problem("../" + TRACK_A[:-1] + ".wav") or "")


def test_plan_decides_by_content(tmp_path: Path) -> None:
    a = tmp_path / f"{TRACK_A}.wav"
    a.write_bytes(b"version one")
    (tmp_path / ".partial-upload.wav").write_bytes(b"not yet")
    (tmp_path / "cover.jpg").write_bytes(b"jpeg")

    first = plan(tmp_path, {})
    assert [(d.track_id, d.name) for d in first.new] == [(TRACK_A, a.name)]
    assert set(first.rejected) == {"cover.jpg"}
    assert plan(tmp_path, first.cursor).new == []

    # Touched, same bytes: nothing to do, but the cursor learns the new mtime.
    os.utime(a, ns=(1_000_000_000, 1_000_000_000))
    touched = plan(tmp_path, first.cursor)
    assert touched.new == []
    assert touched.cursor[a.name][1] == 1_000_000_000

    a.write_bytes(b"version two")
    changed = plan(tmp_path, touched.cursor)
    assert [d.track_id for d in changed.new] == [TRACK_A]
    assert changed.new[0].run_key != first.new[0].run_key


def test_file_for_finds_any_suffix_and_refuses_bad_ids(tmp_path: Path) -> None:
    assert file_for(tmp_path, TRACK_A) is None
    (tmp_path / f"{TRACK_A}.ogg").write_bytes(b"x")
    assert file_for(tmp_path, TRACK_A) == tmp_path / f"{TRACK_A}.ogg"
    with pytest.raises(ValueError, match="not a 22-character"):
        file_for(tmp_path, "../../etc/passwd")


def test_symlinks_out_of_the_folder_are_refused_and_never_read(tmp_path: Path) -> None:
    landing_dir = tmp_path / "landing"
    landing_dir.mkdir()
    secret = tmp_path / "outside.wav"
    secret.write_bytes(b"RIFF a file the pipeline must not read")
    inside = landing_dir / "store" / "master.wav"
    inside.parent.mkdir()
    inside.write_bytes(b"RIFF an upload kept in a subfolder of the landing zone")
    (landing_dir / f"{TRACK_A}.wav").symlink_to(secret)  # out of the folder: refused
    (landing_dir / f"{TRACK_B}.wav").symlink_to(inside)  # inside the folder: followed
    dangling = "7ouMYWpwJ422jRcDASZB7P"
    (landing_dir / f"{dangling}.flac").symlink_to(tmp_path / "gone.flac")

    result = plan(landing_dir, {})
    assert [d.track_id for d in result.new] == [TRACK_B]
    assert "points outside the landing folder" in result.rejected[f"{TRACK_A}.wav"]
    assert "points to nothing" in result.rejected[f"{dangling}.flac"]
    assert set(problems(landing_dir)) == {f"{TRACK_A}.wav", f"{dangling}.flac"}
    with pytest.raises(LandingRefused, match="outside the landing folder"):
        file_for(landing_dir, TRACK_A)
    assert file_for(landing_dir, TRACK_B) == landing_dir / f"{TRACK_B}.wav"


def _tick(instance: dg.DagsterInstance, landing: AudioLandingResource, cursor: str | None) -> dg.SensorResult:
    # A context manager: the sandbox's resource nests the world resource, which Dagster sets up in a scope.
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"audio_landing": landing}) as context:
        result = audio_landing_sensor(context)
    assert isinstance(result, dg.SensorResult)
    # The daemon would apply these; calling the sensor function directly does not.
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys or []))
    return result


def test_sensor_runs_each_file_version_once(tmp_path: Path) -> None:
    landing = LiveAudioLandingResource(root=str(tmp_path))
    with dg.instance_for_test() as instance:
        (tmp_path / f"{TRACK_A}.wav").write_bytes(b"good audio, as far as the sensor cares")
        (tmp_path / f"{TRACK_B}.flac").write_bytes(b"")  # broken: analysed (and quarantined) once
        (tmp_path / "notes.txt").write_text("not audio")

        first = _tick(instance, landing, None)
        assert sorted(r.partition_key for r in first.run_requests) == sorted([TRACK_A, TRACK_B])
        assert {r.tags["spotify_ai/trigger"] for r in first.run_requests} == {"audio_landing"}
        assert [list(r.partition_keys) for r in first.dynamic_partitions_requests] == [sorted([TRACK_A, TRACK_B])]
        assert sorted(instance.get_dynamic_partitions(audio_tracks.name)) == sorted([TRACK_A, TRACK_B])
        assert json.loads(first.cursor)["rejected"] == ["notes.txt"]

        again = _tick(instance, landing, first.cursor)
        assert again.run_requests == [] and again.dynamic_partitions_requests == []

        # A symlink to a file outside the folder asks for no run: it is rejected with its reason.
        outside = tmp_path.parent / f"{tmp_path.name}-outside.wav"
        outside.write_bytes(b"someone else's file")
        (tmp_path / "3n3Ppam7vgaVa1iaRUc9Lp.wav").symlink_to(outside)
        linked = _tick(instance, landing, again.cursor)
        assert linked.run_requests == []
        assert "3n3Ppam7vgaVa1iaRUc9Lp.wav" in json.loads(linked.cursor)["rejected"]
        (tmp_path / "3n3Ppam7vgaVa1iaRUc9Lp.wav").unlink()

        (tmp_path / f"{TRACK_A}.wav").write_bytes(b"a re-delivered master")
        changed = _tick(instance, landing, again.cursor)
        assert [r.partition_key for r in changed.run_requests] == [TRACK_A]
        # The partition exists already: only a run, no new partition.
        assert changed.dynamic_partitions_requests == []
        run_keys = {r.run_key for r in first.run_requests} | {r.run_key for r in changed.run_requests}
        assert len(run_keys) == 3


def test_the_sandbox_delivers_the_days_clips_once(tmp_path: Path) -> None:
    landing = SandboxAudioLandingResource(root=str(tmp_path), world=SandboxWorldResource(seed=7, scale="tiny"),
                                          per_day=3)
    with dg.instance_for_test() as instance:
        first = _tick(instance, landing, None)
        delivered = sorted(p.name for p in tmp_path.iterdir())
        assert len(delivered) == 3 and {Path(n).suffix for n in delivered} == {".wav", ".flac", ".ogg"}
        assert sorted(r.partition_key for r in first.run_requests) == sorted(Path(n).stem for n in delivered)
        truth = SandboxGroundTruthResource(world=landing.world).audio([Path(n).stem for n in delivered])
        assert truth is not None and set(truth) == {Path(n).stem for n in delivered}
        # The next tick of the same day writes nothing new and asks for nothing.
        assert _tick(instance, landing, first.cursor).run_requests == []
        assert sorted(p.name for p in tmp_path.iterdir()) == delivered
