"""Contract of the audio features table: its key, required columns and value bounds."""

from __future__ import annotations

from spotify_ai_assets.core.quality.table_contract import TableContract

AUDIO_FEATURES = TableContract(
    "audio_features_all", ("track_id",), ("track_id", "content_sha256", "duration_s", "sample_rate"),
    {"duration_s": (0, 4 * 3600), "tempo_bpm": (20, 320), "tempo_confidence": (0, 1), "key": (0, 11),
     "key_confidence": (0, 1), "danceability": (0, 1), "energy_score": (0, 1), "valence": (0, 1)},
    min_ratio=0.5, max_ratio=1000.0,
)
