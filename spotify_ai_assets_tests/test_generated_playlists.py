"""Generated playlist descriptions: genres, tempo and mood from the data, in three languages, nothing guessed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.analytics.generated_playlists import TRACKS_SCHEMA, describe, playlist_facts
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.defs.analytics.generated_playlists import generated_playlists
from spotify_ai_assets.lib.resources.lake import LakeResource

DAY = dt.date(2026, 2, 14)


def test_descriptions_say_only_what_the_data_knows() -> None:
    tracks = pa.Table.from_pylist([
        {"genre": "pop", "tempo_bpm": 118.0, "valence": 0.7, "energy_score": 0.8},
        {"genre": "pop", "tempo_bpm": 124.0, "valence": 0.6, "energy_score": 0.7},
        {"genre": "indie", "tempo_bpm": 90.0, "valence": 0.65, "energy_score": 0.6},
        {"genre": None, "tempo_bpm": None, "valence": None, "energy_score": None},
    ], schema=TRACKS_SCHEMA)
    facts = playlist_facts(tracks)
    assert facts == {"tracks": 4, "genres": ["pop", "indie"], "median_bpm": 118, "mood": "upbeat"}
    assert describe("Rising this week", facts) == (
        "Rising this week: 4 tracks, mostly pop and indie, around 118 BPM, upbeat.")
    assert describe("En pleine ascension", facts, "fr") == (
        "En pleine ascension: 4 titres, surtout pop et indie, autour de 118 BPM, entraînant.")
    assert describe("Im Aufwind", facts, "de") == (
        "Im Aufwind: 4 Titel, vor allem pop und indie, um die 118 BPM, mitreißend.")
    unknown = playlist_facts(tracks.slice(3, 1))
    assert describe("Rising this week", unknown) == "Rising this week: 1 track."


def test_the_asset_builds_the_rising_playlist_from_trends_catalog_and_audio(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    ids = ["t1", "t2", "t3", "t4"]
    lake.write("track_trends", pa.table({
        "date": [DAY] * 4, "entity_id": ids, "plays": [90, 80, 70, 60], "expected": [5.0, 5.0, 5.0, 60.0],
        "z": [30.0, 40.0, 20.0, -8.0], "ratio": [15.0, 13.0, 11.0, 0.3], "history_days": [28] * 4,
        "trend": ["rising", "rising", "rising", "falling"]}), DAY.isoformat())
    lake.write("spotify_tracks", pa.table({"track_id": ids, "genre": ["rock", "rock", "jazz", "pop"]}), DAY.isoformat())
    lake.write("audio_features_all", pa.table({"track_id": ["t1", "t2"], "tempo_bpm": [100.0, 140.0],
                                               "valence": [0.3, 0.2], "energy_score": [0.3, 0.4]}))
    result = dg.materialize([generated_playlists], partition_key=DAY.isoformat(),
                            resources={"lake": LakeResource(root=str(tmp_path / "lake"))})
    assert result.success
    rows = {r["language"]: r for r in lake.read("generated_playlists", DAY.isoformat()).to_pylist()}
    assert set(rows) == {"en", "fr", "de"}
    assert rows["en"]["track_ids"] == ["t2", "t1", "t3"]  # strongest rise first; the falling track left out
    assert rows["en"]["description"] == "Rising this week: 3 tracks, mostly rock and jazz, around 120 BPM, mellow."
    assert json.loads(rows["de"]["facts"])["median_bpm"] == 120  # median of the two known tempos
